"""Benchmark: one training step of each course GAN, fp32 against faster variants.

Times :class:`colorlib.train.GANStep`, the loop body of :func:`colorlib.train.fit_gan`
(one discriminator update on real and generated pairs, one generator update on the
adversarial loss + 100 x L1), for both GANs of the course at batch 16 and 64 x 64:

* ``pix2pix``: the U-Net (depth 6, so the innermost map is 1 x 1; 64 channels first)
  against the 70 x 70 PatchGAN, Adam, as notebook 07;
* ``cgan``: the report's generator (Y to every layer, noise to the first three)
  against its discriminator, RMSprop, as notebook 08.

Variants, each compared with the plain fp32 step measured in the same run:

* on the CPU: ``fp32`` (the reference) and ``channels-last`` (fp32, NHWC memory);
* on CUDA: ``fp32``, ``channels-last``, ``bf16`` (autocast, where the GPU supports
  it), ``fp16+scaler`` (autocast with a gradient scaler per network, as ``fit_gan``
  uses on GPUs without bf16), and ``bf16+channels-last`` (what ``fit_gan`` picks on
  a recent GPU).

Every variant starts from the same weights and the same batch, runs ``--warmup`` steps
(cuDNN picks its algorithms, the fp16 scaler finds its scale), then ``--repeats``
rounds of ``--steps`` steps; on CUDA the clock stops only after
``torch.cuda.synchronize()``.  The best round's mean time per step is reported.

    python bench/bench_gan.py                       # CPU, 1 thread
    python bench/bench_gan.py --device cuda --steps 20 --repeats 3
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from colorlib import models
from colorlib.train import GANStep
from colorlib.train.common import Precision

MODELS = ("pix2pix", "cgan")


def _variants(device: torch.device) -> list[tuple[str, torch.dtype | None, bool, bool]]:
    """(name, autocast dtype, grad scaler?, channels-last?) for ``device``."""
    out = [("fp32", None, False, False), ("channels-last", None, False, True)]
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            out.append(("bf16", torch.bfloat16, False, False))
        out.append(("fp16+scaler", torch.float16, True, False))
        if torch.cuda.is_bf16_supported():
            out.append(("bf16+channels-last", torch.bfloat16, False, True))
    return out


def _build(name: str, batch: int, size: int, base: int, width: float, seed: int):
    """Generator, discriminator, optimizer factory and one random batch (x, y) of one GAN."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if name == "pix2pix":
        G = models.build("pix2pix_unet", depth=int(math.log2(size)), base=base)
        D = models.build("patchgan", base=base)
        x = 100 * torch.rand(batch, 1, size, size, generator=gen)  # L
        y = 40 * torch.randn(batch, 2, size, size, generator=gen)  # ab

        def optimizer(params):
            return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))
    elif name == "cgan":
        G = models.build("cgan_generator", size=size, width=width)
        D = models.build("cgan_discriminator", size=size, width=width)
        x = torch.rand(batch, 1, size, size, generator=gen)  # Y
        y = 0.1 * torch.randn(batch, 2, size, size, generator=gen)  # UV

        def optimizer(params):
            return torch.optim.RMSprop(params, lr=2e-4, alpha=0.9)
    else:
        raise ValueError(f"unknown GAN {name!r}; choose from {', '.join(MODELS)}")
    return G, D, optimizer, x, y


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(name: str, variant: tuple, device: torch.device, batch: int, size: int,
              base: int, width: float, seed: int = 0):
    """The training step that :func:`time_step` times, ready to call: ``(step, G, D)``.

    ``step()`` runs one :class:`GANStep` (built once, as ``fit_gan`` does) of GAN
    ``name`` in ``variant`` on a fixed batch on ``device``.
    """
    _, dtype, scaled, channels_last = variant
    G, D, optimizer, x, y = _build(name, batch, size, base, width, seed)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    G.to(device, memory_format=memory).train()
    D.to(device, memory_format=memory).train()
    x = x.to(device).contiguous(memory_format=memory)
    y = y.to(device).contiguous(memory_format=memory)
    g_opt, d_opt = optimizer(G.parameters()), optimizer(D.parameters())
    precision = Precision(device, dtype, scaled, channels_last)
    step_fn = GANStep(G, D, g_opt, d_opt, precision, g_scaler=precision.scaler(),
                      d_scaler=precision.scaler(), recon_weight=100.0)

    def step():
        step_fn(x, y)

    return step, G, D


