"""Checks for the classification-colorizer exercises (week 6, Zhang et al.).

Each exercise re-implements one piece of :mod:`colorlib.quantize` in plain torch and is
compared with it on random inputs:

* ``soft_encode(ab, centers, k, sigma)``: ab (B, 2, H, W) -> soft targets (B, Q, H, W);
* ``rebalance_weights(prior, lam)``: (Q,) bin frequencies -> (Q,) class weights;
* ``annealed_mean(probs, centers, T)``: probabilities (B, Q, H, W) -> ab (B, 2, H, W).

``centers`` is a (Q, 2) float tensor of ab bin centres (raw Lab units).
"""

from __future__ import annotations

import torch

from .. import quantize
from ..quantize import ABBins
from .core import call, close, expect_tensor, fail, passed

_TOL = 1e-5


def _bins(seed: int) -> ABBins:
    """A small, irregular set of bins on the grid of 10 (like a dataset's occupancy)."""
    g = torch.Generator().manual_seed(seed)
    ab = torch.randn(3000, 2, generator=g) * torch.tensor([25.0, 30.0]) + torch.tensor([5.0, 10.0])
    return ABBins.from_data(ab)


def _random_ab(bins: ABBins, shape, seed: int) -> torch.Tensor:
    """ab values spread over the bins (and a little beyond), (B, 2, H, W)."""
    g = torch.Generator().manual_seed(seed)
    lo = bins.centers.min(0).values.view(1, 2, 1, 1) - 5
    hi = bins.centers.max(0).values.view(1, 2, 1, 1) + 5
    return lo + (hi - lo) * torch.rand(shape, generator=g)


# --------------------------------------------------------------------------- soft-encoding


def _soft_encode_variant(ab, centers, k, weight_of_d2):
    """A dense soft-encoding with some other weighting of the squared distances."""
    b, _, h, w = ab.shape
    x = ab.permute(0, 2, 3, 1).reshape(-1, 1, 2)
    d2 = (x - centers[None]).square().sum(-1)  # (N, Q)
    near, idx = d2.topk(k, dim=1, largest=False)
    weights = weight_of_d2(near)
    out = torch.zeros_like(d2).scatter_(1, idx, weights)
    return out.view(b, h, w, -1).permute(0, 3, 1, 2)


def soft_encode(fn) -> None:
    """Check ``fn(ab, centers, k=5, sigma=5.0) -> (B, Q, H, W)`` against
    :func:`colorlib.quantize.soft_encode`: k nearest centres, Gaussian weights summing to 1.
    """
    what = "soft_encode"
    bins = _bins(0)
    centers = bins.centers.clone()
    ab = _random_ab(bins, (2, 2, 5, 6), seed=1)
    expected = quantize.soft_encode(ab, bins, k=5, sigma=5.0)
    got = call(fn, ab.clone(), centers.clone(), 5, 5.0, what=what)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        got = got.detach().float()
        sums = got.sum(1)
        one = torch.ones_like(sums)
        if torch.isfinite(sums).all() and not torch.allclose(sums, one, atol=1e-4):
            fail(what, f"the weights of a pixel should sum to 1 but sum to {sums.min():.4g} ... "
                       f"{sums.max():.4g}: divide by their sum")
        nonzero = int((got[:, :, 0, 0] > 0).sum(1).max())
        if nonzero == 1:
            fail(what, "all the weight is on one bin (a one-hot code); spread it over the k = 5 "
                       "nearest centres with Gaussian weights")
        if nonzero > 5:
            fail(what, f"{nonzero} bins get weight in one pixel; only the k = 5 nearest centres "
                       "should (the others stay 0) - use topk(k, largest=False) on the distances")
        wrong = {
            "exp(-d / (2 sigma^2)) with the distance d; use the *squared* distance d^2":
                lambda d2: torch.softmax(-d2.sqrt() / 50.0, 1),
            "exp(-d^2 / sigma^2); the Gaussian is exp(-d^2 / (2 sigma^2))":
                lambda d2: torch.softmax(-d2 / 25.0, 1),
            "weights proportional to the distance; nearer centres should weigh more":
                lambda d2: d2 / d2.sum(1, keepdim=True),
        }
        for hint, weighting in wrong.items():
            if close(got, _soft_encode_variant(ab, centers, 5, weighting)):
                fail(what, f"you used {hint}")
    expect_tensor(got, expected, what, atol=_TOL, names="image bin y x")
    # a second call with other k and sigma: are they used at all?
    ab2 = _random_ab(bins, (1, 2, 3, 4), seed=2)
    expected2 = quantize.soft_encode(ab2, bins, k=3, sigma=8.0)
    got2 = call(fn, ab2.clone(), centers.clone(), 3, 8.0, what=what)
    if isinstance(got2, torch.Tensor) and got2.shape == expected2.shape and not close(
            got2, expected2, atol=_TOL):
        fail(what, "right for k = 5 and sigma = 5 but wrong for k = 3, sigma = 8: use the "
                   "arguments k and sigma instead of fixed numbers")
    expect_tensor(got2, expected2, what + " (k = 3, sigma = 8)", atol=_TOL,
                  names="image bin y x")
    passed("your soft_encode")


