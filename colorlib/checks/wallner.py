"""Checks for the week-2 exercise: Wallner's alpha network written as an ``nn.Sequential``.

``build_alpha()`` returns the body of :class:`colorlib.models.wallner.AlphaColorizer`:
nine 3x3 convolutions with "same" padding (``padding=1``), ReLU after each but the
last, which has tanh, and three nearest-neighbour x2 upsamplings::

    8 s2, 8, 16, 16 s2, 32, 32 s2, up, 32, up, 16, up, 2 tanh

The check compares the layers one by one with colorlib's (channels, kernel,
stride, padding, bias), the three upsamplings and the parameter count (32,202),
then copies the student's conv weights into colorlib's network *in order* and
runs both on the same random L batch: the outputs must be equal, which they
are only if every activation sits in the right place.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..models.base import count_parameters
from ..models.wallner import ALPHA_LAYERS, conv_stack
from .core import CheckFailed, call, expect_tensor, fail, passed

ALPHA_PARAMETERS = 32_202
LAYOUT = "8 s2, 8, 16, 16 s2, 32, 32 s2, up, 32, up, 16, up, 2 tanh"


def _convs(net: nn.Module) -> list[nn.Conv2d]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d)]


def _describe_conv(conv: nn.Conv2d) -> str:
    return (f"Conv2d({conv.in_channels}, {conv.out_channels}, kernel_size={conv.kernel_size[0]}, "
            f"stride={conv.stride[0]}, padding={conv.padding[0]})")


def _compare_convs(what: str, got: list[nn.Conv2d], ref: list[nn.Conv2d]) -> None:
    if len(got) != len(ref):
        fail(what, f"{len(got)} Conv2d layers, but alpha has {len(ref)}: {LAYOUT}")
    for i, (g, r) in enumerate(zip(got, ref), 1):
        where = f"conv {i} of {len(ref)} ({_describe_conv(g)})"
        if (g.in_channels, g.out_channels) != (r.in_channels, r.out_channels):
            fail(what, f"{where} maps {g.in_channels} -> {g.out_channels} channels, expected "
                       f"{r.in_channels} -> {r.out_channels} (layout: {LAYOUT}; the input is "
                       "L, one channel; the output is a and b, two)")
        if g.kernel_size != r.kernel_size:
            fail(what, f"{where}: every convolution of alpha is 3x3 (kernel_size=3)")
        if g.stride != r.stride:
            fail(what, f"{where} has stride {g.stride[0]}, expected {r.stride[0]}: only the "
                       "three layers marked s2 (the 1st, 4th and 6th conv) have stride=2")
        if g.padding != r.padding:
            fail(what, f"{where}: use padding=1 ('same' padding), so that a stride-1 conv keeps "
                       "H and W and a stride-2 conv exactly halves them")
        if g.dilation != r.dilation or g.groups != r.groups:
            fail(what, f"{where}: use plain convolutions (no dilation, no groups)")
        if (g.bias is None) != (r.bias is None):
            fail(what, f"{where}: keep the bias (bias=True, the default); alpha has no "
                       "BatchNorm that would make it redundant")


def _check_upsampling(what: str, net: nn.Module) -> None:
    ups = [m for m in net.modules() if isinstance(m, nn.Upsample)]
    if len(ups) != 3:
        fail(what, f"{len(ups)} nn.Upsample layers, expected 3 (one before each of the last "
                   "three convs) to undo the three stride-2 convs")
    for m in ups:
        if m.mode != "nearest":
            fail(what, f"an nn.Upsample uses mode={m.mode!r}; alpha uses mode='nearest' "
                       "(Keras' UpSampling2D default), which is also nn.Upsample's default")
        factor = m.scale_factor
        factors = factor if isinstance(factor, tuple) else (factor, factor)
        if m.size is not None or any(float(f) != 2.0 for f in factors):
            fail(what, "each nn.Upsample doubles H and W: nn.Upsample(scale_factor=2)")


def alpha_network(fn) -> None:
    """Check ``fn() -> nn.Module``: Wallner's alpha body, L (B,1,H,W) -> tanh (B,2,H,W)."""
    what = "build_alpha"
    net = call(fn, what="build_alpha()")
    if not isinstance(net, nn.Module):
        fail(what, f"return the network, an nn.Module such as nn.Sequential(...), got "
                   f"{type(net).__name__}")
    ref = conv_stack(ALPHA_LAYERS)
    _compare_convs(what, _convs(net), _convs(ref))
    _check_upsampling(what, net)
    count = count_parameters(net)
    if count != ALPHA_PARAMETERS:
        fail(what, f"{count:,} parameters, expected {ALPHA_PARAMETERS:,}: the convolutions are "
                   "right, so some other layer has parameters (alpha has no BatchNorm)")

    with torch.no_grad():
        for g, r in zip(_convs(net), _convs(ref)):
            r.weight.copy_(g.weight)
            r.bias.copy_(g.bias)
    L = 100 * torch.rand(2, 1, 24, 40, generator=torch.Generator().manual_seed(0))
    net.eval()
    try:
        with torch.no_grad():
            got = net(L.clone())
    except Exception as e:
        raise CheckFailed(f"your network raised {type(e).__name__}: {e} on L of shape "
                          f"{tuple(L.shape)}; are the layers in the order {LAYOUT}?") from e
    if not isinstance(got, torch.Tensor):
        fail(what, f"the network returned {type(got).__name__}; it should return the output "
                   "tensor (B, 2, H, W)")
    with torch.no_grad():
        expected = ref(L)
    if got.shape != expected.shape:
        fail(what, f"L of shape {tuple(L.shape)} gave {tuple(got.shape)}, expected "
                   f"{tuple(expected.shape)}: put one upsampling before each of the last three "
                   "convs")
    # pull the last conv's output below 0: a tanh passes that on, a ReLU clips it to 0
    # (whatever the random weights: the outputs alone may all be positive by chance)
    pulled = copy.deepcopy(net)
    with torch.no_grad():
        _convs(pulled)[-1].bias.fill_(-3.0)
        low = pulled(L.clone())
    if bool((low >= 0).all()):
        fail(what, "the output is never negative, but a and b are: end with nn.Tanh() "
                   "(not ReLU) after the last conv")
    # push the last conv's output far from 0: only a tanh keeps it inside [-1, 1]
    pushed = copy.deepcopy(net)
    with torch.no_grad():
        _convs(pushed)[-1].bias.copy_(torch.tensor([3.0, -3.0]))
        far = pushed(L.clone())
    if far.abs().max() > 1 + 1e-6:
        fail(what, "the output leaves [-1, 1]: end with nn.Tanh() after the last conv "
                   "(the model multiplies it by 128 to get ab)")
    try:
        expect_tensor(got, expected, what, atol=1e-5, rtol=1e-4, names="image channel y x")
    except CheckFailed as e:
        raise CheckFailed(f"{e}. The layers are right, so an activation is missing or misplaced: "
                          "every conv but the last is followed by nn.ReLU(), the last by "
                          "nn.Tanh()") from None
    passed(f"your alpha network ({count:,} parameters)")