def time_step(name: str, variant: tuple, device: torch.device, batch: int, size: int,
              base: int, width: float, warmup: int, steps: int, repeats: int,
              seed: int = 0) -> float:
    """Best mean seconds per training step of GAN ``name`` in ``variant`` on ``device``."""
    step, _, _ = make_step(name, variant, device, batch, size, base, width, seed)

    for _ in range(warmup):
        step()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def run(device: str = "cpu", batch: int = 16, size: int = 64, steps: int = 3,
        repeats: int = 3, warmup: int | None = None, base: int = 64, width: float = 1.0,
        which: tuple[str, ...] = MODELS, threads: int | None = 1, tf32: bool | None = None,
        seed: int = 0) -> dict:
    """Time every variant of every GAN; returns ``{"rows": [...], ...}``.

    Args:
        device: ``"cpu"`` or ``"cuda"``.
        batch, size: the batch is (batch, 1, size, size) -> (batch, 2, size, size); size a
            power of two (the U-Net's depth is log2(size)) and a multiple of 16 (the cGAN).
        steps, repeats, warmup: timed steps per round, rounds (best kept), untimed steps
            first (default 1 on the CPU, 10 on CUDA).
        base: channels of the first layer of the pix2pix networks (64: the reference).
        width: fraction of the report's channels in the cGAN (1: the report).
        which: the GANs to time.
        threads: torch CPU threads while timing (restored after); None leaves them.
        tf32: CUDA only: allow TF32 in fp32 convolutions and matmuls (None: PyTorch's
            defaults, which allow it for convolutions).

    Returns:
        dict with ``device``, ``threads``, ``tf32`` and ``rows``: one dict per (model,
        variant) with ``model``, ``variant``, ``seconds`` and ``speedup`` (fp32 seconds /
        these seconds, in this run).
    """
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch.cuda.is_available() is False")
    if batch < 1 or steps < 1 or repeats < 1 or size < 16 or size & (size - 1):
        raise ValueError("batch, steps and repeats must be positive and size a power of two "
                         f">= 16, got batch={batch}, steps={steps}, repeats={repeats}, "
                         f"size={size}")
    warmup = (10 if dev.type == "cuda" else 1) if warmup is None else warmup
    previous_threads = torch.get_num_threads()
    previous_tf32 = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    previous_benchmark = torch.backends.cudnn.benchmark
    if threads:
        torch.set_num_threads(threads)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if tf32 is not None:
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    rows = []
    try:
        for name in which:
            reference = None
            for variant in _variants(dev):
                seconds = time_step(name, variant, dev, batch, size, base, width, warmup,
                                    steps, repeats, seed)
                reference = reference or seconds
                rows.append({"model": name, "variant": variant[0], "seconds": seconds,
                             "speedup": reference / seconds})
        used_tf32 = dev.type == "cuda" and torch.backends.cudnn.allow_tf32
    finally:
        torch.set_num_threads(previous_threads)
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous_tf32
        torch.backends.cudnn.benchmark = previous_benchmark
    return {"device": str(dev), "name": _device_name(dev), "threads": threads or previous_threads,
            "batch": batch, "size": size, "steps": steps, "repeats": repeats, "tf32": used_tf32,
            "rows": rows}


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    import platform

    return platform.processor() or platform.machine() or "CPU"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first (default: 1 on the CPU, 10 on CUDA)")
    parser.add_argument("--base", type=int, default=64, help="pix2pix first-layer channels")
    parser.add_argument("--width", type=float, default=1.0, help="cGAN channel fraction")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads while timing (0: torch's default)")
    parser.add_argument("--tf32", choices=["default", "on", "off"], default="default",
                        help="CUDA: TF32 in fp32 convolutions (PyTorch's default: on)")
    args = parser.parse_args(argv)
    which = tuple(m.strip() for m in args.models.split(",") if m.strip())
    tf32 = {"default": None, "on": True, "off": False}[args.tf32]
    r = run(args.device, args.batch, args.size, args.steps, args.repeats, args.warmup,
            args.base, args.width, which, args.threads or None, tf32)
    where = (f"{r['device']} ({r['name']}, TF32 {'on' if r['tf32'] else 'off'})"
             if r["device"].startswith("cuda") else f"cpu ({r['threads']} torch threads)")
    print(f"one GAN training step (D update + G update), batch {r['batch']}, "
          f"{r['size']} x {r['size']}, on {where}, torch {torch.__version__}")
    print(f"  {'model':9s}{'variant':20s}{'ms/step':>10s}{'vs fp32':>9s}")
    for row in r["rows"]:
        print(f"  {row['model']:9s}{row['variant']:20s}{1000 * row['seconds']:10.1f}"
              f"{row['speedup']:8.2f}x")
    print(f"  best of {r['repeats']} round(s) of {r['steps']} step(s); ratios: fp32 time / "
          "variant time, same run")
    return r


if __name__ == "__main__":
    main()