# --------------------------------------------------------------------------- rebalancing


def rebalance_weights(fn) -> None:
    """Check ``fn(prior, lam=0.5) -> (Q,)`` against :func:`colorlib.quantize.rebalance_weights`:
    ``w ~ 1 / ((1 - lam) p + lam / Q)``, scaled so that ``sum(p * w) == 1``.
    """
    what = "rebalance_weights"
    g = torch.Generator().manual_seed(3)
    prior = torch.rand(40, generator=g) ** 4
    prior = prior / prior.sum()
    for lam in (0.5, 0.3):
        expected = quantize.rebalance_weights(prior, lam)
        got = call(fn, prior.clone(), lam, what=what)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            got = got.detach().double()
            q = len(prior)
            raw = 1 / ((1 - lam) * prior.double() + lam / q)
            if close(got, raw, atol=1e-6):
                fail(what, "not normalised: scale the weights so that the expected weight of a "
                           "pixel, sum(prior * w), is 1")
            if close(got, raw / raw.sum(), atol=1e-6):
                fail(what, "normalised so that the weights sum to 1; scale them so that "
                           "sum(prior * w) = 1 instead (the expected weight of a pixel)")
            if close(got, raw / raw.mean(), atol=1e-6):
                fail(what, "normalised so that the weights average to 1; scale them so that "
                           "sum(prior * w) = 1 instead (weighted by how often each bin occurs)")
            mixed = (1 - lam) * prior.double() + lam / q
            if close(got, mixed / (prior.double() * mixed).sum(), atol=1e-6):
                fail(what, "the weights grow with the prior; take the inverse, "
                           "1 / ((1 - lam) p + lam / Q), so that rare colours weigh more")
            if lam != 0.5:
                swapped = 1 / (lam * prior.double() + (1 - lam) / q)
                if close(got, swapped / (prior.double() * swapped).sum(), atol=1e-6):
                    fail(what, f"lam and 1 - lam are swapped (right only for lam = 0.5): "
                               f"lam = {lam} is the weight of the *uniform* distribution")
        expect_tensor(got, expected, f"{what} (lam = {lam})", atol=1e-5, rtol=1e-5,
                      names="bin")
    passed("your rebalance_weights")


# --------------------------------------------------------------------------- decoding


def annealed_mean(fn) -> None:
    """Check ``fn(probs, centers, T) -> (B, 2, H, W)`` against
    :func:`colorlib.quantize.annealed_mean` (probabilities in, ab out), for T = 1, 0.38, 0.05.
    """
    what = "annealed_mean"
    bins = _bins(4)
    centers = bins.centers.clone()
    g = torch.Generator().manual_seed(5)
    probs = torch.softmax(torch.randn(2, len(bins), 3, 4, generator=g) * 2.5, dim=1)
    for T in (1.0, 0.38, 0.05):
        expected = quantize.annealed_mean(probs, bins, T=T, from_logits=False)
        got = call(fn, probs.clone(), centers.clone(), T, what=what)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            got = got.detach().float()
            if not torch.isfinite(got).all():
                fail(what, f"NaN or inf at T = {T}: p ** (1 / T) underflows for small T; "
                           "compute softmax(log(p) / T) over the bins instead")
            mean = quantize.annealed_mean(probs, bins, T=1.0, from_logits=False)
            if T != 1.0 and close(got, mean):
                fail(what, f"at T = {T} you return the plain mean (T = 1): T is not used")
            sharpened = torch.softmax(probs / T, dim=1)
            if close(got, torch.einsum("bqhw,qc->bchw", sharpened, centers)):
                fail(what, "you divided the probabilities by T; divide their *logarithm*: "
                           "softmax(log(p) / T)")
            flat = probs ** T
            if T != 1.0 and close(got, torch.einsum("bqhw,qc->bchw",
                                                     flat / flat.sum(1, keepdim=True), centers)):
                fail(what, "you raised p to the power T; it is p ** (1 / T) (a small T "
                           "sharpens the distribution)")
            if T != 1.0 and close(got, torch.einsum("bqhw,qc->bchw", probs ** (1 / T),
                                                     centers)):
                fail(what, "p ** (1 / T) must be renormalised to sum to 1 over the bins")
        expect_tensor(got, expected, f"{what} (T = {T})", atol=1e-3, rtol=1e-4,
                      names="image channel y x")
    passed("your annealed_mean")
