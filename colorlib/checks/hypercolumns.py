"""Checks for the hypercolumn exercises (week 5).

Both exercises work on the four VGG16 block outputs of a small random batch, as
:meth:`colorlib.models.hypercolumns.HypercolumnColorizer.block_features` returns them:
(B, 64, H, W), (B, 128, H/2, W/2), (B, 256, H/4, W/4), (B, 512, H/8, W/8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ..models.hypercolumns import HypercolumnColorizer
from .core import call, close, expect_tensor, fail, passed

SIZE = (16, 24)  # not square, so that swapped H and W show


def _test_model(seed: int) -> HypercolumnColorizer:
    """A naive hypercolumn model whose activations have a useful scale (not all near 0)."""
    torch.manual_seed(seed)
    model = HypercolumnColorizer(efficient=False)
    for m in model.vgg:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    with torch.no_grad():
        model.reduce.bias.uniform_(-0.5, 0.5)
    return model


def _test_batch(seed: int) -> tuple[HypercolumnColorizer, torch.Tensor, list[torch.Tensor]]:
    model = _test_model(seed)
    Y = torch.rand(2, 1, *SIZE, generator=torch.Generator().manual_seed(seed))
    return model, Y, model.block_features(Y)


def _upsampled(features, size, **how) -> torch.Tensor:
    return torch.cat([f if tuple(f.shape[-2:]) == size else F.interpolate(f, size=size, **how)
                      for f in features], dim=1)


def build_hypercolumns(fn) -> None:
    """Check ``fn(features, size) -> (B, 960, H, W)``: upsample every block, concatenate.

    ``features`` is the list of the four block outputs and ``size`` the image's
    ``(H, W)``; the expected answer is :meth:`HypercolumnColorizer.hypercolumns`.
    """
    what = "build_hypercolumns"
    model, Y, features = _test_batch(0)
    expected = model.hypercolumns(Y)
    got = call(fn, [f.clone() for f in features], SIZE, what=what)
    if isinstance(got, torch.Tensor) and got.shape != expected.shape:
        if got.dim() == 4 and got.shape[1] == expected.shape[1] and got.shape[-2:] != SIZE:
            fail(what, f"spatial size {tuple(got.shape[-2:])}, expected {SIZE}: upsample "
                       "every block to `size` = (H, W), in that order")
        if got.dim() == 4 and got.shape[1] != expected.shape[1]:
            fail(what, f"{got.shape[1]} channels, expected {expected.shape[1]} = "
                       "64 + 128 + 256 + 512: concatenate all four blocks along dim=1")
    if close(got, _upsampled(features[::-1], SIZE, mode="bilinear", align_corners=False)):
        fail(what, "the blocks are concatenated in reverse order; keep the order "
                   "block 1, 2, 3, 4 (64 channels first)")
    for how, name in [({"mode": "nearest"}, "nearest-neighbour"),
                      ({"mode": "bilinear", "align_corners": True}, "align_corners=True")]:
        if close(got, _upsampled(features, SIZE, **how)):
            fail(what, f"you upsampled with {name}; use mode='bilinear', "
                       "align_corners=False (what the model uses)")
    expect_tensor(got, expected, what, atol=1e-5, rtol=1e-5, names="image channel y x")
    passed("your build_hypercolumns")


class _WatchFullSizeMaps(TorchFunctionMode):
    """Remember the largest channel count of any (B, C, H, W) result at the image size."""

    def __init__(self, size: tuple[int, int]):
        super().__init__()
        self.size = size
        self.most_channels = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.dim() == 4 and tuple(t.shape[-2:]) == self.size:
                self.most_channels = max(self.most_channels, t.shape[1])
        return out


def reduce_then_upsample(fn) -> None:
    """Check ``fn(features, weight, bias, size) -> (B, 128, H, W)``, the efficient first layer.

    ``weight`` (128, 960, 1, 1) and ``bias`` (128,) are the naive model's 1x1 conv on the
    hypercolumns.  The answer must equal that conv applied to the full hypercolumns
    (:meth:`HypercolumnColorizer.reduced` of the naive model) *without* building them:
    no tensor at the image size may have more than 128 channels.
    """
    what = "reduce_then_upsample"
    model, Y, features = _test_batch(1)
    weight, bias = model.reduce.weight.detach(), model.reduce.bias.detach()
    with torch.no_grad():
        expected = model.reduced(Y)
    watch = _WatchFullSizeMaps(SIZE)
    with watch:
        got = call(fn, [f.clone() for f in features], weight.clone(), bias.clone(), SIZE,
                   what=what)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        got = got.detach()
        if close(got, expected - bias.view(1, -1, 1, 1)):
            fail(what, "the bias is missing: add it once, to the sum")
        if close(got, expected + (len(features) - 1) * bias.view(1, -1, 1, 1)):
            fail(what, "the bias is added once per block; add it only once, to the sum")
    expect_tensor(got, expected, what, atol=1e-4, rtol=1e-4, names="image channel y x")
    if watch.most_channels > weight.shape[0]:
        fail(what, f"the values are right, but a tensor with {watch.most_channels} channels "
                   f"at the full image size was built: convolve each block at its own size "
                   f"*first* (F.conv2d with its {weight.shape[0]} x C_k slice of the weight), "
                   "then upsample the results")
    passed("your reduce_then_upsample (it equals the 1x1 conv on the full hypercolumns)")
