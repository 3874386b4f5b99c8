"""Checks for the evaluation exercises (week 9): PSNR per image, Wilson's interval."""

from __future__ import annotations

import math

import torch

from .. import metrics, study
from .core import call, expect_tensor, fail, passed

#: (k, n) cases for the interval check: the report's study, the edges, small n
INTERVAL_CASES = ((174, 300), (0, 10), (10, 10), (1, 2), (37, 50), (3, 1000))


def psnr_per_image(fn) -> None:
    """Check ``fn(pred, target) -> (B,)`` PSNR in dB (images in [0, 1]) against colorlib's."""
    g = torch.Generator().manual_seed(9)
    target = torch.rand(4, 3, 8, 8, generator=g)
    noise = torch.tensor([0.02, 0.05, 0.1, 0.3]).view(4, 1, 1, 1)
    pred = (target + noise * torch.randn(4, 3, 8, 8, generator=g)).clamp(0, 1)
    what = "psnr_per_image"
    got = call(fn, pred.clone(), target.clone(), what=what)
    expected = metrics.psnr(pred, target)
    if isinstance(got, torch.Tensor) and got.dim() == 0:
        fail(what, "you returned one number for the whole batch; keep one value per image: "
                   "average the squared error over dims (1, 2, 3) only")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        ratio = (got.float() / expected).mean().item()
        if abs(ratio - 2) < 0.05:
            fail(what, "your values are twice colorlib's: 10 log10(1 / MSE) uses the *mean "
                       "squared* error (or 20 log10(1 / RMSE)), not 20 log10(1 / MSE)")
        if got.float().mean() < 0:
            fail(what, "negative PSNR: the formula is 10 log10(peak^2 / MSE), with peak 1 "
                       "for images in [0, 1]; check the order of the division")
    expect_tensor(got, expected, what, atol=1e-3, names="image")
    passed("your psnr_per_image")


def wilson_interval(fn) -> None:
    """Check ``fn(k, n) -> (low, high)``, the 95 % Wilson score interval (z = 1.96)."""
    what = "wilson_interval"
    for k, n in INTERVAL_CASES:
        got = call(fn, k, n, what=what)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail(what, f"return a pair (low, high); for k={k}, n={n} you returned {got!r}")
        low, high = (float(v) for v in got)
        exp_low, exp_high = study.wilson_interval(k, n, 0.95)
        if abs(low - exp_low) < 2e-3 and abs(high - exp_high) < 2e-3:
            continue
        p = k / n
        half = 1.96 * math.sqrt(p * (1 - p) / n)
        if abs(low - (p - half)) < 1e-3 and abs(high - (p + half)) < 1e-3:
            fail(what, f"for k={k}, n={n} you returned the normal-approximation (Wald) "
                       f"interval p +- z sqrt(p(1-p)/n) = ({low:.4f}, {high:.4f}); Wilson's "
                       "centre moves towards 1/2 and its half-width has an extra z^2/4n^2 "
                       "term: see the formulas above")
        if low > high:
            fail(what, f"for k={k}, n={n} low ({low:.4f}) is above high ({high:.4f})")
        fail(what, f"for k={k} of n={n} expected ({exp_low:.4f}, {exp_high:.4f}), got "
                   f"({low:.4f}, {high:.4f})")
    passed("your wilson_interval")
