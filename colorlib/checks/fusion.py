"""Checks for the fusion exercises (week 3): the classifier's input and the fusion layer.

Both compare the student's function with the pieces :class:`colorlib.models.fusion.
FusionColorizer` itself uses: :func:`~colorlib.models.fusion.embedding_input` and the
fusion step (:func:`~colorlib.models.fusion.tile_and_concat`, then the model's 1x1
conv with ReLU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import color
from ..models import fusion
from .core import call, close, expect_tensor, fail, passed

GRID = (3, 5)  # a non-square grid, so that swapped H and W show
EMBED_DIM = 10


def _lightness(seed: int, size: tuple[int, int]) -> torch.Tensor:
    """L (2, 1, h, w) of random gray images, with pure black and white pixels in image 0."""
    gray = torch.rand(2, 1, *size, generator=torch.Generator().manual_seed(seed))
    gray[0, 0, 0, :2] = torch.tensor([0.0, 1.0])
    L, _ = color.split(gray.expand(-1, 3, -1, -1), "lab")
    return L


def embedding_input(fn) -> None:
    """Check ``fn(L, size) -> (B, 3, size, size)``: the gray image as the classifier expects it.

    ``L`` is (B, 1, H, W) in [0, 100]; the expected answer is
    :func:`colorlib.models.fusion.embedding_input`: the gray sRGB image in all three
    channels, resized to ``size`` x ``size`` (bilinear, antialiased) and normalised
    with the ImageNet mean and standard deviation.
    """
    what = "embedding_input"
    mean = torch.tensor(fusion.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(fusion.IMAGENET_STD).view(1, 3, 1, 1)
    # shrinking (where antialiasing matters), then enlarging (as Inception's 299 does)
    for seed, image_size, size in ((0, (40, 56), 24), (1, (16, 16), 28)):
        L = _lightness(seed, image_size)
        expected = fusion.embedding_input(L, size)
        got = call(fn, L.clone(), size, what=what)
        if isinstance(got, torch.Tensor) and got.dim() == 4 and got.shape[1] == 1:
            fail(what, "the result has 1 channel; the classifier takes RGB: repeat the gray "
                       "image in all three channels (x.expand(-1, 3, -1, -1) or .repeat)")
        if isinstance(got, torch.Tensor) and got.dim() == 4 and got.shape[-2:] != (size, size):
            fail(what, f"spatial size {tuple(got.shape[-2:])}, expected ({size}, {size}): "
                       "resize to size x size with F.interpolate(..., size=(size, size))")
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            got = got.detach().float()
            if close(got, expected * std + mean, atol=2e-3):
                fail(what, "the values are the gray image in [0, 1]: normalise them with the "
                           "ImageNet mean and std, (rgb - mean) / std per channel")
            naive = F.interpolate((L / 100).expand(-1, 3, -1, -1), size=(size, size),
                                  mode="bilinear", antialias=True, align_corners=False)
            if close(got, (naive - mean) / std, atol=2e-3) or close(got, naive, atol=2e-3):
                fail(what, "L / 100 is not the gray value: lightness is not linear in the sRGB "
                           "value. Convert Lab (L, a = 0, b = 0) to RGB with color.lab_to_rgb "
                           "(or color.merge(L, zeros, 'lab'))")
            rgb = color.lab_to_rgb(torch.cat([L, torch.zeros_like(L), torch.zeros_like(L)], 1))
            plain = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
            if not close(expected, (plain - mean) / std, atol=2e-3) and \
                    close(got, (plain - mean) / std, atol=2e-3):
                fail(what, "without antialiasing, shrinking an image skips pixels and aliases; "
                           "pass antialias=True to F.interpolate")
        expect_tensor(got, expected, what, atol=2e-3, names="image channel y x")
    passed("your embedding_input")


def _fusion_case(seed: int):
    """A fusion model with a tiny classifier, encoder-like features and softmax vectors."""
    with torch.random.fork_rng():  # leave the notebook's random numbers alone
        torch.manual_seed(seed)
        model = fusion.FusionColorizer(fusion.TinyEmbedding(EMBED_DIM), embed_dim=EMBED_DIM,
                                       embed_size=16)
    g = torch.Generator().manual_seed(seed)
    features = torch.rand(2, 256, *GRID, generator=g)  # after a ReLU: non-negative
    vector = (4 * torch.randn(2, EMBED_DIM, generator=g)).softmax(dim=1)
    return model, features, vector


def fusion_layer(fn) -> None:
    """Check ``fn(features, vector, conv) -> (B, 256, H, W)``, the fusion layer.

    ``features`` (B, 256, H, W) from the encoder, ``vector`` (B, D) from the
    classifier, ``conv`` the model's 1x1 ``nn.Conv2d(256 + D, 256, 1)``.  The answer
    must be ``ReLU(conv([features; vector copied to every cell]))``, exactly what
    :class:`~colorlib.models.fusion.FusionColorizer` computes.
    """
    what = "fusion_layer"
    model, features, vector = _fusion_case(0)
    conv = model.fuse[0]
    with torch.no_grad():
        expected = model.fuse(fusion.tile_and_concat(features, vector))
        tiled = vector[:, :, None, None].expand(-1, -1, *GRID)
        swapped = F.relu(conv(torch.cat([tiled, features], dim=1)))
        no_relu = conv(fusion.tile_and_concat(features, vector))
    got = call(fn, features.clone(), vector.clone(), conv, what=what)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        if close(got, swapped):
            fail(what, "the channels are stacked in the wrong order: features first, then "
                       "the tiled vector (torch.cat([features, tiled], dim=1)), the order "
                       "the conv's weights were made for")
        if close(got, no_relu):
            fail(what, "the ReLU is missing: the fusion layer is a 1x1 conv followed by ReLU")
    expect_tensor(got, expected, what, atol=1e-4, rtol=1e-4, names="image channel y x")
    if not got.requires_grad:
        fail(what, "the values are right, but the result carries no gradient: do not use "
                   "torch.no_grad() or .detach() here, the 1x1 conv must learn")
    passed("your fusion_layer")
