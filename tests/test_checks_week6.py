"""The week-6 exercise checks: soft-encoding, rebalancing weights and the annealed mean.

Every check must pass a correct answer written independently of colorlib (plain torch,
the way a student would write it) and fail, with a specific hint, on typical mistakes.
"""

import pytest
import torch

from colorlib import checks
from colorlib.checks import CheckFailed

# --------------------------------------------------------------------------- soft_encode


def _dense(ab, centers, k, weights_of_d2):
    b, _, h, w = ab.shape
    x = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(x.double(), centers.double()).square()
    near, idx = d2.topk(k, dim=1, largest=False)
    out = torch.zeros_like(d2).scatter_(1, idx, weights_of_d2(near))
    return out.float().view(b, h, w, -1).permute(0, 3, 1, 2)


def good_soft_encode(ab, centers, k=5, sigma=5.0):
    def gaussian(d2):
        g = torch.exp(-d2 / (2 * sigma**2))
        return g / g.sum(1, keepdim=True)

    return _dense(ab, centers, k, gaussian)


def test_soft_encode_passes_a_correct_answer(capsys):
    checks.soft_encode(good_soft_encode)
    assert "Well done" in capsys.readouterr().out


def unnormalised(ab, centers, k=5, sigma=5.0):
    return _dense(ab, centers, k, lambda d2: torch.exp(-d2 / (2 * sigma**2)))


def one_hot(ab, centers, k=5, sigma=5.0):
    return good_soft_encode(ab, centers, 1, sigma)


def every_bin(ab, centers, k=5, sigma=5.0):
    return good_soft_encode(ab, centers, len(centers), sigma)


def distance_not_squared(ab, centers, k=5, sigma=5.0):
    def w(d2):
        g = torch.exp(-d2.sqrt() / (2 * sigma**2))
        return g / g.sum(1, keepdim=True)

    return _dense(ab, centers, k, w)


def no_factor_two(ab, centers, k=5, sigma=5.0):
    def w(d2):
        g = torch.exp(-d2 / sigma**2)
        return g / g.sum(1, keepdim=True)

    return _dense(ab, centers, k, w)


def fixed_k_and_sigma(ab, centers, k=5, sigma=5.0):
    return good_soft_encode(ab, centers, 5, 5.0)


def channels_last(ab, centers, k=5, sigma=5.0):
    return good_soft_encode(ab, centers, k, sigma).permute(0, 2, 3, 1)


@pytest.mark.parametrize("wrong, hint", [
    (unnormalised, "sum to 1"),
    (one_hot, "one-hot"),
    (every_bin, "only the k = 5 nearest"),
    (distance_not_squared, "squared"),
    (no_factor_two, r"2 sigma\^2"),
    (fixed_k_and_sigma, "use the arguments k and sigma"),
    (channels_last, "wrong shape"),
])
def test_soft_encode_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.soft_encode(wrong)


# --------------------------------------------------------------------------- rebalance_weights


def good_weights(prior, lam=0.5):
    w = 1.0 / ((1 - lam) * prior + lam / len(prior))
    return w / (prior * w).sum()


def test_rebalance_weights_passes_a_correct_answer(capsys):
    checks.rebalance_weights(good_weights)
    assert "Well done" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, lam=0.5: 1.0 / ((1 - lam) * p + lam / len(p)), "not normalised"),
    (lambda p, lam=0.5: good_weights(p, lam) / good_weights(p, lam).sum(), "sum to 1"),
    (lambda p, lam=0.5: good_weights(p, lam) / good_weights(p, lam).mean(), "average to 1"),
    (lambda p, lam=0.5: ((1 - lam) * p + lam / len(p)) / (p * ((1 - lam) * p + lam / len(p))).sum(),
     "inverse"),
    (lambda p, lam=0.5: good_weights(p, 1 - lam), "swapped"),
    (lambda p, lam=0.5: good_weights(p, lam)[:-1], "wrong shape"),
])
def test_rebalance_weights_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.rebalance_weights(wrong)


# --------------------------------------------------------------------------- annealed_mean


def good_annealed_mean(probs, centers, T):
    f = torch.softmax(torch.log(probs) / T, dim=1)
    return torch.einsum("bqhw,qc->bchw", f, centers)


def test_annealed_mean_passes_a_correct_answer(capsys):
    checks.annealed_mean(good_annealed_mean)
    assert "Well done" in capsys.readouterr().out


def plain_mean(probs, centers, T):
    return good_annealed_mean(probs, centers, 1.0)


def divides_probs(probs, centers, T):
    return torch.einsum("bqhw,qc->bchw", torch.softmax(probs / T, 1), centers)


def power_t(probs, centers, T):
    f = probs**T
    return torch.einsum("bqhw,qc->bchw", f / f.sum(1, keepdim=True), centers)


def not_renormalised(probs, centers, T):
    return torch.einsum("bqhw,qc->bchw", probs ** (1 / T), centers)


def underflows(probs, centers, T):
    f = (probs * 1e-3) ** (1 / T)  # small probabilities raised to a large power: 0 / 0
    return torch.einsum("bqhw,qc->bchw", f / f.sum(1, keepdim=True), centers)


@pytest.mark.parametrize("wrong, hint", [
    (plain_mean, "T is not used"),
    (divides_probs, "logarithm"),
    (power_t, r"p \*\* \(1 / T\)"),
    (not_renormalised, "renormalised"),
    (underflows, "underflows"),
    (lambda probs, centers, T: good_annealed_mean(probs, centers, T)[:, :1], "wrong shape"),
])
def test_annealed_mean_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.annealed_mean(wrong)


def test_a_crash_becomes_a_hint_with_the_shapes():
    def crashes(ab, centers, k=5, sigma=5.0):
        return ab @ centers  # wrong dimensions

    with pytest.raises(CheckFailed, match=r"soft_encode raised RuntimeError.*\(2, 2, 5, 6\)"):
        checks.soft_encode(crashes)
