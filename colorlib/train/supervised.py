"""``fit``: the supervised training loop every notebook uses.

A batch is a pair ``(x, y)``; the model maps ``x`` to a prediction and
``loss_fn(prediction, y)`` is minimised.  For the colorizers ``x`` and ``y`` come
from :class:`colorlib.data.ColorizationPairs`; for the MNIST warm-up they are
images and labels.
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
    choose_precision,
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

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | float]


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable = F.mse_loss,
             metrics: Mapping[str, Metric] | None = None, device: torch.device | None = None,
             precision: Precision | None = None) -> dict[str, float]:
    """Average loss and metrics of ``model`` over ``loader`` (eval mode, no gradients).

    Returns ``{"loss": ..., <metric>: ...}``, each averaged over examples.
    """
    precision = precision or choose_precision(device or next(model.parameters()).device)
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for batch in loader:
            x, y = to_device(batch, precision)
            with precision.autocast():
                pred = model(x)
            pred = pred.float()
            n = batch_size(batch)
            values = {"loss": loss_fn(pred, y)}
            values.update({name: fn(pred, y) for name, fn in (metrics or {}).items()})
            for name, v in values.items():
                totals[name] = totals.get(name, 0.0) + float(torch.as_tensor(v).float().mean()) * n
            count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("the evaluation loader yielded no batches; is the dataset empty?")
    return {name: total / count for name, total in totals.items()}


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None = None, *,
        epochs: int = 10, loss_fn: Callable = F.mse_loss,
        optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3,
        scheduler=None, metrics: Mapping[str, Metric] | None = None,
        device: torch.device | str | None = None, amp: bool | str = "auto",
        channels_last: bool | str = "auto", grad_clip: float | None = None,
        checkpoint: str | Path | None = None, resume: bool = False, seed: int | None = None,
        progress: bool | None = None, verbose: bool = True,
        on_epoch_end: Callable[[int, dict], None] | None = None,
        is_main: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    Args:
        model: maps a batch ``x`` to a prediction; moved to ``device``.
        train_loader / val_loader: iterables of ``(x, y)`` batches (DataLoaders).
        loss_fn: ``loss_fn(prediction, y) -> scalar``; default mean squared error.
        optimizer: default ``Adam(model.parameters(), lr)``.
        scheduler: optional learning-rate scheduler, stepped once per epoch.
        metrics: ``{name: fn(prediction, y)}`` computed on the validation set each epoch.
        device: default :func:`colorlib.device`.
        amp: mixed precision; ``"auto"`` = bf16/fp16 on CUDA, fp32 elsewhere.
        channels_last: ``"auto"`` = on for CUDA.
        grad_clip: clip the gradient norm to this value (after unscaling).
        checkpoint: file written atomically after every epoch (model, optimizer,
            scaler, scheduler, history and RNG states).  An existing file is never
            overwritten unless ``resume=True``.
        resume: continue from ``checkpoint`` if it exists: the final weights equal
            those of an uninterrupted run (same seed, CPU).  A checkpoint that another
            configuration wrote (another model, other arguments or weight shapes,
            another optimizer or scheduler class, or fit_gan) is refused, untouched.
        seed: seeds Python, NumPy and torch at the start of a fresh run.
        progress: tqdm progress bars; ``None`` = on unless ``COLORLIB_PROGRESS=0``
            (set for the quick-mode runs behind the book, whose pages stay clean).
        on_epoch_end: called as ``on_epoch_end(epoch, record)`` after each epoch.
        is_main: ``False`` on the other processes of a distributed run (rank != 0):
            they resume from ``checkpoint`` like rank 0 but never write it, and
            print nothing (see :mod:`colorlib.distributed`).

    Raises:
        FileExistsError: ``checkpoint`` exists and ``resume`` is False.
        colorlib.checkpoint.CheckpointError: ``resume`` found a checkpoint from
            another configuration (the message says what differs).
        FloatingPointError: the loss became NaN or infinite (message gives epoch and step).
    """
    progress = show_progress(progress) and is_main
    verbose = verbose and is_main
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    precision = place([model], device, amp, channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer or torch.optim.Adam(params, lr=lr)
    scaler = precision.scaler()
    path = prepare_checkpoint(checkpoint, resume)
    shuffler = loader_generator(train_loader)
    networks = {"model": unwrap(model)}
    parts = {"optimizer": optimizer, "scaler": scaler, "scheduler": scheduler}
    history, start_epoch = start_or_resume(
        path, resume, kind="colorlib-train-1", networks=networks, parts=parts,
        device=precision.device, shuffler=shuffler, seed=seed, epochs=epochs, verbose=verbose)

    for epoch in range(start_epoch + 1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False,
                   disable=not progress)
        for step, batch in enumerate(bar, 1):
            x, y = to_device(batch, precision)
            with precision.autocast():
                pred = model(x)
            loss = loss_fn(pred.float(), y)
            value = check_finite(loss, "the training loss", epoch, step)
            optimizer_step(optimizer, scaler, loss, params, grad_clip)
            n = batch_size(batch)
            total += value * n
            count += n
            bar.set_postfix(loss=f"{total / count:.4g}")
        if count == 0:
            raise ValueError("the training loader yielded no batches; is the dataset empty?")
        if scheduler is not None:
            scheduler.step()
        record = {"epoch": epoch, "train_loss": total / count}
        if val_loader is not None:
            scores = evaluate(model, val_loader, loss_fn, metrics, precision=precision)
            record.update({f"val_{k}" if k == "loss" else k: v for k, v in scores.items()})
        record["seconds"] = time.perf_counter() - t0
        history.records.append(record)
        if verbose:
            print(" ".join(_fmt(k, v) for k, v in record.items()))
        if path is not None and is_main:
            save_state(path, run_state("colorlib-train-1", networks, parts, epoch, history,
                                       shuffler))
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    model.eval()
    return history


def _fmt(key: str, value) -> str:
    if key == "epoch":
        return f"epoch {value:3d}"
    if key == "seconds":
        return f"({value:.1f} s)"
    return f"{key} {value:.4g}"
