"""Checks for the week-1 exercise: a hand-written training loop.

``train_one_epoch(model, loader, optimizer)`` should do, for every batch ``(x, y)``
of ``loader``: forward pass, ``F.cross_entropy(logits, y)``, ``optimizer.zero_grad()``,
``loss.backward()``, ``optimizer.step()``; the model must be in training mode
(``model.train()``), and the function returns the mean loss per *example* as a
Python float.

The check runs the student's loop and a reference loop for one epoch on the same
tiny, deterministic problem (10 random 6 x 6 "images", 3 classes, batches of
4, 4 and 2, a net with BatchNorm and dropout, plain SGD) from the same weights and
the same random seed, and compares the weights (and BatchNorm statistics) after
the epoch and the returned loss.  When they differ it replays the usual mistakes
(no ``zero_grad``, no ``model.train()``, softmax before the loss, returning inside
the loop, averaging batch means) to say which one it was.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .core import CheckFailed, fail, passed

N_EXAMPLES, BATCH, CLASSES = 10, 4, 3  # batches of 4, 4 and 2: the last one is smaller
DROPOUT_SEED = 1234  # global seed set before each run, so dropout masks are the same


def _tiny_net() -> nn.Module:
    """A 1x6x6 -> 3 class net with BatchNorm and dropout (both differ in train and eval mode)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
        nn.Flatten(), nn.Linear(4 * 4 * 4, CLASSES),
    )


def _problem(seed: int = 0) -> tuple[dict, DataLoader]:
    """Initial weights and a loader (not shuffled, own generator: no global RNG used)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_EXAMPLES, 1, 6, 6, generator=g)
    y = torch.randint(0, CLASSES, (N_EXAMPLES,), generator=g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        init = {k: v.clone() for k, v in _tiny_net().state_dict().items()}
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=False,
                        generator=torch.Generator().manual_seed(seed))
    return init, loader


def _fresh(init: dict) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The tiny net with the initial weights, handed over in *eval* mode, and plain SGD."""
    model = _tiny_net()
    model.load_state_dict(init)
    model.eval()  # as after an evaluation: the loop itself must switch to training mode
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def _reference(model, loader, optimizer, *, zero_grad=True, train=True, softmax=False,
               first_batch_only=False):
    """The correct loop, or one of the usual mistakes; returns the per-batch (loss, size)."""
    if train:
        model.train()
    losses = []
    for x, y in loader:
        logits = model(x)
        if softmax:
            logits = logits.softmax(dim=1)
        loss = F.cross_entropy(logits, y)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), len(x)))
        if first_batch_only:
            break
    return losses


def _run(fn, init, loader, **variant):
    """Run ``fn`` (the student's loop) or a reference variant; returns (state, result)."""
    model, optimizer = _fresh(init)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DROPOUT_SEED)
        if fn is None:
            result = _reference(model, loader, optimizer, **variant)
        else:
            try:
                result = fn(model, loader, optimizer)
            except NotImplementedError:
                raise
            except Exception as e:  # the student's loop crashed: say where to look
                raise CheckFailed(
                    f"train_one_epoch raised {type(e).__name__}: {e} (it was called with a "
                    "small nn.Sequential, a DataLoader of (x, y) batches - x (B, 1, 6, 6), "
                    "y (B,) class indices - and an SGD optimizer)") from e
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, result


def _same(a: dict, b: dict) -> bool:
    return all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6, rtol=1e-5) for k in a)


def _largest_difference(a: dict, b: dict) -> tuple[str, float]:
    diffs = {k: float((a[k].float() - b[k].float()).abs().max()) for k in a}
    name = max(diffs, key=diffs.get)
    return name, diffs[name]


def train_one_epoch(fn) -> None:
    """Check ``fn(model, loader, optimizer) -> float``: one epoch of training, mean loss."""
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
        _check_train_one_epoch(fn)


def _check_train_one_epoch(fn) -> None:
    what = "train_one_epoch"
    init, loader = _problem()
    got, value = _run(fn, init, loader)
    if got.keys() != init.keys():
        fail(what, "the model's parameters were replaced; train the model you are given")
    expected, batches = _run(None, init, loader)

    if not _same(got, expected):
        weights = [name for name, _ in _tiny_net().named_parameters()]
        if _same({k: got[k] for k in weights}, init):
            fail(what, "the parameters did not change at all: for every batch call "
                       "loss.backward() and then optimizer.step() (and call "
                       "optimizer.zero_grad() before backward, not between backward and step)")
        mistakes = [
            ({"zero_grad": False}, "the gradients piled up from batch to batch: call "
             "optimizer.zero_grad() in every step, before loss.backward()"),
            ({"train": False}, "the model stayed in evaluation mode (BatchNorm used its running "
             "statistics and dropout was off): call model.train() at the start of the epoch; "
             "the model may come to you in eval mode, e.g. after an evaluation"),
            ({"softmax": True}, "F.cross_entropy takes the raw logits and applies log-softmax "
             "itself: do not apply softmax to the model's output first"),
            ({"first_batch_only": True}, "only the first batch was used: is the `return` "
             "indented inside the loop? Return after the loop has seen every batch"),
        ]
        for variant, hint in mistakes:
            if _same(got, _run(None, init, loader, **variant)[0]):
                fail(what, hint)
        name, diff = _largest_difference(got, expected)
        fail(what, f"after one epoch the weights differ from the reference loop's (largest "
                   f"difference {diff:.3g}, in {name!r}). For every batch (x, y): "
                   "logits = model(x); loss = F.cross_entropy(logits, y); "
                   "optimizer.zero_grad(); loss.backward(); optimizer.step()")

    mean = sum(v * n for v, n in batches) / sum(n for _, n in batches)
    if isinstance(value, torch.Tensor):
        fail(what, "return a Python float, e.g. total / count where total adds loss.item() * "
                   "len(x): summing loss tensors keeps every batch's computation graph in memory")
    if value is None:
        fail(what, "the function returned None: return the mean training loss of the epoch")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        fail(what, f"return the mean loss as a float, got {type(value).__name__}")
    value = float(value)
    if not math.isclose(value, mean, rel_tol=1e-5, abs_tol=1e-6):
        batch_mean = sum(v for v, _ in batches) / len(batches)
        if math.isclose(value, batch_mean, rel_tol=1e-5):
            fail(what, f"you returned the mean of the batch losses ({value:.5f}); the last "
                       "batch is smaller, so weight each batch by its size: add "
                       "loss.item() * len(x) and divide by the number of examples "
                       f"(expected {mean:.5f})")
        if math.isclose(value, sum(v for v, _ in batches), rel_tol=1e-5) or math.isclose(
                value, sum(v * n for v, n in batches), rel_tol=1e-5):
            fail(what, f"you returned a sum ({value:.5f}); divide by the number of examples "
                       f"to get the mean loss per example (expected {mean:.5f})")
        if math.isclose(value, batches[-1][0], rel_tol=1e-5):
            fail(what, "you returned the last batch's loss; return the mean over the whole "
                       f"epoch (expected {mean:.5f})")
        fail(what, f"returned {value:.5f}, expected the mean loss per example {mean:.5f} "
                   "(the losses computed before each step, weighted by batch size)")
    passed("your train_one_epoch (weights after one epoch and the mean loss)")
