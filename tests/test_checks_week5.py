"""The week-5 exercise checks: hypercolumns, and the 1x1 conv moved before the upsampling."""

import pytest
import torch
import torch.nn.functional as F

from colorlib import checks
from colorlib.checks import CheckFailed
from colorlib.models.hypercolumns import HypercolumnColorizer


def upsample(f, size, mode="bilinear", align_corners=False):
    if tuple(f.shape[-2:]) == tuple(size):
        return f
    if mode == "nearest":
        return F.interpolate(f, size=size, mode="nearest")
    return F.interpolate(f, size=size, mode=mode, align_corners=align_corners)


# ---------------------------------------------------------------------------
# build_hypercolumns
# ---------------------------------------------------------------------------


def good_hypercolumns(features, size):
    return torch.cat([upsample(f, size) for f in features], dim=1)


def test_build_hypercolumns_passes_a_correct_answer(capsys):
    checks.build_hypercolumns(good_hypercolumns)
    assert "Well done" in capsys.readouterr().out


def test_build_hypercolumns_reference_is_the_models_own():
    # the check's expected answer, rebuilt independently from the VGG block outputs
    torch.manual_seed(0)
    model = HypercolumnColorizer()
    Y = torch.rand(1, 1, 16, 24)
    features = model.block_features(Y)
    assert torch.equal(model.hypercolumns(Y), good_hypercolumns(features, (16, 24)))


@pytest.mark.parametrize("wrong, hint", [
    (lambda fs, size: torch.cat([upsample(f, size) for f in fs[::-1]], 1), "reverse order"),
    (lambda fs, size: torch.cat([upsample(f, size, "nearest") for f in fs], 1), "nearest"),
    (lambda fs, size: torch.cat([upsample(f, size, align_corners=True) for f in fs], 1),
     "align_corners=True"),
    (lambda fs, size: torch.cat([upsample(f, size) for f in fs[:3]], 1), "448 channels"),
    (lambda fs, size: torch.cat([upsample(f, size[::-1]) for f in fs], 1), "spatial size"),
    (lambda fs, size: torch.cat([upsample(f, size) for f in fs], 1) * 2, "wrong value at"),
    (lambda fs, size: [upsample(f, size) for f in fs], "expected a torch.Tensor"),
])
def test_build_hypercolumns_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.build_hypercolumns(wrong)


def test_build_hypercolumns_reports_a_crash_with_the_shapes():
    def crashes(features, size):
        return torch.cat(features, dim=1)  # different spatial sizes

    with pytest.raises(CheckFailed, match=r"RuntimeError.*\(2, 64, 16, 24\)"):
        checks.build_hypercolumns(crashes)


# ---------------------------------------------------------------------------
# reduce_then_upsample
# ---------------------------------------------------------------------------


def good_reduce(features, weight, bias, size):
    columns = weight.split([f.shape[1] for f in features], dim=1)
    out = bias.view(1, -1, 1, 1)
    for f, w in zip(features, columns):
        out = out + upsample(F.conv2d(f, w), size)
    return out


def test_reduce_then_upsample_passes_a_correct_answer(capsys):
    checks.reduce_then_upsample(good_reduce)
    assert "Well done" in capsys.readouterr().out


def test_the_efficient_answer_equals_the_naive_conv():
    # the independent reference: the 1x1 conv applied to the concatenated hypercolumns
    torch.manual_seed(0)
    features = [torch.rand(2, c, 16 // s, 24 // s) for c, s in [(64, 1), (128, 2), (256, 4),
                                                                  (512, 8)]]
    weight, bias = torch.randn(128, 960, 1, 1), torch.randn(128)
    naive = F.conv2d(good_hypercolumns(features, (16, 24)), weight, bias)
    assert torch.allclose(good_reduce(features, weight, bias, (16, 24)), naive, atol=1e-4)


def naive_reduce(features, weight, bias, size):
    return F.conv2d(good_hypercolumns(features, size), weight, bias)


def no_bias(features, weight, bias, size):
    return good_reduce(features, weight, torch.zeros_like(bias), size)


def bias_per_block(features, weight, bias, size):
    return good_reduce(features, weight, bias, size) + 3 * bias.view(1, -1, 1, 1)


def same_columns_for_every_block(features, weight, bias, size):
    out = bias.view(1, -1, 1, 1)
    for f in features:
        out = out + upsample(F.conv2d(f, weight[:, : f.shape[1]]), size)
    return out


def upsample_before_conv_with_nearest(features, weight, bias, size):
    columns = weight.split([f.shape[1] for f in features], dim=1)
    out = bias.view(1, -1, 1, 1)
    for f, w in zip(features, columns):
        out = out + upsample(F.conv2d(f, w), size, "nearest")
    return out


@pytest.mark.parametrize("wrong, hint", [
    (naive_reduce, "960 channels at the full image size"),
    (no_bias, "bias is missing"),
    (bias_per_block, "once per block"),
    (same_columns_for_every_block, "wrong value at"),
    (upsample_before_conv_with_nearest, "wrong value at"),
])
def test_reduce_then_upsample_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.reduce_then_upsample(wrong)


def test_reduce_then_upsample_reports_a_missing_upsampling_as_a_crash():
    def not_upsampled(features, weight, bias, size):
        columns = weight.split([f.shape[1] for f in features], dim=1)
        return sum(F.conv2d(f, w) for f, w in zip(features, columns)) + bias.view(1, -1, 1, 1)

    with pytest.raises(CheckFailed, match="reduce_then_upsample raised RuntimeError"):
        checks.reduce_then_upsample(not_upsampled)
