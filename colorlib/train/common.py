"""Pieces shared by the supervised loop (:func:`fit`) and the GAN loop (``fit_gan``)."""

from __future__ import annotations

import contextlib
import csv
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch
from torch import nn

from .. import checkpoint as ckpt
from ..runtime import device as pick_device
from ..runtime import seed_everything

#: what wrote a checkpoint of each format (for the message when resuming the wrong kind)
WRITERS = {"colorlib-train-1": "colorlib.train.fit", "colorlib-gan-1": "colorlib.train.fit_gan",
           "colorlib-model-1": "colorlib.checkpoint.save_model"}

#: the checkpoint key holding each network's ``models.build`` record (``{"name", "kwargs"}``)
CONFIG_KEYS = {"model": "config", "generator": "config", "discriminator": "discriminator_config"}

_MAX_LISTED = 3


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


def place(networks: Iterable[nn.Module], device: torch.device | str | None,
          amp: bool | str = "auto", channels_last: bool | str = "auto") -> Precision:
    """Move ``networks`` to ``device`` (None: :func:`colorlib.device`), channels-last if
    chosen; returns the :class:`Precision` (see :func:`choose_precision`) they run with."""
    dev = torch.device(device) if device is not None else pick_device(verbose=False)
    precision = choose_precision(dev, amp, channels_last)
    for net in networks:
        net.to(dev)
        if precision.channels_last:
            net.to(memory_format=torch.channels_last)
    return precision


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


def check_finite(value: torch.Tensor, what: str, epoch: int, step: int) -> float:
    """``float(value)``; stops with the step number when a loss becomes NaN or infinite.

    (Reading a CUDA tensor's value waits for the GPU: callers reuse the returned number
    rather than reading the loss a second time.)
    """
    v = float(value.detach())
    if not math.isfinite(v):
        raise FloatingPointError(
            f"{what} became {v} at epoch {epoch}, step {step}. Training stopped so the last "
            "checkpoint is not overwritten with broken weights. Try a lower learning rate, "
            "gradient clipping (grad_clip=1.0), or check the data for NaN values."
        )
    return v


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


def run_state(kind: str, networks: dict[str, nn.Module], parts: dict[str, Any], epoch: int,
              history: History, shuffler: torch.Generator | None) -> dict:
    """Everything needed to resume a run after ``epoch``, as :func:`start_or_resume` reads it.

    Args:
        kind: the format, ``"colorlib-train-1"`` (fit) or ``"colorlib-gan-1"`` (fit_gan).
        networks: ``{"model": net}`` or ``{"generator": g, "discriminator": d}``
            (unwrapped from DistributedDataParallel); their weights and build records.
        parts: optimizers, grad scalers and scheduler by name (None where absent);
            their states, and their class names under ``"classes"``.
        epoch, history, shuffler: epochs done, their records, the loader's generator.
    """
    state = {"format": kind, "epoch": epoch, "history": history.records,
             "shuffler": shuffler.get_state() if shuffler is not None else None,
             "classes": {name: _class_name(part) for name, part in parts.items()}}
    for name, net in networks.items():
        state[name] = net.state_dict()
        state[CONFIG_KEYS[name]] = model_config(net)
    for name, part in parts.items():
        state[name] = part.state_dict() if part is not None else None
    return state


def start_or_resume(path: Path | None, resume: bool, *, kind: str,
                    networks: dict[str, nn.Module], parts: dict[str, Any],
                    device: torch.device, shuffler: torch.Generator | None, seed: int | None,
                    epochs: int, verbose: bool) -> tuple[History, int]:
    """Where a run starts: its history so far and the number of epochs already done.

    With ``resume`` and an existing checkpoint at ``path`` (written by
    :func:`run_state`), the networks, ``parts`` (optimizers, scalers, scheduler),
    random states and the loader's ``shuffler`` are restored, after
    :func:`check_same_run` made sure the file belongs to this run.  Otherwise the
    run is fresh: ``(History(), 0)``, seeded with ``seed`` if given.

    Raises:
        colorlib.checkpoint.CheckpointError: the checkpoint is unreadable or was
            written by another configuration; nothing was restored, the file is untouched.
    """
    if path is None or not resume or not path.exists():
        if seed is not None:
            seed_everything(seed)
        return History(), 0
    state = ckpt.load(path, map_location=device)
    check_same_run(path, state, kind, networks, parts)
    for name, net in networks.items():
        ckpt.load_weights(net, state[name])
    for name, part in parts.items():
        if part is not None and state.get(name) is not None:
            part.load_state_dict(state[name])
    ckpt.set_rng_state(state["rng"])
    if shuffler is not None and state.get("shuffler") is not None:
        shuffler.set_state(state["shuffler"])
    done = int(state["epoch"])
    if verbose:
        print(f"resumed from {path}: {done} epochs done, "
              f"{'finished' if done >= epochs else 'continuing'}")
    return History(list(state["history"])), done


