"""A tiny Lab colorizer for the first notebook, the demo and the tests.

Three stride-2 conv stages down, three up, with one skip connection.  Small
enough to learn something in a minute on a laptop CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from .base import Colorizer


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyColorizer(Colorizer):
    """L (B, 1, H, W) in [0, 100] -> ab (B, 2, H, W), |ab| <= 110; H, W multiples of 8."""

    space = "lab"
    stride = 8

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.down = nn.Sequential(_block(1, w), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 2),
                                  _block(4 * w, 4 * w, 2))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), _block(4 * w, 2 * w),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), _block(2 * w, w),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), _block(w, w),
        )
        self.head = nn.Conv2d(w + 1, 2, 3, padding=1)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        x = L / 50 - 1
        features = self.up(self.down(x))
        return 110 * torch.tanh(self.head(torch.cat([features, x], dim=1)))


@register("tiny")
def tiny(width: int = 16) -> TinyColorizer:
    """The tiny colorizer (about 30 k parameters at ``width=16``)."""
    return TinyColorizer(width)
