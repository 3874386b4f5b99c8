"""Save and load training state safely.

A checkpoint is a ``dict`` written with :func:`torch.save` and read back with
``torch.load(weights_only=True)``, which refuses arbitrary Python objects (a
pickled file can otherwise run code when it is opened).  So a state may hold
only tensors and nested ``dict`` / ``list`` / ``tuple`` of ``str``, ``int``,
``float``, ``bool`` and ``None``; :func:`to_safe` converts NumPy values into that.

Writes are atomic (:func:`colorlib.files.atomic_write`): :func:`save` writes a
temporary file next to the target and renames it into place, so an interrupted run
(Ctrl-C, a Colab disconnect, a full disk) never leaves a half-written checkpoint
where a good one used to be.

Example::

    from colorlib import checkpoint, models

    model = models.build("tiny", width=16)
    checkpoint.save_model("runs/tiny.pt", model, epochs=10)
    same = checkpoint.load_model("runs/tiny.pt")     # rebuilt, in eval mode
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from torch import nn

from .files import atomic_write

MODEL_FORMAT = "colorlib-model-1"
_CHUNK = 1 << 20  # 1 MiB
_MAX_LISTED = 5
_HOW_TO_MAKE = (
    "Checkpoints are written by colorlib.train.fit(..., checkpoint=PATH), "
    "colorlib.checkpoint.save(PATH, state) and colorlib.checkpoint.save_model(PATH, model)."
)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, incomplete, altered, or made for another model."""


# --------------------------------------------------------------------------- saving


def to_safe(obj: Any) -> Any:
    """A copy of ``obj`` that ``torch.load(weights_only=True)`` accepts.

    Recursively converts NumPy arrays to tensors, NumPy scalars to Python
    numbers, paths to strings, any mapping to a ``dict`` and named tuples to
    plain tuples.  Tensors and Python scalars are returned as they are (not copied).

    >>> to_safe({"loss": np.float32(0.5), "ids": np.arange(3)})
    {'loss': 0.5, 'ids': tensor([0, 1, 2])}
    """
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("to_safe cannot convert a NumPy array of Python objects; "
                            "use a list instead")
        return torch.from_numpy(np.array(obj))  # np.array copies, so the tensor owns its data
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Mapping):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_safe(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_safe(v) for v in obj)
    return obj


def save(path: str | os.PathLike, state: dict, overwrite: bool = True) -> Path:
    """Write ``state`` to ``path`` atomically and return the path.

    The state goes to a temporary file in the same folder, is flushed to disk,
    and only then renamed onto ``path``.  If anything fails the temporary file is
    removed and a file already at ``path`` is left exactly as it was.

    Args:
        path: target file (``.pt``); missing parent folders are created.
        state: a dict of tensors and plain Python values (see :func:`to_safe`).
        overwrite: if ``False`` and ``path`` exists, raise :class:`FileExistsError`.

    Raises:
        FileExistsError: ``overwrite=False`` and ``path`` exists.
        TypeError: ``state`` is not a dict, or holds objects that could not be
            loaded back with ``weights_only=True`` (nothing is written).
    """
    path = Path(path)
    if not isinstance(state, dict):
        raise TypeError(f"save expects a dict of training state, got {type(state).__name__}; "
                        "wrap it, e.g. save(path, {'model': model.state_dict()})")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name such as {path / 'model.pt'}")
    if not overwrite and path.exists():
        raise FileExistsError(
            f"{path} already exists and overwrite=False. Choose another path, pass "
            "overwrite=True to replace it, or resume from it (fit(..., resume=True))."
        )
    with atomic_write(path, "wb") as f:
        torch.save(state, f)
        f.flush()
        _refuse_unsafe(f.name)  # before the old file is replaced
    return path


def _refuse_unsafe(tmp: str) -> None:
    """Raise TypeError if the file holds objects that weights_only loading would refuse."""
    scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if scan is None:  # torch < 2.5: nothing cheap to check with
        return
    unsafe = scan(tmp)
    if unsafe:
        raise TypeError(
            f"the state holds objects that torch.load(weights_only=True) refuses: "
            f"{', '.join(unsafe)}. Convert them with colorlib.checkpoint.to_safe(state) or "
            "store plain values (tensors, numbers, strings, lists, dicts); nothing was written."
        )


# --------------------------------------------------------------------------- random state


