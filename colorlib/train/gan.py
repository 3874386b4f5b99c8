"""``fit_gan``: one adversarial training loop for pix2pix (week 7) and the cGAN (week 8).

The generator maps the input ``x`` (L or Y) to a prediction of ``y`` (ab or UV);
the discriminator scores a pair ``D(x, y)`` with logits (one per image or one
per patch).  Each batch (:func:`gan_step`): ``d_steps`` discriminator updates on
(real, fake) pairs, then ``g_steps`` generator updates on the adversarial loss
plus ``recon_weight`` times a reconstruction loss (L1 for pix2pix).

As in the reference pix2pix code, the generator runs once per batch: its output
is shown (detached) to the discriminator, and the same output, still attached
to the generator's graph, is then judged by the *updated* discriminator for the
generator's update.  The discriminator's weights get no gradients during the
generator's update (they are frozen for it), which saves a third of its backward pass.
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
    Precision,
    batch_size,
    check_finite,
    choose_precision,
    loader_generator,
    model_config,
    optimizer_step,
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


def default_recon_loss(generator: nn.Module) -> Callable:
    """The generator's own ``reconstruction_loss`` (in its normalised units), else plain L1."""
    return getattr(unwrap(generator), "reconstruction_loss", F.l1_loss)


def gan_step(generator: nn.Module, discriminator: nn.Module, x: torch.Tensor,
             y: torch.Tensor, g_optimizer: torch.optim.Optimizer,
             d_optimizer: torch.optim.Optimizer, precision: Precision, *,
             g_scaler: torch.amp.GradScaler | None = None,
             d_scaler: torch.amp.GradScaler | None = None, loss: str = "bce",
             recon_loss: Callable | None = None, recon_weight: float = 100.0, d_steps: int = 1,
             g_steps: int = 1, label_smoothing: float = 0.0, pretraining: bool = False,
             grad_clip: float | None = None, epoch: int = 0,
             step: int = 0) -> dict[str, torch.Tensor]:
    """One batch of adversarial training: ``d_steps`` D updates, then ``g_steps`` G updates.

    The loop body of :func:`fit_gan`, public so that benchmarks time exactly what
    training runs.  ``x`` and ``y`` must already be on the device (and in the memory
    format) of ``precision``; both networks in train mode.

    Args:
        generator, discriminator: ``G(x) -> y_fake`` and ``D(x, y) -> logits``.
        g_optimizer, d_optimizer: their optimizers.
        precision: from :func:`colorlib.train.choose_precision` (autocast dtype).
        g_scaler, d_scaler: gradient scalers (None: ``precision.scaler()``, fresh,
            which is only right for a single step).
        loss, recon_loss, recon_weight, d_steps, g_steps, label_smoothing, grad_clip:
            as in :func:`fit_gan` (``recon_loss=None``: :func:`default_recon_loss`).
        pretraining: train G on ``recon_loss`` only (D is neither run nor updated).
        epoch, step: where training is, for the message when a loss is not finite.

    Returns:
        detached scalar tensors: ``d_loss``, ``g_loss`` (the adversarial term),
        ``recon``, and ``d_real`` / ``d_fake``, the discriminator's mean answer on
        real and fake pairs (a probability for ``"bce"``, the raw score for
        ``"lsgan"``); the discriminator's entries are 0 while pretraining.

    Raises:
        FloatingPointError: a loss is NaN or infinite (before any update with it).
    """
    g_scaler = g_scaler or precision.scaler()
    d_scaler = d_scaler or precision.scaler()
    recon_loss = recon_loss or default_recon_loss(generator)
    g_params = [p for p in generator.parameters() if p.requires_grad]
    d_params = [p for p in discriminator.parameters() if p.requires_grad]
    zero = torch.zeros((), device=x.device)
    out = {"d_loss": zero, "g_loss": zero, "recon": zero, "d_real": zero, "d_fake": zero}
    answer = torch.sigmoid if loss == "bce" else (lambda t: t)

    with precision.autocast():
        fake = generator(x)
    if not pretraining:
        for _ in range(d_steps):
            with precision.autocast():
                real_logits = discriminator(x, y).float()
                fake_logits = discriminator(x, fake.detach()).float()
            d_loss = 0.5 * (gan_loss(real_logits, True, loss, label_smoothing)
                            + gan_loss(fake_logits, False, loss))
            check_finite(d_loss, "the discriminator loss", epoch, step)
            optimizer_step(d_optimizer, d_scaler, d_loss, d_params, grad_clip)
        out["d_loss"] = d_loss.detach()
        out["d_real"] = answer(real_logits.detach()).mean()
        out["d_fake"] = answer(fake_logits.detach()).mean()

    weight = recon_weight or (1.0 if pretraining else 0.0)
    for p in d_params:  # D is only a judge here: no gradients for its weights
        p.requires_grad_(False)
    try:
        for k in range(g_steps):
            if k > 0:  # a second G step needs the output of the updated generator
                with precision.autocast():
                    fake = generator(x)
            with precision.autocast():
                adv = zero if pretraining else gan_loss(discriminator(x, fake).float(), True, loss)
            recon = recon_loss(fake.float(), y)
            g_total = weight * recon + adv
            check_finite(g_total, "the generator loss", epoch, step)
            optimizer_step(g_optimizer, g_scaler, g_total, g_params, grad_clip)
    finally:
        for p in d_params:
            p.requires_grad_(True)
    out["g_loss"] = adv.detach()
    out["recon"] = recon.detach()
    return out


