"""Week 9 checks: a correct answer passes, a wrong one gets a specific hint."""

import math

import pytest
import torch

from colorlib import checks
from colorlib.checks import CheckFailed


def psnr_right(pred, target):
    mse = (pred - target).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(1 / mse)


def wilson_right(k, n):
    z, p = 1.96, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_correct_answers_pass(capsys):
    checks.psnr_per_image(psnr_right)
    checks.wilson_interval(wilson_right)
    assert capsys.readouterr().out.count("Well done") == 2


@pytest.mark.parametrize("wrong,hint", [
    (lambda p, t: 10 * torch.log10(1 / (p - t).pow(2).mean()), "one number for the whole batch"),
    (lambda p, t: 20 * torch.log10(1 / (p - t).pow(2).mean(dim=(1, 2, 3))), "twice colorlib's"),
    (lambda p, t: 10 * torch.log10((p - t).pow(2).mean(dim=(1, 2, 3))), "negative PSNR"),
    (lambda p, t: 10 * torch.log10(1 / (p - t).abs().mean(dim=(1, 2, 3))), "wrong value at"),
    (lambda p, t: psnr_right(p, t)[:, None], "wrong shape"),
])
def test_wrong_psnr_gets_a_hint(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.psnr_per_image(wrong)


def wald(k, n):
    p = k / n
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


@pytest.mark.parametrize("wrong,hint", [
    (wald, "Wald"),
    (lambda k, n: wilson_right(k, n)[::-1], "above high"),
    (lambda k, n: k / n, "return a pair"),
    (lambda k, n: (0.0, 1.0), "expected"),
])
def test_wrong_interval_gets_a_hint(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.wilson_interval(wrong)