def rng_state() -> dict:
    """The states of Python's ``random``, NumPy's global RNG and torch (CPU and all CUDA).

    The result is safe for ``weights_only`` loading: NumPy's 624-word key becomes
    an int64 tensor.  Restore it with :func:`set_rng_state`.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore random states captured by :func:`rng_state` (after :func:`load` too).

    CUDA states are restored for the devices present (a run saved on a GPU and
    resumed on a CPU restores the CPU generators only).
    """
    if not isinstance(state, Mapping) or not {"python", "numpy", "torch"} <= set(state):
        raise ValueError("set_rng_state expects the dict returned by rng_state(), with keys "
                         f"'python', 'numpy' and 'torch'; got {_describe(state)}")
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    npstate = state["numpy"]
    keys = npstate["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state((npstate["name"], keys, npstate["pos"], npstate["has_gauss"],
                         npstate["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        for i, s in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s.cpu(), i)


def _describe(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return f"a dict with keys {sorted(map(str, obj))}"
    return f"a {type(obj).__name__}"


# --------------------------------------------------------------------------- loading


def sha256sum(path: str | os.PathLike) -> str:
    """SHA-256 of a file as 64 lowercase hex digits, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(expected: str) -> str:
    """Normalise a SHA-256 (full or a prefix of >= 8 hex digits) to lowercase; ValueError if bad."""
    text = str(expected).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", text):
        raise ValueError(f"sha256 must be 8 to 64 hexadecimal digits (the full hash or its "
                         f"start), got {expected!r}")
    return text


def load(path: str | os.PathLike, map_location: Any = "cpu", sha256: str | None = None) -> dict:
    """Read a checkpoint written by :func:`save` with ``torch.load(weights_only=True)``.

    Args:
        path: the checkpoint file.
        map_location: where tensors go (``"cpu"`` by default, or a device).
        sha256: optional expected SHA-256, full or a prefix of at least 8 hex
            digits; the file is checked before it is read.

    Returns:
        The saved dict.

    Raises:
        CheckpointError: the file is missing, empty, truncated or not a checkpoint,
            does not match ``sha256``, or holds objects ``weights_only`` refuses.
            The file itself is never modified or deleted.
    """
    path = Path(path)
    expected = check_sha256(sha256) if sha256 is not None else None
    try:
        size = path.stat().st_size
    except FileNotFoundError as e:
        raise CheckpointError(
            f"no checkpoint at {path} (looked in {path.resolve().parent}). Check the file name "
            f"and the current folder. {_HOW_TO_MAKE}"
        ) from e
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file; pass the .pt file "
                              "inside it")
    if size == 0:
        raise CheckpointError(
            f"{path} is empty (0 bytes), so it is not a usable checkpoint: probably the run or a "
            "copy was interrupted before anything was written. The file was left untouched; "
            f"delete it or point to another checkpoint. {_HOW_TO_MAKE}"
        )
    if expected is not None:
        actual = sha256sum(path)
        if not actual.startswith(expected):
            raise CheckpointError(
                f"{path} does not have the expected SHA-256: expected {expected}..., actual "
                f"{actual}. The file is incomplete, altered or a different version. It was left "
                "untouched; copy or download it again."
            )
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(_load_failure(path, size, map_location, e)) from e
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}, not a dict of training state. colorlib "
            "checkpoints are dicts; if this is a bare state_dict or tensor, read it with "
            "torch.load(path, weights_only=True)."
        )
    return obj


def _load_failure(path: Path, size: int, map_location: Any, error: Exception) -> str:
    said = _first_sentence(error)
    if "Weights only load failed" in str(error):
        return (
            f"{path} holds Python objects that safe loading (torch.load(weights_only=True)) "
            "refuses, so it was not written by colorlib.checkpoint.save. Only if you trust "
            "its source, open it with torch.load(path, weights_only=False). The file was "
            "left untouched."
        )
    if "deserialize object on" in str(error) or "device" in said.lower():  # not the file's fault
        return (
            f"{path} holds tensors for a device that is not available here "
            f"(map_location={map_location!r}; torch said: {said}). Load it with "
            "map_location='cpu'. The file was left untouched."
        )
    return (
        f"{path} is incomplete or not a PyTorch checkpoint ({size} bytes; torch.load said: "
        f"{said}). This happens when a run or a copy/download was interrupted while the file "
        "was written, or when the path points to another kind of file. The file was left "
        f"untouched; copy it again or use another checkpoint. {_HOW_TO_MAKE}"
    )


def _first_sentence(error: Exception) -> str:
    """``"TypeName: first sentence of the message"``, at most about 150 characters."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    first = first.split(". ")[0].rstrip(".")[:150]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


# --------------------------------------------------------------------------- weights


def load_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True):
    """Load ``state_dict`` into ``model``, explaining clearly when it does not fit.

    Like :meth:`torch.nn.Module.load_state_dict`, but every key and shape is
    checked *before* anything is copied, so on failure the model is unchanged.

    Args:
        model: the module to fill.
        state_dict: name -> tensor, e.g. ``checkpoint["model"]``.
        strict: require exactly the model's keys (shapes must always match).

    Returns:
        The ``(missing_keys, unexpected_keys)`` result of ``load_state_dict``.

    Raises:
        CheckpointError: missing or unexpected keys (with ``strict``) or shape
            mismatches; the message lists up to five of each.
    """
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"expected a state_dict (a dict of name -> tensor), got "
                              f"{type(state_dict).__name__}")
    missing, unexpected, shapes = state_differences(model.state_dict(), state_dict)
    mismatched = [f"{k}: checkpoint {saved} vs model {own}" for k, saved, own in shapes]
    problems = [_listing("shape mismatch", "shape mismatches", mismatched)]
    if strict:
        problems += [_listing("missing key", "missing keys", missing),
                     _listing("unexpected key", "unexpected keys", unexpected)]
    problems = [p for p in problems if p]
    if problems:
        hint = ""
        if unexpected and all(k.startswith("module.") for k in unexpected):
            hint = (" The checkpoint's keys start with 'module.': it was saved from a "
                    "DataParallel/DistributedDataParallel wrapper; save model.module instead.")
        raise CheckpointError(
            f"these weights do not fit {type(model).__name__}: {'; '.join(problems)}. The "
            "checkpoint was probably made for another model or another configuration (a "
            "different width, say); build the model with the name and arguments it was trained "
            "with (colorlib.checkpoint.load_model does that for files from save_model or "
            f"fit). The model was left unchanged.{hint}"
        )
    return model.load_state_dict(state_dict, strict=strict)


def state_differences(own: Mapping[str, torch.Tensor], saved: Mapping[str, torch.Tensor]):
    """How the weights ``saved`` differ from a model's own ``state_dict()`` ``own``.

    Returns:
        ``(missing, unexpected, shapes)``: the keys of ``own`` that ``saved`` lacks, the
        keys of ``saved`` that ``own`` lacks, and ``(key, saved shape, own shape)`` for
        each tensor of both whose shapes differ.  All empty: the weights fit.
    """
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in saved.items()
              if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape]
    return missing, unexpected, shapes