def check_same_run(path: Path, state: dict, kind: str, networks: dict[str, nn.Module],
                   parts: dict[str, Any]) -> None:
    """Refuse to resume from a checkpoint that another configuration wrote.

    Compared: the format (fit, fit_gan or a model file), each network's build
    record (name and arguments) and weight names and shapes, the optimizers'
    parameter groups, and the classes of the optimizers and scheduler (recorded
    by :func:`run_state`; older files lack them and skip that check).

    Raises:
        colorlib.checkpoint.CheckpointError: listing what differs and what to do.
    """
    found = state.get("format")
    if found != kind:
        writer = WRITERS.get(found, f"something else (format {found!r})")
        _refuse(path, f"it was written by {writer}, not by {WRITERS[kind]}")
    differences = []
    for name, net in networks.items():
        then, now = state.get(CONFIG_KEYS[name]), model_config(net)
        if _build_record(then) != _build_record(now):
            differences.append(f"{name}: the checkpoint holds {_describe_build(then)}, "
                               f"not {_describe_build(now)}")
        else:
            differences += _weight_differences(name, state.get(name), net.state_dict())
    if differences:  # other networks: their optimizers differ too, which says nothing new
        _refuse(path, _other_configuration(differences))
    classes = state.get("classes") or {}
    for name, part in parts.items():
        if name in classes and classes[name] != _class_name(part):
            differences.append(f"{name}: {classes[name] or 'none'} then, "
                               f"{_class_name(part) or 'none'} now")
        elif hasattr(part, "param_groups") and isinstance(state.get(name), dict):
            then_sizes = [len(g["params"]) for g in state[name].get("param_groups", [])]
            now_sizes = [len(g["params"]) for g in part.param_groups]
            if then_sizes != now_sizes:
                differences.append(f"{name}: parameter groups of {then_sizes} tensors then, "
                                   f"{now_sizes} now")
    if differences:
        _refuse(path, _other_configuration(differences))


def _other_configuration(differences: list[str]) -> str:
    return f"it was written by a different configuration ({'; '.join(differences)})"


def _refuse(path: Path, reason: str) -> NoReturn:
    raise ckpt.CheckpointError(
        f"cannot resume from {path}: {reason}. To start this run afresh pass a new checkpoint "
        f"path, or delete {path} if the earlier run is no longer needed. The file was left "
        "untouched."
    )


def _class_name(part: Any) -> str | None:
    return type(part).__name__ if part is not None else None


def _build_record(config: Any) -> tuple | None:
    """``(name, kwargs)`` of a ``models.build`` record, comparable with ``==``."""
    if not isinstance(config, dict):
        return None
    return config.get("name"), dict(config.get("kwargs") or {})


def _describe_build(config: Any) -> str:
    record = _build_record(config)
    if record is None:
        return "an unnamed network (not from colorlib.models.build)"
    return f"{record[0]!r} with {record[1]}"


def _weight_differences(name: str, saved: Any, own: dict[str, torch.Tensor]) -> list[str]:
    """What keeps the weights ``saved`` from fitting ``own`` (a state_dict), in short."""
    if not isinstance(saved, dict):
        return [f"{name}: the checkpoint has no {name} weights"]
    missing, unexpected, shapes = ckpt.state_differences(own, saved)
    shapes = [f"{k} {then} then, {now} now" for k, then, now in shapes]
    out = []
    for what, items in (("shapes", shapes), ("weights missing from the checkpoint", missing),
                        ("weights this network lacks", unexpected)):
        if items:
            more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
            out.append(f"{name} {what}: {', '.join(items[:_MAX_LISTED])}{more}")
    return out


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
