"""A convolutional autoencoder that turns a gray image into an RGB image.

The model of the course's autoencoder report (Abhyankar, Khan and Pandit), whose
Keras summary gives the exact layers.  For 64 x 64 images:

=======================  ==================  ===========
layer                    output (C, H, W)    parameters
=======================  ==================  ===========
encoder input            (1, 64, 64)         0
conv2d   3x3 s2 + ReLU   (64, 32, 32)        640
conv2d_1 3x3 s2 + ReLU   (128, 16, 16)       73,856
conv2d_2 3x3 s2 + ReLU   (256, 8, 8)         295,168
conv2d_3 3x3 s2 + ReLU   (512, 4, 4)         1,180,160
flatten                  (8192,)             0
latent_vector (dense)    (512,)              4,194,816
**encoder**                                  **5,744,640**
dense                    (8192,)             4,202,496
reshape                  (512, 4, 4)         0
conv2d_transpose   s2    (512, 8, 8)         2,359,808
conv2d_transpose_1 s2    (256, 16, 16)       1,179,904
conv2d_transpose_2 s2    (128, 32, 32)       295,040
conv2d_transpose_3 s2    (64, 64, 64)        73,792
decoder_output (3x3)     (3, 64, 64)         1,731
**decoder**                                  **8,112,771**
=======================  ==================  ===========

13,857,411 parameters in all.  The summary lists layers and counts but not the
activations; they follow the Keras colorization-autoencoder example this
layout comes from: ReLU after every (transposed) conv, a linear latent vector
and a linear dense layer in the decoder, and a sigmoid on the output, so the
RGB comes out in [0, 1].  The input is the gray image in [0, 1] (the report's
"normalised" images: pixel values / 255), fed as is.

Other sizes, our reading of the report: the encoder halves the image with
stride-2 convs until it is 4 x 4, with 64, 128, 256, 512 channels (doubling,
capped at 512).  For the report's CIFAR model (32 x 32) that gives the three
layers 64, 128, 256 it describes, and a 4 x 4 x 256 = 4096-long flattened
vector; for 64 x 64 the four layers above.  The decoder mirrors the encoder.

The dense layers fix the image size: the model takes exactly
``image_size x image_size`` images (``stride = image_size``, so
``colorize`` pads smaller images up to it; resize bigger ones first).

In PyTorch a 3x3 stride-2 transposed conv needs ``padding=1, output_padding=1``
to double the size exactly like Keras' "same"; both count the same parameters.

Example:
    >>> import torch
    >>> model = Autoencoder(image_size=32, latent_dim=256)
    >>> model(torch.rand(2, 1, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    >>> print(model.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from . import register
from .base import Colorizer, count_parameters

BOTTLENECK = 4  # side of the smallest feature map
MAX_CHANNELS = 512


def layer_channels(image_size: int) -> list[int]:
    """Channels of the stride-2 encoder convs: 64 -> [64, 128, 256, 512], 32 -> [64, 128, 256]."""
    steps = 0
    size = image_size
    while size > BOTTLENECK and size % 2 == 0:
        size //= 2
        steps += 1
    if size != BOTTLENECK or steps == 0:
        raise ValueError(f"image_size must be 4 times a power of two (8, 16, 32, 64, 128, ...), "
                         f"got {image_size}")
    return [min(64 * 2**i, MAX_CHANNELS) for i in range(steps)]


class Autoencoder(Colorizer):
    """Gray (B, 1, S, S) in [0, 1] -> RGB (B, 3, S, S) in [0, 1], with S = ``image_size``.

    Args:
        image_size: side S of the (square) images: 4 times a power of two;
            32 (CIFAR) and 64 (the report's ImageNet model) follow the report.
        latent_dim: length of the latent vector (the report settled on 512).

    ``self.encoder`` maps the image to the latent vector (B, latent_dim);
    ``self.decoder`` maps it back to the RGB image.  :meth:`summary` prints a
    Keras-style table of the layers.
    """

    space = "rgb"

    def __init__(self, image_size: int = 64, latent_dim: int = 512):
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}")
        channels = layer_channels(image_size)
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.stride = image_size  # fixed input size (see the module docstring)
        flat = channels[-1] * BOTTLENECK * BOTTLENECK

        encoder: OrderedDict[str, nn.Module] = OrderedDict()
        c_in = 1
        for i, c_out in enumerate(channels):
            name = "conv2d" if i == 0 else f"conv2d_{i}"
            encoder[name] = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                                          nn.ReLU(inplace=True))
            c_in = c_out
        encoder["flatten"] = nn.Flatten()
        encoder["latent_vector"] = nn.Linear(flat, latent_dim)
        self.encoder = nn.Sequential(encoder)

        decoder: OrderedDict[str, nn.Module] = OrderedDict()
        decoder["dense"] = nn.Linear(latent_dim, flat)
        decoder["reshape"] = nn.Unflatten(1, (channels[-1], BOTTLENECK, BOTTLENECK))
        for i, c_out in enumerate(reversed(channels)):
            name = "conv2d_transpose" if i == 0 else f"conv2d_transpose_{i}"
            decoder[name] = nn.Sequential(
                nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                nn.ReLU(inplace=True),
            )
            c_in = c_out
        decoder["decoder_output"] = nn.Sequential(nn.ConvTranspose2d(c_in, 3, 3, padding=1),
                                                  nn.Sigmoid())
        self.decoder = nn.Sequential(decoder)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        s = self.image_size
        if gray.dim() != 4 or tuple(gray.shape[1:]) != (1, s, s):
            raise ValueError(
                f"Autoencoder(image_size={s}) takes gray images of shape (B, 1, {s}, {s}), "
                f"got {tuple(gray.shape)}; resize the images to {s}x{s} (e.g. "
                f"F.interpolate(x, size=({s}, {s}), mode='area')) or build the model "
                "with a matching image_size"
            )
        return self.decoder(self.encoder(gray))

    def summary(self) -> str:
        """A Keras-style table: each layer's name, type, output shape and parameters.

        Shapes are PyTorch's (channels first), with ``None`` for the batch size.
        Returns the text; ``print(model.summary())`` shows it.
        """
        lines: list[str] = []
        x = torch.zeros(1, 1, self.image_size, self.image_size,
                        device=next(self.parameters()).device)
        with torch.no_grad():
            for title, part, first in (("encoder", self.encoder, "encoder_input"),
                                       ("decoder", self.decoder, "decoder_input")):
                lines += [f'Model: "{title}"', f"{'Layer (type)':<40}{'Output Shape':<24}Param #"]
                lines.append(_row(first, "Input", x.shape, 0))
                for name, layer in part.named_children():
                    x = layer(x)
                    kind = type(layer[0] if isinstance(layer, nn.Sequential) else layer).__name__
                    lines.append(_row(name, kind, x.shape, count_parameters(layer)))
                lines += [f"Total params: {count_parameters(part):,}", ""]
        lines.append(f'Model: "autoencoder": total params {count_parameters(self):,}')
        return "\n".join(lines)


def _row(name: str, kind: str, shape: torch.Size, params: int) -> str:
    shape_text = str((None, *shape[1:]))
    return f"{f'{name} ({kind})':<40}{shape_text:<24}{params:,}"


@register("autoencoder")
def autoencoder(image_size: int = 64, latent_dim: int = 512) -> Autoencoder:
    """The report's gray -> RGB autoencoder (13,857,411 parameters at 64 x 64)."""
    return Autoencoder(image_size, latent_dim)