def _listing(one: str, many: str, items: list[str]) -> str:
    if not items:
        return ""
    shown = ", ".join(items[:_MAX_LISTED])
    more = f", ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"{len(items)} {one if len(items) == 1 else many} ({shown}{more})"


def save_model(path: str | os.PathLike, model: nn.Module, **extra: Any) -> Path:
    """Save a finished model so :func:`load_model` can rebuild it by name.

    Stores ``{"format": "colorlib-model-1", "config": model.config, "model":
    state_dict (on the CPU), **extra}``; ``model.config`` is set by
    :func:`colorlib.models.build`.  ``extra`` values (epochs, scores, ...) go
    through :func:`to_safe`.  Overwrites ``path``; returns it.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, Mapping) or "name" not in config:
        raise ValueError(
            f"{type(model).__name__} has no .config, so it could not be rebuilt from the file. "
            "Build it with colorlib.models.build(name, **kwargs), or save its weights with "
            "colorlib.checkpoint.save(path, {'model': model.state_dict()})."
        )
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    state = {"format": MODEL_FORMAT,
             "config": {"name": config["name"], "kwargs": dict(config.get("kwargs", {}))},
             "model": weights, **to_safe(extra)}
    return save(path, to_safe(state))


def load_model(path: str | os.PathLike, map_location: Any = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save_model` (or a checkpoint from ``fit``).

    Returns:
        The model, built with ``colorlib.models.build(name, **kwargs)``, its weights
        loaded, on ``map_location``, in eval mode.

    Raises:
        CheckpointError: the file is not a usable colorlib model file (see :func:`load`).
    """
    from . import models

    state = load(path, map_location=map_location)
    config = state.get("config")
    if "model" not in state or not isinstance(config, Mapping) or "name" not in config:
        raise CheckpointError(
            f"{path} is not a colorlib model file: it has no model configuration "
            f"({_describe(state)}; expected 'config' and 'model'). Model files come from "
            "colorlib.checkpoint.save_model and training checkpoints from colorlib.train.fit "
            "with a model made by colorlib.models.build. For other files build the model "
            "yourself and call colorlib.checkpoint.load_weights(model, state_dict)."
        )
    try:
        model = models.build(config["name"], **dict(config.get("kwargs") or {}))
    except (ValueError, TypeError) as e:
        raise CheckpointError(
            f"{path} was saved from model {config['name']!r} with {config.get('kwargs')}, which "
            f"this version of colorlib cannot build ({e}). Update colorlib or use the version "
            "that wrote the file."
        ) from e
    load_weights(model, state["model"])
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)  # a dict or callable map_location leaves the model on the CPU
    return model.eval()


__all__ = [
    "CheckpointError", "check_sha256", "load", "load_model", "load_weights", "rng_state",
    "save", "save_model", "set_rng_state", "sha256sum", "to_safe",
]
