"""``fit_gan``: one adversarial training loop for pix2pix (week 7) and the cGAN (week 8).

The generator maps the input ``x`` (L or Y) to a prediction of ``y`` (ab or UV);
the discriminator scores a pair ``D(x, y)`` with logits (one per image or one
per patch).  Each batch: ``d_steps`` discriminator updates on (real, fake) pairs,
then ``g_steps`` generator updates on the adversarial loss plus
``recon_weight`` times a reconstruction loss (L1 for pix2pix).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import checkpoint as ckpt
from ..runtime import device as pick_device
from ..runtime import seed_everything
from .common import (
    History,
    batch_size,
    check_finite,
    choose_precision,
    loader_generator,
    model_config,
    prepare_checkpoint,
    save_state,
    show_progress,
    to_device,
    unwrap,
)
from .supervised import Metric, evaluate


def gan_loss(logits: torch.Tensor, real: bool, kind: str = "bce",
             smoothing: float = 0.0) -> torch.Tensor:
    """Adversarial loss of discriminator ``logits`` against the label real/fake.

    ``kind="bce"``: binary cross-entropy with logits (the original GAN);
    ``kind="lsgan"``: least squares on the raw outputs.  ``smoothing`` (one-sided
    label smoothing) lowers the *real* target to ``1 - smoothing``.
    """
    target = (1.0 - smoothing) if real else 0.0
    target = torch.full_like(logits, target)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"gan loss kind must be 'bce' or 'lsgan', got {kind!r}")


def fit_gan(generator: nn.Module, discriminator: nn.Module, train_loader: Iterable,
            val_loader: Iterable | None = None, *, epochs: int = 10,
            g_optimizer: torch.optim.Optimizer | None = None,
            d_optimizer: torch.optim.Optimizer | None = None,
            lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
            loss: str = "bce", recon_loss: Callable = F.l1_loss, recon_weight: float = 100.0,
            d_steps: int = 1, g_steps: int = 1, label_smoothing: float = 0.0,
            pretrain_epochs: int = 0, metrics: Mapping[str, Metric] | None = None,
            device: torch.device | str | None = None, amp: bool | str = "auto",
            channels_last: bool | str = "auto", grad_clip: float | None = None,
            checkpoint: str | Path | None = None, resume: bool = False,
            seed: int | None = None, sample_batch: tuple | None = None,
            samples_dir: str | Path | None = None, progress: bool | None = None,
            verbose: bool = True,
            on_epoch_end: Callable[[int, dict], None] | None = None) -> History:
    """Adversarial training; returns a :class:`History` with both losses per epoch.

    Args:
        generator: ``G(x) -> y_fake``.  discriminator: ``D(x, y) -> logits``.
        g_optimizer / d_optimizer: default Adam(lr, betas) each (pix2pix: 2e-4, (0.5, 0.999)).
        loss: ``"bce"`` or ``"lsgan"``.
        recon_loss / recon_weight: the extra generator term (pix2pix: L1 x 100; 0 disables).
        d_steps / g_steps: updates of each network per batch (the ratio).
        label_smoothing: one-sided: real labels become ``1 - label_smoothing``.
        pretrain_epochs: the first epochs train the generator on ``recon_loss`` only.
        metrics: computed on ``val_loader`` with the generator, like :func:`fit`.
        sample_batch: a fixed ``(x, y)`` batch; with ``samples_dir`` a grid
            (gray / generated / truth) is saved there after every epoch.
        checkpoint / resume / seed / amp / channels_last / grad_clip: as in :func:`fit`;
            the two networks get separate grad scalers.

    Raises:
        FloatingPointError: a loss became NaN or infinite (message gives epoch and step).
    """
    progress = show_progress(progress)
    if d_steps < 1 or g_steps < 1:
        raise ValueError(f"d_steps and g_steps must be >= 1, got {d_steps} and {g_steps}")
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    dev = torch.device(device) if device is not None else pick_device(verbose=False)
    precision = choose_precision(dev, amp, channels_last)
    for net in (generator, discriminator):
        net.to(dev)
        if precision.channels_last:
            net.to(memory_format=torch.channels_last)
    g_params = [p for p in generator.parameters() if p.requires_grad]
    d_params = [p for p in discriminator.parameters() if p.requires_grad]
    g_opt = g_optimizer or torch.optim.Adam(g_params, lr=lr, betas=betas)
    d_opt = d_optimizer or torch.optim.Adam(d_params, lr=lr, betas=betas)
    g_scaler, d_scaler = precision.scaler(), precision.scaler()
    history = History()
    start = 0
    path = prepare_checkpoint(checkpoint, resume)
    shuffler = loader_generator(train_loader)

    if path is not None and resume and path.exists():
        state = ckpt.load(path, map_location=dev)
        ckpt.load_weights(unwrap(generator), state["generator"])
        ckpt.load_weights(unwrap(discriminator), state["discriminator"])
        g_opt.load_state_dict(state["g_optimizer"])
        d_opt.load_state_dict(state["d_optimizer"])
        g_scaler.load_state_dict(state["g_scaler"])
        d_scaler.load_state_dict(state["d_scaler"])
        history = History(list(state["history"]))
        start = int(state["epoch"])
        ckpt.set_rng_state(state["rng"])
        if shuffler is not None and state.get("shuffler") is not None:
            shuffler.set_state(state["shuffler"])
        if verbose:
            print(f"resumed from {path}: {start} epochs done")
    elif seed is not None:
        seed_everything(seed)

    def step(opt, scaler, value, params):
        opt.zero_grad(set_to_none=True)
        scaler.scale(value).backward()
        if grad_clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        scaler.step(opt)
        scaler.update()

    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        pretraining = epoch <= pretrain_epochs
        generator.train()
        discriminator.train()
        sums = {"d_loss": 0.0, "g_loss": 0.0, "recon": 0.0, "d_real": 0.0, "d_fake": 0.0}
        count = 0
        bar = tqdm(train_loader, desc=f"{'pretrain' if pretraining else 'gan'} {epoch}/{epochs}",
                   leave=False, disable=not progress)
        for i, batch in enumerate(bar, 1):
            x, y = to_device(batch, precision)
            n = batch_size(batch)
            if not pretraining:
                for _ in range(d_steps):
                    with precision.autocast():
                        fake = generator(x).detach()
                        real_logits = discriminator(x, y).float()
                        fake_logits = discriminator(x, fake).float()
                    d_loss = 0.5 * (gan_loss(real_logits, True, loss, label_smoothing)
                                    + gan_loss(fake_logits, False, loss))
                    check_finite(d_loss, "the discriminator loss", epoch, i)
                    step(d_opt, d_scaler, d_loss, d_params)
                sums["d_loss"] += float(d_loss.detach()) * n
                sums["d_real"] += float(torch.sigmoid(real_logits.detach()).mean()) * n
                sums["d_fake"] += float(torch.sigmoid(fake_logits.detach()).mean()) * n
            for _ in range(g_steps):
                with precision.autocast():
                    fake = generator(x)
                    adv = (torch.zeros((), device=dev) if pretraining
                           else gan_loss(discriminator(x, fake).float(), True, loss))
                recon = recon_loss(fake.float(), y)
                weight = recon_weight or (1.0 if pretraining else 0.0)
                g_total = weight * recon + adv
                check_finite(g_total, "the generator loss", epoch, i)
                step(g_opt, g_scaler, g_total, g_params)
            sums["g_loss"] += float(adv.detach()) * n
            sums["recon"] += float(recon.detach()) * n
            count += n
            bar.set_postfix(d=f"{sums['d_loss'] / count:.3f}", g=f"{sums['g_loss'] / count:.3f}",
                            recon=f"{sums['recon'] / count:.3g}")
        if count == 0:
            raise ValueError("the training loader yielded no batches; is the dataset empty?")
        record = {"epoch": epoch, "phase": 0.0 if pretraining else 1.0,
                  **{k: v / count for k, v in sums.items()}}
        if val_loader is not None:
            scores = evaluate(generator, val_loader, recon_loss, metrics, precision=precision)
            record.update({f"val_{k}" if k == "loss" else k: v for k, v in scores.items()})
        record["seconds"] = time.perf_counter() - t0
        history.records.append(record)
        if verbose:
            print(f"epoch {epoch:3d} {'pretrain' if pretraining else 'gan':8s} "
                  + " ".join(f"{k} {v:.4g}" for k, v in record.items()
                             if k not in ("epoch", "phase", "seconds"))
                  + f" ({record['seconds']:.1f} s)")
        if sample_batch is not None and samples_dir is not None:
            save_samples(generator, sample_batch, Path(samples_dir) / f"epoch_{epoch:03d}.png",
                         title=f"epoch {epoch}")
        if path is not None:
            save_state(path, {
                "format": "colorlib-gan-1",
                "config": model_config(unwrap(generator)),
                "model": unwrap(generator).state_dict(),
                "generator": unwrap(generator).state_dict(),
                "discriminator": unwrap(discriminator).state_dict(),
                "discriminator_config": model_config(unwrap(discriminator)),
                "g_optimizer": g_opt.state_dict(), "d_optimizer": d_opt.state_dict(),
                "g_scaler": g_scaler.state_dict(), "d_scaler": d_scaler.state_dict(),
                "epoch": epoch, "history": history.records,
                "shuffler": shuffler.get_state() if shuffler is not None else None,
            })
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    generator.eval()
    discriminator.eval()
    return history


def save_samples(generator: nn.Module, batch: tuple, path: Path, title: str = "") -> Path:
    """Save a gray / generated / truth grid of a fixed ``(x, y)`` batch to ``path``."""
    import matplotlib.pyplot as plt

    from .. import color, viz

    x, y = batch
    space = getattr(unwrap(generator), "space", "lab")
    was_training = generator.training
    generator.eval()
    dev = next(generator.parameters()).device
    with torch.no_grad():
        fake = generator(x.to(dev)).float().cpu()
    generator.train(was_training)
    x = x.cpu()
    rows = {"input": color.merge(x, torch.zeros_like(y.cpu()), space),
            "generated": color.merge(x, fake, space), "truth": color.merge(x, y.cpu(), space)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = viz.show_images(rows, max_images=6, title=title)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
