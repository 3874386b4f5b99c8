"""Benchmark: peak memory and time of one training step, naive vs efficient hypercolumns.

The hypercolumn colorizer of week 5 (:class:`colorlib.models.hypercolumns.HypercolumnColorizer`)
comes in variants that compute exactly the same function:

* ``naive``: upsample the four VGG16 block outputs to the image size and concatenate
  them into the (B, 960, H, W) hypercolumns, then apply the head's 1x1 conv 960 -> 128;
* ``reduce``: apply one 1x1 conv per block *before* upsampling and sum the 128-channel
  results, so the 960-channel map is never built (``efficient=True, tile_rows=None``);
* ``efficient``: the same, and in training the full-resolution layers run in bands of
  ``--tile-rows`` rows that are recomputed in the backward pass instead of being kept
  (``efficient=True``, the model's default ``tile_rows=32``).

For each variant and batch size the script trains for one step (forward, MSE loss on UV,
backward, Adam step) on random inputs of ``--size`` x ``--size`` pixels and reports the
peak memory of that step, per batch and per image, and its wall-clock time.  The targets
of the course: the efficient variant needs at most 1/8 of the naive one's memory per
image, and trains on 32 images in the memory the naive one needs for 2.

How peak memory is measured
---------------------------
(:func:`colorlib.memory.measure_training_step`, which the week-5 notebook uses too.)

* Every configuration runs in a **fresh Python process** (this file, with ``--worker``),
  so memory freed by one configuration cannot be reused by the next.
* In that process the model, the Adam optimizer, the input Y and the target UV are
  built, and one untimed warm-up step runs (it allocates Adam's state and the gradient
  buffers, and lets PyTorch set up its convolution kernels).
* CPU: freed heap memory is handed back to the system (glibc ``malloc_trim``), the
  current resident set size (``VmRSS`` in ``/proc/self/status``) is the *baseline*, the
  kernel's peak-RSS counter is reset to it (writing ``5`` to ``/proc/self/clear_refs``),
  the measured step runs, and its peak is ``VmHWM`` minus the baseline.  So the
  interpreter, torch itself, the frozen VGG16 weights, the input and the optimizer state
  are *not* counted: only what the step allocates on top.  Where ``/proc`` cannot be
  used (macOS) the peak comes from ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the
  whole process's peak, which is the step's, the largest thing the worker does) and the
  baseline from ``psutil``.
* CUDA: the baseline is ``torch.cuda.memory_allocated()`` after the warm-up, the peak
  ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``.
* Step time: the best of ``--steps`` timed steps after the warm-up (on CUDA with
  ``torch.cuda.synchronize()``).  The CPU uses torch's default number of threads unless
  ``--threads`` is given; timings are wall-clock, so other work on the machine inflates
  them (the script prints the load average).

MB are 10**6 bytes.  For reference, the hypercolumns alone are 960 x 224 x 224 float32
values = 192.7 MB per image.  The ``naive`` and ``reduce`` variants are only measured up
to ``--naive-max-batch`` images (default 16; at 224 px they need about 0.42 and 0.15 GB
per image).

    python bench/bench_hypercolumns.py                       # 224 px, batches 2 16 32, CPU
    python bench/bench_hypercolumns.py --device cuda --batches 2 16 32 64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
try:
    from colorlib.memory import MB, measure_training_step
    from colorlib.models.hypercolumns import HypercolumnColorizer
except ImportError:  # run from a checkout where colorlib is not installed
    sys.path.insert(0, str(ROOT))
    from colorlib.memory import MB, measure_training_step
    from colorlib.models.hypercolumns import HypercolumnColorizer

VARIANTS = ("naive", "reduce", "efficient")
RESULT = "RESULT "  # prefix of the worker's answer line


def hypercolumn_mb(size: int, channels: int = 960) -> float:
    """Size of one image's hypercolumns, ``channels x size x size`` float32 values, in MB."""
    return channels * size * size * 4 / MB


# ---------------------------------------------------------------------------
# One configuration (in the current process)
# ---------------------------------------------------------------------------


