"""``fit_gan``: one adversarial training loop for pix2pix (week 7) and the cGAN (week 8).

The generator maps the input ``x`` (L or Y) to a prediction of ``y`` (ab or UV);
the discriminator scores a pair ``D(x, y)`` with logits (one per image or one
per patch).  Each batch (:class:`GANStep`, or :func:`gan_step` in one call):
``d_steps`` discriminator updates on (real, fake) pairs, then ``g_steps``
generator updates on the adversarial loss plus ``recon_weight`` times a
reconstruction loss (L1 for pix2pix).

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

from .common import (
    History,
    Precision,
    batch_size,
    check_finite,
    loader_generator,
    optimizer_step,
    place,
    prepare_checkpoint,
    run_state,
    save_state,
    show_progress,
    start_or_resume,
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


#: the numbers one training step reports, in the order fit_gan sums them
LOGGED = ("d_loss", "g_loss", "recon", "d_real", "d_fake")


class GANStep:
    """One batch of adversarial training, set up once for a whole run.

    Holds what does not change from batch to batch (the networks, optimizers,
    scalers, trainable-parameter lists, loss settings); calling it trains on one
    batch: ``d_steps`` D updates, then ``g_steps`` G updates.  :func:`fit_gan`
    builds one and calls it for every batch; :func:`gan_step` is the one-call form.

    Args:
        generator, discriminator: ``G(x) -> y_fake`` and ``D(x, y) -> logits``.
        g_optimizer, d_optimizer: their optimizers.
        precision: from :func:`colorlib.train.choose_precision` (autocast dtype).
        g_scaler, d_scaler: gradient scalers (None: ``precision.scaler()``, fresh).
        loss, recon_loss, recon_weight, d_steps, g_steps, label_smoothing, grad_clip:
            as in :func:`fit_gan` (``recon_loss=None``: :func:`default_recon_loss`).

    The parameters that train are listed once, here: freeze or unfreeze layers
    before building a step, as before building the optimizers.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer,
                 precision: Precision, *, g_scaler: torch.amp.GradScaler | None = None,
                 d_scaler: torch.amp.GradScaler | None = None, loss: str = "bce",
                 recon_loss: Callable | None = None, recon_weight: float = 100.0,
                 d_steps: int = 1, g_steps: int = 1, label_smoothing: float = 0.0,
                 grad_clip: float | None = None):
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.precision = precision
        self.g_scaler = g_scaler or precision.scaler()
        self.d_scaler = d_scaler or precision.scaler()
        self.loss, self.label_smoothing = loss, label_smoothing
        self.recon_loss = (default_recon_loss(generator) if recon_loss is None
                           else recon_loss)
        self.recon_weight, self.grad_clip = recon_weight, grad_clip
        self.d_steps, self.g_steps = d_steps, g_steps
        self.g_params = [p for p in generator.parameters() if p.requires_grad]
        self.d_params = [p for p in discriminator.parameters() if p.requires_grad]
        self.answer = torch.sigmoid if loss == "bce" else _identity

    def __call__(self, x: torch.Tensor, y: torch.Tensor, *, pretraining: bool = False,
                 epoch: int = 0, step: int = 0) -> dict[str, torch.Tensor]:
        """Train on the batch ``(x, y)``; see :func:`gan_step` for the arguments and result."""
        precision, loss = self.precision, self.loss
        generator, discriminator = self.generator, self.discriminator
        zero = x.new_zeros((), dtype=torch.float32)  # a term not computed
        out = dict.fromkeys(LOGGED, zero)

        with precision.autocast():
            fake = generator(x)
        if not pretraining:
            for _ in range(self.d_steps):
                with precision.autocast():
                    real_logits = discriminator(x, y).float()
                    fake_logits = discriminator(x, fake.detach()).float()
                d_loss = 0.5 * (gan_loss(real_logits, True, loss, self.label_smoothing)
                                + gan_loss(fake_logits, False, loss))
                check_finite(d_loss, "the discriminator loss", epoch, step)
                optimizer_step(self.d_optimizer, self.d_scaler, d_loss, self.d_params,
                               self.grad_clip)
            out["d_loss"] = d_loss.detach()
            out["d_real"] = self.answer(real_logits.detach()).mean()
            out["d_fake"] = self.answer(fake_logits.detach()).mean()

        weight = self.recon_weight or (1.0 if pretraining else 0.0)
        for p in self.d_params:  # D is only a judge here: no gradients for its weights
            p.requires_grad_(False)
        try:
            for k in range(self.g_steps):
                if k > 0:  # a second G step needs the output of the updated generator
                    with precision.autocast():
                        fake = generator(x)
                with precision.autocast():
                    adv = zero if pretraining else gan_loss(discriminator(x, fake).float(),
                                                            True, loss)
                recon = self.recon_loss(fake.float(), y)
                g_total = weight * recon + adv
                check_finite(g_total, "the generator loss", epoch, step)
                optimizer_step(self.g_optimizer, self.g_scaler, g_total, self.g_params,
                               self.grad_clip)
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        out["g_loss"] = adv.detach()
        out["recon"] = recon.detach()
        return out


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


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

    The loop body of :func:`fit_gan` in one call (``fit_gan`` builds a
    :class:`GANStep` once and calls it for every batch, which saves listing the
    parameters again each time).  ``x`` and ``y`` must already be on the device
    (and in the memory format) of ``precision``; both networks in train mode.

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
        detached scalar tensors (:data:`LOGGED`): ``d_loss``, ``g_loss`` (the
        adversarial term), ``recon``, and ``d_real`` / ``d_fake``, the
        discriminator's mean answer on real and fake pairs (a probability for
        ``"bce"``, the raw score for ``"lsgan"``); the discriminator's entries are
        0 while pretraining.

    Raises:
        FloatingPointError: a loss is NaN or infinite (before any update with it).
    """
    run_step = GANStep(generator, discriminator, g_optimizer, d_optimizer, precision,
                       g_scaler=g_scaler, d_scaler=d_scaler, loss=loss, recon_loss=recon_loss,
                       recon_weight=recon_weight, d_steps=d_steps, g_steps=g_steps,
                       label_smoothing=label_smoothing, grad_clip=grad_clip)
    return run_step(x, y, pretraining=pretraining, epoch=epoch, step=step)


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
            the two networks get separate grad scalers.  ``resume`` refuses a
            checkpoint that another configuration wrote (other networks, weight
            shapes or optimizer classes, or fit), and leaves it untouched.
        progress: as in :func:`fit`; the running means on the bar refresh about once a
            second (each refresh waits for the device).

    Raises:
        colorlib.checkpoint.CheckpointError: ``resume`` found a checkpoint from another
            configuration (the message says what differs).
        FloatingPointError: a loss became NaN or infinite (message gives epoch and step).
    """
    progress = show_progress(progress)
    if d_steps < 1 or g_steps < 1:
        raise ValueError(f"d_steps and g_steps must be >= 1, got {d_steps} and {g_steps}")
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if recon_loss is None:
        recon_loss = default_recon_loss(generator)
    precision = place((generator, discriminator), device, amp, channels_last)
    g_opt = g_optimizer or torch.optim.Adam(
        [p for p in generator.parameters() if p.requires_grad], lr=lr, betas=betas)
    d_opt = d_optimizer or torch.optim.Adam(
        [p for p in discriminator.parameters() if p.requires_grad], lr=lr, betas=betas)
    g_scaler, d_scaler = precision.scaler(), precision.scaler()
    path = prepare_checkpoint(checkpoint, resume)
    shuffler = loader_generator(train_loader)
    networks = {"generator": unwrap(generator), "discriminator": unwrap(discriminator)}
    parts = {"g_optimizer": g_opt, "d_optimizer": d_opt, "g_scaler": g_scaler,
             "d_scaler": d_scaler}
    history, start = start_or_resume(
        path, resume, kind="colorlib-gan-1", networks=networks, parts=parts,
        device=precision.device, shuffler=shuffler, seed=seed, epochs=epochs, verbose=verbose)
    train_step = GANStep(generator, discriminator, g_opt, d_opt, precision, g_scaler=g_scaler,
                         d_scaler=d_scaler, loss=loss, recon_loss=recon_loss,
                         recon_weight=recon_weight, d_steps=d_steps, g_steps=g_steps,
                         label_smoothing=label_smoothing, grad_clip=grad_clip)

    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        pretraining = epoch <= pretrain_epochs
        generator.train()
        discriminator.train()
        # the LOGGED values times batch sizes, summed on the device: reading a number
        # back waits for the device.  Only the NaN checks of the D and G losses read
        # one every batch; the sums are read once an epoch (and once a second for the
        # progress bar), not five values a batch.
        sums = torch.zeros(len(LOGGED), dtype=_sum_dtype(precision.device),
                           device=precision.device)
        count = 0
        next_refresh = 0.0
        bar = tqdm(train_loader, desc=f"{'pretrain' if pretraining else 'gan'} {epoch}/{epochs}",
                   leave=False, disable=not progress)
        for i, batch in enumerate(bar, 1):
            x, y = to_device(batch, precision)
            n = batch_size(batch)
            values = train_step(x, y, pretraining=pretraining, epoch=epoch, step=i)
            sums.add_(torch.stack([values[k] for k in LOGGED]), alpha=n)
            count += n
            if progress and time.monotonic() >= next_refresh:
                means = dict(zip(LOGGED, (sums / count).tolist()))
                bar.set_postfix(d=f"{means['d_loss']:.3f}", g=f"{means['g_loss']:.3f}",
                                recon=f"{means['recon']:.3g}")
                next_refresh = time.monotonic() + 1.0
        if count == 0:
            raise ValueError("the training loader yielded no batches; is the dataset empty?")
        record = {"epoch": epoch, "phase": 0.0 if pretraining else 1.0,
                  **dict(zip(LOGGED, (sums / count).tolist()))}
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
            state = run_state("colorlib-gan-1", networks, parts, epoch, history, shuffler)
            state["model"] = state["generator"]  # what load_model and evaluate read
            save_state(path, state)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    generator.eval()
    discriminator.eval()
    return history


def _sum_dtype(device: torch.device) -> torch.dtype:
    """float64 for running sums (as exact as Python floats), float32 on MPS (no float64)."""
    return torch.float32 if device.type == "mps" else torch.float64


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
