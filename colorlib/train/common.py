"""Pieces shared by the supervised loop (:func:`fit`) and the GAN loop (``fit_gan``)."""

from __future__ import annotations

import contextlib
import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import checkpoint as ckpt


@dataclass
class History:
    """Per-epoch records of a training run: ``history["val_loss"]`` is a list, one per epoch."""

    records: list[dict[str, float]] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return [r[key] for r in self.records if key in r]

    def __len__(self) -> int:
        return len(self.records)

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def last(self) -> dict[str, float]:
        return dict(self.records[-1]) if self.records else {}

    def to_csv(self, path: str | Path) -> Path:
        """Write all records to ``path`` (CSV, one row per epoch)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.keys())
            writer.writeheader()
            writer.writerows(self.records)
        return path

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, keys={self.keys()})"


@dataclass
class Precision:
    """How a device runs: autocast dtype (or None for fp32) and whether grads need a scaler."""

    device: torch.device
    dtype: torch.dtype | None
    scaled: bool
    channels_last: bool

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def scaler(self):
        """A fresh gradient scaler (a no-op one unless fp16 on CUDA)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.scaled)


def choose_precision(device: torch.device, amp: bool | str = "auto",
                     channels_last: bool | str = "auto") -> Precision:
    """Mixed precision and memory format for ``device``.

    ``amp="auto"``: on CUDA, bf16 where supported, else fp16 with a grad scaler;
    fp32 elsewhere.  ``channels_last="auto"``: on for CUDA only (on a CPU it is
    often slower; pass ``True`` to try it).
    """
    on_cuda = device.type == "cuda"
    use_amp = on_cuda if amp == "auto" else bool(amp)
    dtype = None
    if use_amp:
        if on_cuda:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.bfloat16
    scaled = dtype == torch.float16
    cl = on_cuda if channels_last == "auto" else bool(channels_last)
    return Precision(device, dtype, scaled, cl)


def to_device(batch: Any, precision: Precision) -> Any:
    """Move a batch (tensor, or tuple/list/dict of them) to the device, 4-D ones channels-last."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(precision.device, non_blocking=True)
        if precision.channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, precision) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, precision) for k, v in batch.items()}
    return batch


def show_progress(progress: bool | None) -> bool:
    """Progress bars on unless switched off, or ``COLORLIB_PROGRESS=0`` when left at None."""
    if progress is None:
        return os.environ.get("COLORLIB_PROGRESS", "1") != "0"
    return bool(progress)


def batch_size(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    return len(first)


def check_finite(value: torch.Tensor, what: str, epoch: int, step: int) -> None:
    """Stop with the step number when a loss becomes NaN or infinite."""
    v = float(value.detach())
    if not math.isfinite(v):
        raise FloatingPointError(
            f"{what} became {v} at epoch {epoch}, step {step}. Training stopped so the last "
            "checkpoint is not overwritten with broken weights. Try a lower learning rate, "
            "gradient clipping (grad_clip=1.0), or check the data for NaN values."
        )


def loader_generator(loader: Any) -> torch.Generator | None:
    """The torch.Generator shuffling ``loader`` (if it has its own), so resume can restore it."""
    for obj in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        gen = getattr(obj, "generator", None)
        if isinstance(gen, torch.Generator):
            return gen
        inner = getattr(obj, "sampler", None)
        gen = getattr(inner, "generator", None)
        if isinstance(gen, torch.Generator):
            return gen
    return None


def prepare_checkpoint(path: str | Path | None, resume: bool) -> Path | None:
    """Refuse to silently overwrite an existing checkpoint from an earlier run."""
    if path is None:
        return None
    path = Path(path)
    if path.exists() and not resume:
        raise FileExistsError(
            f"checkpoint {path} already exists. Pass resume=True to continue that run (it "
            "returns at once if the run had finished), or choose another checkpoint path; "
            "colorlib never overwrites an earlier run's checkpoint."
        )
    return path


def model_config(model: nn.Module) -> dict | None:
    """The ``{"name", "kwargs"}`` record that :func:`colorlib.models.build` put on the model."""
    return getattr(model, "config", None)


def optimizer_step(optimizer, scaler, loss: torch.Tensor, params, grad_clip: float | None) -> None:
    """One update: zero the gradients, backward through the (scaled) ``loss``, clip the
    unscaled gradients of ``params`` to norm ``grad_clip`` if given, step, update the scaler."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()


def save_state(path: Path, state: dict) -> None:
    """Write a training state atomically, with the RNG states needed to resume exactly."""
    state = dict(state, rng=ckpt.rng_state())
    ckpt.save(path, ckpt.to_safe(state))


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel / DataParallel wrapper, if any."""
    return getattr(model, "module", model)