def build(variant: str, tile_rows: int = 32) -> HypercolumnColorizer:
    """The model of a variant: ``naive``, ``reduce`` (reduce-then-upsample only) or
    ``efficient`` (reduce-then-upsample, and the full-resolution layers recomputed in
    bands of ``tile_rows`` rows)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    if variant == "naive":
        return HypercolumnColorizer(efficient=False)
    return HypercolumnColorizer(efficient=True,
                                tile_rows=tile_rows if variant == "efficient" else None)


def measure(variant: str, batch: int, size: int = 224, device: str = "cpu", steps: int = 2,
            seed: int = 0, threads: int | None = None, tile_rows: int = 32) -> dict:
    """Peak memory and time of one training step of one variant, in *this* process.

    :func:`run` calls it in a fresh process per configuration (see the module's
    docstring for the method); calling it directly is fine for a quick look, but the
    CPU numbers are then less clean (memory freed earlier can be reused).

    Returns:
        dict with ``variant``, ``batch``, ``size``, ``device``, ``peak_mb`` (the step's
        peak above the baseline), ``mb_per_image``, ``step_s`` (best of ``steps``),
        ``baseline_mb`` (memory in use before the step), ``threads`` and ``method``
        (see :func:`colorlib.memory.measure_training_step`).
    """
    dev = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = build(variant, tile_rows)
    row = measure_training_step(model, batch, size, dev, steps=steps, warmup=True, seed=seed)
    row.update(variant=variant, threads=torch.get_num_threads() if dev.type == "cpu" else None)
    return row


def _measure_isolated(variant: str, batch: int, size: int, device: str, steps: int,
                      seed: int, threads: int | None, tile_rows: int = 32) -> dict:
    """:func:`measure` in a fresh Python process running this file with ``--worker``."""
    job = {"variant": variant, "batch": batch, "size": size, "device": device,
           "steps": steps, "seed": seed, "threads": threads, "tile_rows": tile_rows}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                           json.dumps(job)], capture_output=True, text=True, env=env)
    answers = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not answers:
        why = "killed, most likely out of memory" if done.returncode < 0 else "failed"
        raise RuntimeError(
            f"the worker measuring {variant} at batch {batch}, {size} px on {device} {why} "
            f"(exit status {done.returncode}); try smaller --batches or --naive-max-batch.\n"
            f"{done.stderr[-2000:]}")
    return json.loads(answers[-1][len(RESULT):])


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


def run(size: int = 224, batches=(2, 16, 32), device: str = "cpu", naive_max_batch: int = 16,
        steps: int = 2, seed: int = 0, threads: int | None = None, isolate: bool = True,
        variants=VARIANTS, tile_rows: int = 32) -> list[dict]:
    """Measure one training step of each variant at each batch size.

    Args:
        size: height and width of the images, a multiple of 8 (VGG16's block 4 is at 1/8).
        batches: batch sizes; the efficient variant runs them all, the ``naive`` and
            ``reduce`` ones those up to ``naive_max_batch``.
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:1"``, ...).
        steps: timed steps after the warm-up step (the best time is reported).
        seed: seed of the model's initial weights and the random inputs.
        threads: torch CPU threads (None: torch's default).
        isolate: run every configuration in a fresh process (the honest way to measure
            CPU memory); ``False`` measures in this process, faster but less clean.
        variants: which of :data:`VARIANTS` to measure.
        tile_rows: band height of the ``efficient`` variant.

    Returns:
        one dict per configuration (in the order of ``variants``), as :func:`measure`
        returns.
    """
    batches = sorted({int(b) for b in batches})
    if not isinstance(size, int) or size < 8 or size % 8:
        raise ValueError(f"size must be a positive multiple of 8 (pixels), got {size!r}")
    if not batches or batches[0] < 1:
        raise ValueError(f"batch sizes must be positive integers, got {batches}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA GPU; "
                           "use --device cpu")
    one = _measure_isolated if isolate else measure
    rows = []
    for variant in VARIANTS:
        if variant not in variants:
            continue
        for batch in batches:
            if variant != "efficient" and batch > naive_max_batch:
                continue
            rows.append(one(variant, batch, size, device, steps, seed, threads, tile_rows))
    return rows


def compare(rows: list[dict], fast: str = "efficient") -> list[dict]:
    """Naive / ``fast`` ratios at every batch size both variants were measured at.

    Returns:
        one dict per batch size: ``batch``, ``memory_ratio`` (naive MB per image /
        efficient MB per image) and ``time_ratio`` (naive step time / efficient).
    """
    by = {(r["variant"], r["batch"]): r for r in rows}
    out = []
    for batch in sorted({r["batch"] for r in rows}):
        naive, other = by.get(("naive", batch)), by.get((fast, batch))
        if naive and other:
            out.append({"batch": batch,
                        "memory_ratio": naive["mb_per_image"] / other["mb_per_image"],
                        "time_ratio": naive["step_s"] / other["step_s"]})
    return out


def fits(rows: list[dict]) -> dict | None:
    """Does the efficient model at its largest batch need no more than the naive one at its
    smallest (e.g. batch 32 vs batch 2)?  None if either was not measured.

    Returns:
        dict with ``efficient_batch``, ``efficient_mb``, ``naive_batch``, ``naive_mb``,
        ``fits`` (bool) and ``largest_fitting_batch``: how many images the efficient
        variant could train on within the naive variant's peak, from its MB per image at
        the largest batch measured.
    """
    naive = [r for r in rows if r["variant"] == "naive"]
    fast = [r for r in rows if r["variant"] == "efficient"]
    if not naive or not fast:
        return None
    small = min(naive, key=lambda r: r["batch"])
    big = max(fast, key=lambda r: r["batch"])
    return {"efficient_batch": big["batch"], "efficient_mb": big["peak_mb"],
            "naive_batch": small["batch"], "naive_mb": small["peak_mb"],
            "fits": big["peak_mb"] <= small["peak_mb"],
            "largest_fitting_batch": int(small["peak_mb"] // big["mb_per_image"])}


def report(rows: list[dict]) -> str:
    """The table that :func:`main` prints."""
    first = rows[0]
    lines = [f"one training step (forward + backward + Adam) at {first['size']}x{first['size']} "
             f"on {first['device']}"
             + (f", {first['threads']} threads" if first["threads"] else "")
             + f"; memory: {first['method']}",
             f"hypercolumns alone: 960 x {first['size']} x {first['size']} x 4 bytes = "
             f"{hypercolumn_mb(first['size']):.1f} MB per image",
             f"{'variant':10s}{'batch':>6s}{'peak MB':>10s}{'MB/image':>10s}{'step s':>9s}"]
    for r in rows:
        lines.append(f"{r['variant']:10s}{r['batch']:6d}{r['peak_mb']:10.1f}"
                     f"{r['mb_per_image']:10.1f}{r['step_s']:9.2f}")
    for c in compare(rows):
        lines.append(f"batch {c['batch']}: naive / efficient = {c['memory_ratio']:.2f}x memory "
                     f"per image, {c['time_ratio']:.2f}x step time")
    for c in compare(rows, fast="reduce"):
        lines.append(f"batch {c['batch']}: naive / reduce = {c['memory_ratio']:.2f}x memory "
                     f"per image, {c['time_ratio']:.2f}x step time")
    f = fits(rows)
    if f:
        verdict = "fits" if f["fits"] else "does NOT fit"
        lines.append(f"efficient at batch {f['efficient_batch']} ({f['efficient_mb']:.0f} MB) "
                     f"{verdict} in the naive peak at batch {f['naive_batch']} "
                     f"({f['naive_mb']:.0f} MB); that budget holds about "
                     f"{f['largest_fitting_batch']} efficient images")
    if hasattr(os, "getloadavg"):
        lines.append("load average (1, 5, 15 min): "
                     + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="image side, a multiple of 8")
    parser.add_argument("--batches", type=int, nargs="+", default=[2, 16, 32])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--naive-max-batch", type=int, default=16,
                        help="largest batch the naive and reduce variants are run at")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--tile-rows", type=int, default=32,
                        help="band height of the efficient variant")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after the warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--in-process", action="store_true",
                        help="measure in this process instead of one fresh process each")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # a child process started by run(): measure one configuration
        row = measure(**json.loads(args.worker))
        print(RESULT + json.dumps(row), flush=True)
        return [row]
    rows = run(args.size, args.batches, args.device, args.naive_max_batch, args.steps,
               args.seed, args.threads or None, isolate=not args.in_process,
               variants=args.variants, tile_rows=args.tile_rows)
    print(report(rows))
    return rows


if __name__ == "__main__":
    main()
