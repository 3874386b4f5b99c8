"""Checks for the colour-space exercises (weeks 0 and 2)."""

from __future__ import annotations

import torch

from .. import color
from .core import call, expect_tensor, passed


def test_images(seed: int = 0) -> torch.Tensor:
    """Random RGB images (4, 3, 8, 8) in [0, 1], with black, white and primaries in image 0."""
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(4, 3, 8, 8, generator=g)
    corners = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
                           dtype=torch.float32)
    rgb[0, :, 0, :5] = corners.T
    return rgb


def rgb_to_gray(fn) -> None:
    """Check a student's ``fn(rgb (B,3,H,W)) -> gray (B,1,H,W)`` against colorlib's."""
    rgb = test_images()
    what = "rgb_to_gray"
    got = call(fn, rgb.clone(), what=what)
    expect_tensor(got, color.rgb_to_gray(rgb), what, atol=2e-3, value_range=(0, 1),
                  names="image channel y x")
    passed("your rgb_to_gray")


def rgb_to_lab(fn) -> None:
    """Check a student's ``fn(rgb (B,3,H,W)) -> lab (B,3,H,W)`` against colorlib's."""
    rgb = test_images(1)
    what = "rgb_to_lab"
    got = call(fn, rgb.clone(), what=what)
    expect_tensor(got, color.rgb_to_lab(rgb), what, atol=5e-2, names="image channel y x")
    passed("your rgb_to_lab")
