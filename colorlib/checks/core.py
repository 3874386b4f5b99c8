"""The machinery behind every exercise check: compare, explain, raise.

A check calls the student's code on random inputs, compares with colorlib's own
answer and either prints a short pass message or raises :class:`CheckFailed`
(an ``AssertionError``) with a specific hint: wrong type, wrong shape, values
out of range, or the first pixel where the values differ.  A
``NotImplementedError`` from an unsolved exercise is passed through unchanged,
so "Run all" stops at the first unsolved exercise.
"""

from __future__ import annotations

import torch
from torch import nn


class CheckFailed(AssertionError):
    """The student's answer differs from colorlib's; the message says how."""


def passed(what: str) -> None:
    print(f"Well done: {what} matches colorlib.")


def fail(what: str, hint: str) -> None:
    raise CheckFailed(f"{what}: {hint}")


def call(fn, *args, what: str):
    """Call the student's function; turn an unexpected crash into a hint."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as e:  # the student's code crashed: say where to look
        shapes = ", ".join(_describe(a) for a in args if _describe(a))
        called = f" (called with tensors of shape {shapes})" if shapes else ""
        raise CheckFailed(f"{what} raised {type(e).__name__}: {e}{called}") from e


def _describe(arg) -> str:
    """The shape of a tensor argument, or the shapes of a list of tensors ('' otherwise)."""
    if isinstance(arg, torch.Tensor):
        return str(tuple(arg.shape))
    if isinstance(arg, (list, tuple)) and arg and all(isinstance(a, torch.Tensor) for a in arg):
        return "[" + ", ".join(str(tuple(a.shape)) for a in arg) + "]"
    return ""


def expect_tensor(got, expected: torch.Tensor, what: str, atol: float, rtol: float = 0.0,
                  value_range: tuple[float, float] | None = None, names: str = "") -> None:
    """Compare ``got`` with ``expected``; raise CheckFailed with the first difference."""
    if not isinstance(got, torch.Tensor):
        fail(what, f"expected a torch.Tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        fail(what, f"wrong shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
                   + _shape_hint(got.shape, expected.shape))
    got = got.detach().float().cpu()
    expected = expected.detach().float().cpu()
    if not torch.isfinite(got).all():
        fail(what, "the result contains NaN or inf values (a division by zero, or a power of "
                   "a negative number?)")
    if value_range is not None:
        lo, hi = value_range
        if got.min() < lo - atol or got.max() > hi + atol:
            fail(what, f"values should lie in [{lo:g}, {hi:g}] but range from "
                       f"{got.min():.4g} to {got.max():.4g}")
    diff = (got - expected).abs()
    bad = diff > atol + rtol * expected.abs()
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        where = ", ".join(f"{n}={i}" for n, i in zip(names.split(), index)) if names else index
        fail(what, f"wrong value at ({where}): got {got[index]:.5g}, expected "
                   f"{expected[index]:.5g} (largest difference {diff.max():.3g}, "
                   f"{int(bad.sum())} of {bad.numel()} values off)")


def close(got, expected: torch.Tensor | None, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """True when ``got`` is a finite tensor of ``expected``'s shape with (nearly) its values.

    Checks use it to recognise a typical mistake: ``expected`` is what that mistake
    computes (``None`` when the mistake cannot even run, which never matches).
    """
    return (isinstance(got, torch.Tensor) and expected is not None
            and got.shape == expected.shape
            and bool(torch.isfinite(got).all())
            and torch.allclose(got.detach().float(), expected.detach().float(),
                               atol=atol, rtol=rtol))


def parameter_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    """The shapes of ``model``'s parameter tensors, in order."""
    return [tuple(p.shape) for p in model.parameters()]


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Copy ``src``'s parameters and BatchNorm statistics into ``dst``, in order.

    For a student's network and colorlib's whose parameter shapes are known to match
    (:func:`parameter_shapes`), so that both compute the same function.
    """
    with torch.no_grad():
        for s, d in zip(src.parameters(), dst.parameters()):
            d.copy_(s)
        src_buffers = [b for b in src.buffers() if b.dtype.is_floating_point]
        dst_buffers = [b for b in dst.buffers() if b.dtype.is_floating_point]
        if len(src_buffers) == len(dst_buffers):
            for s, d in zip(src_buffers, dst_buffers):
                if s.shape == d.shape:
                    d.copy_(s)


def _shape_hint(got: torch.Size, expected: torch.Size) -> str:
    if len(got) == len(expected) - 1:
        return " - did you drop a dimension? keep it with keepdim=True or x[:, None]"
    if sorted(got) == sorted(expected):
        return " - the dimensions are in the wrong order (channels come before H and W)"
    return ""