def fit_gan(generator: nn.Module, discriminator: nn.Module, train_loader: Iterable,
            val_loader: Iterable | None = None, *, epochs: int = 10,
            g_optimizer: torch.optim.Optimizer | None = None,
            d_optimizer: torch.optim.Optimizer | None = None,
            lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
            loss: str = "bce", recon_loss: Callable | None = None,
            recon_weight: float = 100.0, d_steps: int = 1, g_steps: int = 1,
            label_smoothing: float = 0.0,
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
        recon_loss / recon_weight: the extra generator term (pix2pix: L1 x 100; weight 0
            disables it).  Default: the generator's own ``reconstruction_loss`` method
            if it has one (L1 on the normalised scale for the course's GANs: the
            weight 100 of pix2pix assumes values in [-1, 1]), else ``F.l1_loss``.
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
    recon_loss = recon_loss or default_recon_loss(generator)
    dev = torch.device(device) if device is not None else pick_device(verbose=False)
    precision = choose_precision(dev, amp, channels_last)
    for net in (generator, discriminator):
        net.to(dev)
        if precision.channels_last:
            net.to(memory_format=torch.channels_last)
    g_opt = g_optimizer or torch.optim.Adam(
        [p for p in generator.parameters() if p.requires_grad], lr=lr, betas=betas)
    d_opt = d_optimizer or torch.optim.Adam(
        [p for p in discriminator.parameters() if p.requires_grad], lr=lr, betas=betas)
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
            done = "finished" if start >= epochs else "continuing"
            print(f"resumed from {path}: {start} epochs done, {done}")
    elif seed is not None:
        seed_everything(seed)

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
            values = gan_step(generator, discriminator, x, y, g_opt, d_opt, precision,
                              g_scaler=g_scaler, d_scaler=d_scaler, loss=loss,
                              recon_loss=recon_loss, recon_weight=recon_weight, d_steps=d_steps,
                              g_steps=g_steps, label_smoothing=label_smoothing,
                              pretraining=pretraining, grad_clip=grad_clip, epoch=epoch, step=i)
            for k, v in values.items():
                sums[k] += float(v) * n
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
            save_samples(generator, sample_batch, Path(samples_dir) / f"epoch_{epoch:03d}.png")
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


def save_samples(generator: nn.Module, batch: tuple, path: Path, max_images: int = 6) -> Path:
    """Save a grid of a fixed ``(x, y)`` batch to ``path`` (PNG): gray / generated / truth rows.

    Written with Pillow through torchvision (no matplotlib figure), so it costs a few
    milliseconds per epoch.  The generator runs in eval mode; its mode is restored.
    """
    from torchvision.utils import save_image

    from .. import color

    x, y = (t[:max_images] for t in batch)
    space = getattr(unwrap(generator), "space", "lab")
    was_training = generator.training
    generator.eval()
    dev = next(generator.parameters()).device
    with torch.no_grad():
        fake = generator(x.to(dev)).float().cpu()
    generator.train(was_training)
    x, y = x.cpu().float(), y.cpu().float()
    rows = [color.merge(x, torch.zeros_like(y), space), color.merge(x, fake, space),
            color.merge(x, y, space)]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(torch.cat(rows).clamp(0, 1), path, nrow=len(x), padding=2, pad_value=1.0)
    return path
