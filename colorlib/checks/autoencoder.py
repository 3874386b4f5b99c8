"""Checks for the autoencoder exercises (week 4): counting parameters, writing the encoder."""

from __future__ import annotations

import copy
import numbers

import torch
from torch import nn

from ..models.autoencoder import Autoencoder
from ..models.base import count_parameters
from .core import (
    CheckFailed,
    call,
    close,
    copy_weights,
    expect_tensor,
    fail,
    parameter_shapes,
    passed,
)

#: (layer, c_in, c_out, kernel_size): the report's layers and a few others
LAYERS = [
    ("Conv2d", 1, 64, 3),  # the first encoder conv: 640
    ("ConvTranspose2d", 512, 512, 3),  # 2,359,808
    ("Linear", 8192, 512, 1),  # the latent vector: 4,194,816
    ("ConvTranspose2d", 64, 3, 3),  # the output layer: 1,731
    ("Conv2d", 3, 5, 5),
    ("ConvTranspose2d", 7, 2, 4),
    ("Linear", 10, 3, 1),
]


def _layer(kind: str, c_in: int, c_out: int, k: int) -> nn.Module:
    if kind == "Linear":
        return nn.Linear(c_in, c_out)
    return getattr(nn, kind)(c_in, c_out, k)


def conv_parameters(fn) -> None:
    """Check ``fn(c_in, c_out, kernel_size) -> int`` against real torch layers.

    The count must equal the parameters of ``nn.Conv2d(c_in, c_out, kernel_size)``
    and of ``nn.ConvTranspose2d`` (the same), and with ``kernel_size=1`` those of
    ``nn.Linear(c_in, c_out)`` (a dense layer is a 1x1 conv on a 1x1 image).
    """
    what = "conv_parameters"
    for kind, c_in, c_out, k in LAYERS:
        expected = count_parameters(_layer(kind, c_in, c_out, k))
        got = call(fn, c_in, c_out, k, what=what)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            fail(what, f"expected a number, got {type(got).__name__}")
        where = f"{what}({c_in}, {c_out}, {k}) for nn.{kind}"
        if got == expected:
            continue
        weights = c_in * c_out * k * k
        hints = {
            weights: "the biases are missing: every output channel has one bias",
            weights + c_in: "there is one bias per *output* channel, not per input channel",
            c_in * c_out * k + c_out: "a k x k kernel has k * k weights for each pair of "
                                      "input and output channels",
            c_in * c_out + c_out: "each weight of the 1x1 case becomes a k x k kernel: "
                                  "multiply by kernel_size ** 2",
        }
        fail(where, f"got {got:,}, expected {expected:,}"
                    + (f": {hints[got]}" if got in hints else ""))
    passed("your conv_parameters (on Conv2d, ConvTranspose2d and Linear layers)")


def make_encoder(fn) -> None:
    """Check ``fn(image_size, latent_dim) -> nn.Module``, the autoencoder's encoder.

    Compared with ``Autoencoder(image_size, latent_dim).encoder`` for 64 x 64 images
    (four convs) and 32 x 32 images (three): the same parameter shapes in the same
    order, and, with colorlib's weights copied in, the same latent vector for the
    same gray images.
    """
    what = "make_encoder"
    for seed, (size, latent) in enumerate(((64, 512), (32, 96))):
        with torch.random.fork_rng():  # leave the notebook's random numbers alone
            torch.manual_seed(seed)
            reference = Autoencoder(size, latent).encoder.eval()
        built = call(fn, size, latent, what=what)
        if not isinstance(built, nn.Module):
            fail(what, f"{what}({size}, {latent}) should return an nn.Module (an "
                       f"nn.Sequential, say), got {type(built).__name__}")
        where = f"your make_encoder({size}, {latent})"
        got_shapes, want = parameter_shapes(built), parameter_shapes(reference)
        if got_shapes != want:
            for i, (g, w) in enumerate(zip(got_shapes, want)):
                if g != w:
                    hint = f"parameter {i} has shape {g}, expected {w}"
                    if len(w) == 2 and len(g) == 2 and g[0] == w[0] and g[1] != w[1]:
                        hint += (f": the dense layer should see the flattened {w[1]:,} values "
                                 f"of the last conv (C x 4 x 4); with stride 2 and padding 1 "
                                 f"each conv halves the image: {size} -> ... -> 4")
                    break
            else:
                hint = (f"it has {len(got_shapes)} weight and bias tensors, expected "
                        f"{len(want)}: {len(want) // 2 - 1} convs (64, 128, ... channels) "
                        "and one dense layer, all with biases")
            fail(where, f"{count_parameters(built):,} parameters, expected "
                        f"{count_parameters(reference):,}; {hint}")
        built = copy.deepcopy(built).eval()
        copy_weights(reference, built)
        with torch.no_grad():
            gray = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(seed))
            expected = reference(gray)
            got = call(built, gray.clone(), what=where)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if close(got, expected.relu()):
                fail(where, "the latent vector went through a ReLU; it is linear (no "
                            "activation after the dense layer)")
        try:
            expect_tensor(got, expected, where, atol=1e-4, rtol=1e-4, names="image unit")
        except CheckFailed as e:
            raise CheckFailed(f"{e}. The parameter shapes are right but the latent vectors "
                              "differ (with colorlib's weights copied in): a ReLU after every "
                              "conv, stride=2 and padding=1, and nn.Flatten() before the "
                              "dense layer?") from None
    passed("your make_encoder (64 x 64 and 32 x 32)")
