"""Emil Wallner's "alpha" and "beta" colorizers: plain stacks of 3x3 convolutions.

From the blog post "Colorizing B&W Photos with Neural Networks" (2017), the
starting point of the course's alpha / beta / full reports.  Both networks work
in Lab and are nothing but 3x3 convolutions with ReLU and "same" padding, some
with stride 2 (to shrink the image), and nearest-neighbour x2 upsampling (to
grow it back); the last conv has tanh.

As in the original, L goes in *unnormalised* (L in [0, 100], used as is) and
the tanh output is multiplied by 128 to give ab (the original scales its target
by ``ab / 128`` instead -- the same thing).  Normalising L would not change
the parameter count: it has no parameters.

=======  =====================================================================
model    layers (conv channels; s2 = stride 2; up = nearest upsampling x2)
=======  =====================================================================
alpha    8 s2, 8, 16, 16 s2, 32, 32 s2, up, 32, up, 16, up, 2 tanh
beta     64, 64 s2, 128, 128 s2, 256, 256 s2, 512, 256, 128, up, 64, up, 32,
         2 tanh, up
=======  =====================================================================

Alpha has 32,202 parameters (it is meant to overfit one image), beta
3,892,194.  Both shrink the image three times, so H and W must be multiples of 8.

PyTorch's ``padding=1`` pads a stride-2 conv on both sides where Keras' "same"
pads only the bottom and right; the output sizes and parameter counts are the
same, the sampling grid is shifted by one pixel.

Example:
    >>> import torch
    >>> model = AlphaColorizer()
    >>> ab = model(100 * torch.rand(1, 1, 64, 64))
    >>> ab.shape, bool(ab.abs().max() <= 128)
    (torch.Size([1, 2, 64, 64]), True)
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from .base import Colorizer

AB_SCALE = 128.0  # tanh output in [-1, 1] -> ab in [-128, 128]

# One entry per layer: a conv as (channels, stride), or "up" for nearest upsampling x2.
ALPHA_LAYERS = [(8, 2), (8, 1), (16, 1), (16, 2), (32, 1), (32, 2),
                "up", (32, 1), "up", (16, 1), "up", (2, 1)]
BETA_LAYERS = [(64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (256, 1),
               (128, 1), "up", (64, 1), "up", (32, 1), (2, 1), "up"]


def conv_stack(layers: list, in_channels: int = 1, tanh_last: bool = True) -> nn.Sequential:
    """Build a Wallner-style network from a layer list like :data:`ALPHA_LAYERS`.

    Every conv is 3x3 with "same" padding and ReLU, except the last conv, which
    has tanh when ``tanh_last`` (any upsampling after it is kept).
    """
    last_conv = max(i for i, layer in enumerate(layers) if layer != "up") if tanh_last else -1
    modules: list[nn.Module] = []
    c_in = in_channels
    for i, layer in enumerate(layers):
        if layer == "up":
            modules.append(nn.Upsample(scale_factor=2, mode="nearest"))
            continue
        c_out, stride = layer
        modules.append(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1))
        modules.append(nn.Tanh() if i == last_conv else nn.ReLU(inplace=True))
        c_in = c_out
    return nn.Sequential(*modules)


class _WallnerColorizer(Colorizer):
    """L (B, 1, H, W) in [0, 100] -> ab (B, 2, H, W) in [-128, 128]; H, W multiples of 8."""

    space = "lab"
    stride = 8
    layers: list = []

    def __init__(self):
        super().__init__()
        self.net = conv_stack(self.layers)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        self.check_input(L)
        return AB_SCALE * self.net(L)  # L used as is, like the original


class AlphaColorizer(_WallnerColorizer):
    """Wallner's alpha: 12 layers, 32,202 parameters, made to overfit a single image.

    L (B, 1, H, W) in [0, 100] (fed unnormalised) -> ab (B, 2, H, W) in [-128, 128];
    H and W must be multiples of 8.
    """

    layers = ALPHA_LAYERS


class BetaColorizer(_WallnerColorizer):
    """Wallner's beta: 15 layers, 3,892,194 parameters, trained on a set of images.

    L (B, 1, H, W) in [0, 100] (fed unnormalised) -> ab (B, 2, H, W) in [-128, 128];
    H and W must be multiples of 8.
    """

    layers = BETA_LAYERS


@register("wallner_alpha")
def wallner_alpha() -> AlphaColorizer:
    """Wallner's alpha colorizer (32,202 parameters)."""
    return AlphaColorizer()


@register("wallner_beta")
def wallner_beta() -> BetaColorizer:
    """Wallner's beta colorizer (3,892,194 parameters)."""
    return BetaColorizer()
