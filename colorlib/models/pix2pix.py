"""pix2pix for colorization: a U-Net generator and a 70x70 PatchGAN discriminator.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks"
(CVPR 2017), as used by the GAN version of the course's source report: the
generator turns L into ab, the discriminator judges (L, ab) pairs patch by patch.

Both networks work in Lab and normalise inside (see :mod:`colorlib.models.base`):

* L in [0, 100] enters as ``L / 50 - 1`` (range [-1, 1]);
* ab leaves the generator as ``110 * tanh(...)`` (range [-110, 110]) and enters the
  discriminator as ``ab / 110``.

Reference sizes (1 -> 2 channels, 256 x 256 images): the U-Net has 54,409,858
parameters, the PatchGAN 2,765,633 and answers with a 30 x 30 grid of logits.

Example:
    >>> import torch
    >>> G, D = UNetGenerator(depth=6), PatchDiscriminator()
    >>> L = 100 * torch.rand(2, 1, 64, 64)
    >>> ab = G(L)                    # (2, 2, 64, 64), |ab| <= 110
    >>> D(L, ab).shape               # one logit per 70 x 70 patch
    torch.Size([2, 1, 6, 6])
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from .base import Colorizer

L_SCALE = 50.0  # L in [0, 100] -> L / 50 - 1 in [-1, 1]
AB_SCALE = 110.0  # ab in about [-110, 110] <-> ab / 110 in [-1, 1]
MAX_CHANNELS = 512


def _down_block(c_in: int, c_out: int, outermost: bool, innermost: bool) -> nn.Sequential:
    """LeakyReLU (not on the image) -> 4x4 stride-2 conv -> BatchNorm (not at the ends)."""
    layers: list[nn.Module] = []
    if not outermost:
        layers.append(nn.LeakyReLU(0.2))
    layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False))
    if not (outermost or innermost):
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


def _up_block(c_in: int, c_out: int, outermost: bool, dropout: float) -> nn.Sequential:
    """ReLU -> 4x4 stride-2 transposed conv -> BatchNorm [-> Dropout], or -> tanh at the top."""
    layers: list[nn.Module] = [
        nn.ReLU(),
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=outermost),
    ]
    if outermost:
        layers.append(nn.Tanh())
    else:
        layers.append(nn.BatchNorm2d(c_out))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class UNetGenerator(Colorizer):
    """The pix2pix U-Net: L (B, 1, H, W) in [0, 100] -> ab (B, 2, H, W) in [-110, 110].

    ``depth`` 4x4 stride-2 convolutions halve the image ``depth`` times (channels
    ``min(base * 2**i, 512)``), as many transposed convolutions double it back, and
    each up block also receives the output of the down block at the same scale
    (a *skip connection*: the two are concatenated along the channels).

    * down block i: LeakyReLU(0.2) (except on the image itself), conv, BatchNorm
      (except in the first and the innermost block);
    * up block: ReLU, transposed conv, BatchNorm, and Dropout(``dropout``) in the
      (up to) three blocks right after the innermost one; the outermost block ends
      in tanh instead, scaled by 110 to give ab;
    * convolutions followed by BatchNorm have no bias (BatchNorm has its own shift);
      as in the reference implementation the first and innermost down convs are
      bias-free too, only the last transposed conv has a bias.

    Args:
        depth: number of down (and up) blocks; H and W must be multiples of
            ``2**depth``. 8 is the reference for 256 x 256 images (the innermost
            feature map is 1 x 1); 5 or 6 suit 64 x 64 images.
        base: channels of the first block (64 in the reference).
        dropout: dropout probability in the up blocks next to the innermost one.
            pix2pix keeps it on at test time as its only source of noise; here
            ``model.eval()`` switches it off like any other dropout.

    Shapes:
        input L (B, 1, H, W) in [0, 100]; output ab (B, 2, H, W) in [-110, 110].
    """

    space = "lab"

    def __init__(self, depth: int = 8, base: int = 64, dropout: float = 0.5):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2 (one block down and one up), got {depth}")
        self.depth = depth
        self.stride = 2**depth
        channels = [min(base * 2**i, MAX_CHANNELS) for i in range(depth)]

        self.downs = nn.ModuleList()
        for i in range(depth):
            c_in = 1 if i == 0 else channels[i - 1]
            self.downs.append(_down_block(c_in, channels[i], i == 0, i == depth - 1))

        # self.ups[0] is the innermost block, self.ups[-1] the outermost one.  Every
        # block but the innermost sees twice the channels: its input and the skip.
        self.ups = nn.ModuleList()
        for i in reversed(range(depth)):
            c_in = channels[i] if i == depth - 1 else 2 * channels[i]
            c_out = 2 if i == 0 else channels[i - 1]
            with_dropout = max(1, depth - 4) <= i < depth - 1
            self.ups.append(_up_block(c_in, c_out, i == 0, dropout if with_dropout else 0.0))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        x = L / L_SCALE - 1
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.ups[0](skips.pop())  # innermost: nothing to concatenate yet
        for up in self.ups[1:]:
            x = up(torch.cat([skips.pop(), x], dim=1))
        return AB_SCALE * x

    @staticmethod
    def reconstruction_loss(ab_pred: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """pix2pix's L1 term, on the normalised scale: mean ``|ab_pred - ab| / 110``.

        The weight 100 of "GAN + 100 * L1" was chosen for images in [-1, 1]; on raw
        ab (tens of units) the same weight would drown the adversarial term, so
        :func:`colorlib.train.fit_gan` uses this loss for a U-Net by default.
        """
        return torch.nn.functional.l1_loss(ab_pred, ab) / AB_SCALE


def receptive_field(n_layers: int = 3) -> int:
    """Side of the input window that one PatchGAN logit sees (70 for ``n_layers=3``).

    Walks back from one output pixel through the 4x4 convolutions of
    :class:`PatchDiscriminator` (``n_layers`` with stride 2, then two with
    stride 1): a layer with kernel k and stride s turns a window of r pixels
    into one of ``(r - 1) * s + k`` pixels.
    """
    kernels_and_strides = [(4, 2)] * n_layers + [(4, 1), (4, 1)]
    r = 1
    for k, s in reversed(kernels_and_strides):
        r = (r - 1) * s + k
    return r


class PatchDiscriminator(nn.Module):
    """The 70 x 70 PatchGAN: (L, ab) -> one real/fake logit per overlapping patch.

    4x4 convolutions, padding 1: ``base`` channels (stride 2, no BatchNorm), then
    ``n_layers - 1`` more stride-2 convs doubling the channels (at most 8 * base),
    one stride-1 conv, and a stride-1 conv to 1 channel. BatchNorm and
    LeakyReLU(0.2) sit between the convolutions. With ``n_layers=3`` each output
    logit sees a 70 x 70 window of the input (:func:`receptive_field`).

    Call ``D(L, ab)`` with raw Lab: it normalises both (``L / 50 - 1``, ``ab / 110``,
    the generator's own scaling) and concatenates them to (B, 3, H, W).  The layers
    themselves are ``D.net``, which takes an already normalised tensor of
    ``in_channels`` channels (use it directly for inputs other than (L, ab)).

    Args:
        in_channels: channels of the normalised input (3: L and ab).
        base: channels of the first conv (64 in the reference).
        n_layers: number of stride-2 convolutions (3 in the reference).

    Shapes:
        L (B, 1, H, W) in [0, 100] and ab (B, 2, H, W) in about [-110, 110]
        -> logits (B, 1, H', W'), no sigmoid (use BCE-with-logits);
        H' = H / 2**n_layers - 2, i.e. 30 x 30 for 256 x 256 input.
    """

    def __init__(self, in_channels: int = 3, base: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        c_in = base
        for i in range(1, n_layers + 1):
            c_out = base * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2),
            ]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        if self.net[0].in_channels != 3:
            raise ValueError(
                f"forward(L, ab) builds a 3-channel input but this discriminator has "
                f"in_channels={self.net[0].in_channels}; call D.net(x) with your own input"
            )
        if L.shape[1] != 1 or ab.shape[1] != 2 or L.shape[-2:] != ab.shape[-2:]:
            raise ValueError(
                f"PatchDiscriminator expects L (B, 1, H, W) and ab (B, 2, H, W) of the same "
                f"size, got {tuple(L.shape)} and {tuple(ab.shape)}"
            )
        x = torch.cat([L / L_SCALE - 1, ab / AB_SCALE], dim=1)
        return self.net(x)


@register("pix2pix_unet")
def pix2pix_unet(depth: int = 8, base: int = 64, dropout: float = 0.5) -> UNetGenerator:
    """The pix2pix U-Net generator (54,409,858 parameters at the defaults)."""
    return UNetGenerator(depth=depth, base=base, dropout=dropout)


@register("patchgan")
def patchgan(base: int = 64, n_layers: int = 3) -> PatchDiscriminator:
    """The 70 x 70 PatchGAN discriminator on (L, ab) (2,765,633 parameters at the defaults)."""
    return PatchDiscriminator(in_channels=3, base=base, n_layers=n_layers)
