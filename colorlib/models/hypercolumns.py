"""Hypercolumns: colour from the features of a frozen VGG16 (Ryan Dahl's colorizer).

The baseline of the course's autoencoder report, after Hariharan et al.,
"Hypercolumns for Object Segmentation and Fine-grained Localization" (CVPR 2015).
The *hypercolumn* of a pixel is the stack of all the VGG16 activations above it:
the outputs of the first four conv blocks (relu1_2, relu2_2, relu3_3, relu4_3;
64 + 128 + 256 + 512 = 960 channels at 1, 1/2, 1/4 and 1/8 of the image size),
each upsampled to the image size.  A shallow trainable head turns those 960
numbers per pixel into the pixel's colour, in YUV:

    Y (B, 1, H, W) in [0, 1] --VGG16 (frozen)--> 4 feature maps
      --upsample + concatenate--> hypercolumns (B, 960, H, W)
      --1x1 conv 128, ReLU, 3x3 conv 64, ReLU, 3x3 conv 2--> tanh x (0.436, 0.615) = UV

The output tanh is scaled per channel to the range of U (+-0.436) and V
(+-0.615), so every prediction is a valid YUV colour.

**Why the report could only fit 2 images in a batch.**  The hypercolumns of one
224 x 224 image are 960 x 224 x 224 floats: 193 MB, kept for the backward pass.
The fix (``efficient=True``) uses that both the upsampling and a 1x1 conv are
linear, so they commute: a 1x1 conv on the concatenation equals the sum of
per-block 1x1 convs, and each of those can run *before* upsampling, on the
small feature maps::

    W @ concat(up(f1), ..., up(f4)) + b  =  sum_k up(W_k @ f_k) + b

(W_k: the columns of W for block k.)  Only 128 channels are ever upsampled,
and the 960-channel map is never built.  That is why the head starts with a
1x1 conv rather than the report's 3x3: a 3x3 conv cannot simply be moved before
the upsampling, because its 3x3 window on the upsampled map covers a different,
fractional neighbourhood of each smaller map.  With a 1x1 conv first, both
variants compute exactly the same function, and :func:`efficient_from_naive`
converts one into the other.

**The second half of the fix: recompute, tile by tile.**  Without the 960
channels, what a training step keeps is the head's own full-resolution maps
(128 and 64 channels, and their gradients): the efficient variant alone needs
about 3 times less memory per image than the naive one.  So in training
(``tile_rows``, on by default for ``efficient=True``) the efficient variant
keeps only the small, deep VGG maps (blocks 2 to 4) and computes everything at
full resolution in horizontal bands of ``tile_rows`` rows, each under
``torch.utils.checkpoint``: the band's activations are freed after the forward
pass and recomputed during the backward pass.  A band needs 4 rows more on
each side (VGG's two block-1 convs and the head's two 3x3 convs), and the
upsampling of a deep map to a band of rows is done exactly as
``F.interpolate`` would, so the output is the same function again, at the
price of computing the full-resolution layers twice.  At 224 x 224 the peak
memory per image of a training step then drops 10 times at batch 2 and 24 times
at batch 16 (``bench/bench_hypercolumns.py``, measured with
:func:`colorlib.memory.measure_training_step`), and 32 images need less memory than
2 did.

The VGG16 sees Y replicated to 3 channels and ImageNet-normalised; it is frozen
(no gradients, eval mode always, run under ``torch.no_grad()``).  With random
weights (the default) it is only a stand-in; ``pretrained=True`` loads the
ImageNet weights.

Example:
    >>> import torch
    >>> model = HypercolumnColorizer()
    >>> Y = torch.rand(1, 1, 64, 64)
    >>> model(Y).shape
    torch.Size([1, 2, 64, 64])
    >>> fast = efficient_from_naive(model)
    >>> bool(torch.allclose(fast(Y), model(Y), atol=1e-5))
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..pretrained import IMAGENET_MEAN, IMAGENET_STD
from . import register
from .base import Colorizer

UV_MAX = (0.436, 0.615)  # |U| and |V| of sRGB colours in YUV
# VGG16's conv blocks (3x3 convs with ReLU), each but the first after a 2x2 max-pool.
VGG16_BLOCKS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
HEAD_CHANNELS = (128, 64)


def vgg16_features(blocks: int = 4) -> tuple[nn.Sequential, list[int]]:
    """The first ``blocks`` conv blocks of VGG16, and the index of each block's last ReLU.

    The layers (and so the ``state_dict`` keys) are those of
    ``torchvision.models.vgg16().features``, cut after the last ReLU of block
    ``blocks``: for 4 blocks, ``features[:23]``, with its block outputs at 3, 8, 15, 22.
    """
    layers: list[nn.Module] = []
    taps: list[int] = []
    c_in = 3
    for b, widths in enumerate(VGG16_BLOCKS[:blocks]):
        if b > 0:
            layers.append(nn.MaxPool2d(2, 2))
        for c_out in widths:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True)]
            c_in = c_out
        taps.append(len(layers) - 1)
    return nn.Sequential(*layers), taps


def _upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling to ``size`` (a no-op when already that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _upsample_rows(x: torch.Tensor, rows: tuple[int, int], size: tuple[int, int],
                   conv: nn.Conv2d | None = None) -> torch.Tensor:
    """Rows ``rows[0]:rows[1]`` of ``_upsample(conv(x), size)``, without the other rows.

    Bilinear upsampling (``align_corners=False``) is separable: each output row mixes two
    input rows, with the weights ``F.interpolate`` uses; then the width is upsampled by
    ``F.interpolate`` itself (with the height unchanged, which leaves rows as they are).
    A 1x1 ``conv`` (without bias) commutes with it and runs on the input rows needed only.
    """
    (lo, hi), (H, W) = rows, size
    h = x.shape[-2]
    src = ((torch.arange(lo, hi, device=x.device, dtype=x.dtype) + 0.5) * (h / H) - 0.5)
    src = src.clamp_min(0)
    y0 = src.long().clamp(max=h - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    weight = (src - y0).view(1, 1, -1, 1)
    first, last = int(y0.min()), int(y1.max()) + 1
    x = x[:, :, first:last]
    if conv is not None:
        x = F.conv2d(x, conv.weight)
    x = torch.lerp(x.index_select(2, y0 - first), x.index_select(2, y1 - first), weight)
    return F.interpolate(x, size=(hi - lo, W), mode="bilinear", align_corners=False)


def _conv_rows(x: torch.Tensor, conv: nn.Conv2d, rows: tuple[int, int], height: int):
    """A 3x3 conv (padding 1) on a band of rows ``rows`` of a ``height``-row map.

    Zero rows are added only where the band touches the map's top or bottom edge, so the
    result equals the same rows of the conv of the whole map; elsewhere the band loses a
    row on each side.  Returns the result and the rows it covers.
    """
    lo, hi = rows
    top, bottom = int(lo == 0), int(hi == height)
    x = F.conv2d(F.pad(x, (0, 0, top, bottom)), conv.weight, conv.bias, padding=(0, 1))
    return x, (lo + 1 - top, hi - 1 + bottom)


def gather_pixels(x: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Values of ``x`` (B, C, H, W) at flat pixel indices -> (B, C, P).

    Args:
        x: (B, C, H, W) map.
        pixels: int64 indices ``row * W + column`` in [0, H*W): (P,) for the same
            pixels in every image, or (B, P) per image.
    """
    b, c, h, w = x.shape
    if pixels.dtype != torch.long:
        raise TypeError(f"pixels must be an int64 index tensor, got {pixels.dtype}")
    if pixels.dim() == 1:
        pixels = pixels.expand(b, -1)
    if pixels.dim() != 2 or pixels.shape[0] != b:
        raise ValueError(f"pixels must have shape (P,) or (B, P) = ({b}, P), "
                         f"got {tuple(pixels.shape)}")
    if pixels.numel() and (int(pixels.min()) < 0 or int(pixels.max()) >= h * w):
        raise ValueError(f"pixel indices must lie in [0, {h * w}) for a {h}x{w} image "
                         "(index = row * W + column)")
    index = pixels.to(x.device)[:, None, :].expand(-1, c, -1)
    return x.flatten(2).gather(2, index)


class HypercolumnColorizer(Colorizer):
    """Y (B, 1, H, W) in [0, 1] -> UV (B, 2, H, W), |U| <= 0.436, |V| <= 0.615.

    Args:
        efficient: reduce each block with its own 1x1 conv *before* upsampling
            (the memory fix); ``False`` builds the full (B, 960, H, W) hypercolumns.
        pretrained: load ImageNet weights into the VGG16 through
            ``colorlib.pretrained.load_state_dict("vgg16_imagenet")``.
        blocks: how many VGG16 conv blocks feed the hypercolumns (1 to 5; the
            report uses 4 = 960 channels; 5 adds relu5_3 for 1472).
        pixel_samples: default number of pixels :meth:`sample_pixels` draws.
        tile_rows: efficient variant only: when gradients are on, compute the
            full-resolution layers in bands of this many rows and recompute them in
            the backward pass (see the module docstring); None turns it off.
        vgg_chunk: images per VGG16 pass in that mode (the frozen VGG's full-size
            block-1 maps are then never there for more images at once).

    H and W should be multiples of ``stride`` = 2 ** (blocks - 1) (8 for 4 blocks).
    ``forward(Y, pixels)`` returns UV only at the given pixels (see
    :func:`gather_pixels`), to train on a random subset of pixels per image.
    """

    space = "yuv"
    HALO = 4  # rows a band needs on each side: two 3x3 convs of VGG block 1, two of the head

    def __init__(self, efficient: bool = False, pretrained: bool = False, blocks: int = 4,
                 pixel_samples: int | None = None, tile_rows: int | None = 32,
                 vgg_chunk: int = 4):
        super().__init__()
        if not 1 <= blocks <= len(VGG16_BLOCKS):
            raise ValueError(f"blocks must be between 1 and {len(VGG16_BLOCKS)}, got {blocks}")
        if pixel_samples is not None and pixel_samples < 1:
            raise ValueError(f"pixel_samples must be a positive integer or None, "
                             f"got {pixel_samples}")
        if tile_rows is not None and tile_rows < 1:
            raise ValueError(f"tile_rows must be a positive number of rows or None, "
                             f"got {tile_rows}")
        if vgg_chunk < 1:
            raise ValueError(f"vgg_chunk must be a positive number of images, got {vgg_chunk}")
        self.efficient = efficient
        self.tile_rows = tile_rows if efficient else None
        self.vgg_chunk = vgg_chunk
        self.blocks = blocks
        self.pixel_samples = pixel_samples
        self.stride = 2 ** (blocks - 1)
        self.vgg, self.taps = vgg16_features(blocks)
        if pretrained:
            self._load_vgg_weights()
        self.vgg.requires_grad_(False)
        self.vgg.eval()
        self.block_channels = [widths[-1] for widths in VGG16_BLOCKS[:blocks]]
        self.hypercolumn_channels = sum(self.block_channels)
        c1, c2 = HEAD_CHANNELS
        if efficient:  # one 1x1 conv per block; the shared bias lives in the first
            self.reduce = nn.ModuleList(
                nn.Conv2d(c, c1, 1, bias=(k == 0)) for k, c in enumerate(self.block_channels)
            )
        else:
            self.reduce = nn.Conv2d(self.hypercolumn_channels, c1, 1)
        self.head = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c2, 2, 3, padding=1),
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("uv_max", torch.tensor(UV_MAX).view(1, 2, 1, 1), persistent=False)

    def _load_vgg_weights(self) -> None:
        from ..pretrained import load_state_dict

        state = load_state_dict("vgg16_imagenet")
        if any(k.startswith("features.") for k in state):  # a whole torchvision VGG16
            state = {k[len("features."):]: v for k, v in state.items()
                     if k.startswith("features.")}
        wanted = self.vgg.state_dict().keys()
        self.vgg.load_state_dict({k: v for k, v in state.items() if k in wanted})

    def train(self, mode: bool = True) -> HypercolumnColorizer:
        """Like ``nn.Module.train``, but the frozen VGG16 always stays in eval mode."""
        super().train(mode)
        self.vgg.eval()
        return self

    @torch.no_grad()
    def block_features(self, Y: torch.Tensor) -> list[torch.Tensor]:
        """The VGG16 block outputs for Y (B, 1, H, W) in [0, 1].

        Returns one map per block: (B, 64, H, W), (B, 128, H/2, W/2),
        (B, 256, H/4, W/4), (B, 512, H/8, W/8) for 4 blocks (sizes rounded down).
        """
        if Y.dim() != 4 or Y.shape[1] != 1:
            raise ValueError(f"HypercolumnColorizer expects Y of shape (B, 1, H, W), "
                             f"got {tuple(Y.shape)}")
        x = (Y.expand(-1, 3, -1, -1) - self.mean) / self.std
        outputs = []
        for i, layer in enumerate(self.vgg):
            x = layer(x)
            if i in self.taps:
                outputs.append(x)
        return outputs

    def hypercolumns(self, Y: torch.Tensor) -> torch.Tensor:
        """The full hypercolumns (B, 960, H, W) for 4 blocks: what the naive variant builds."""
        size = tuple(Y.shape[-2:])
        return torch.cat([_upsample(f, size) for f in self.block_features(Y)], dim=1)

    def reduced(self, Y: torch.Tensor) -> torch.Tensor:
        """The first layer of the head: a 1x1 conv of the hypercolumns, (B, 128, H, W).

        The naive variant concatenates then convolves; the efficient one convolves
        each block at its own size, upsamples the 128-channel results and sums them.
        """
        if not self.efficient:
            return self.reduce(self.hypercolumns(Y))
        size = tuple(Y.shape[-2:])
        features = self.block_features(Y)
        out = self.reduce[0](features[0])
        for conv, f in zip(self.reduce[1:], features[1:]):
            out = out + _upsample(conv(f), size)
        return out

    def forward(self, Y: torch.Tensor, pixels: torch.Tensor | None = None) -> torch.Tensor:
        """UV (B, 2, H, W) for Y (B, 1, H, W) in [0, 1]; (B, 2, P) at ``pixels`` if given."""
        if self.tile_rows is not None and torch.is_grad_enabled():
            uv = self._forward_tiled(Y)
        else:
            uv = self.uv_max * torch.tanh(self.head(self.reduced(Y)))
        return uv if pixels is None else gather_pixels(uv, pixels)

    def _forward_tiled(self, Y: torch.Tensor) -> torch.Tensor:
        """The efficient forward for training: bands of rows, recomputed in the backward pass."""
        H = Y.shape[-2]
        out = []
        for y in Y.split(self.vgg_chunk):
            with torch.no_grad():
                deep = self.block_features(y)[1:]  # kept; block 1 is recomputed per band
            bands = [checkpoint(self._band, y, (r, min(r + self.tile_rows, H)), *deep,
                                use_reentrant=False)
                     for r in range(0, H, self.tile_rows)]
            out.append(torch.cat(bands, dim=2))
        return torch.cat(out, dim=0)

    def _band(self, Y: torch.Tensor, rows: tuple[int, int], *deep: torch.Tensor) -> torch.Tensor:
        """UV at rows ``rows`` of the image, from Y and the deep block maps (blocks 2 on)."""
        H, W = Y.shape[-2:]
        lo, hi = max(rows[0] - self.HALO, 0), min(rows[1] + self.HALO, H)
        x = (Y[:, :, lo:hi].expand(-1, 3, -1, -1) - self.mean) / self.std
        span = (lo, hi)
        with torch.no_grad():  # VGG block 1 (frozen): conv, ReLU, conv, ReLU
            x, span = _conv_rows(x, self.vgg[0], span, H)
            x, span = _conv_rows(x.relu_(), self.vgg[2], span, H)
            x.relu_()
        x = self.reduce[0](x)
        for conv, f in zip(self.reduce[1:], deep):
            x = x + _upsample_rows(f, span, (H, W), conv)
        x, span = _conv_rows(x.relu(), self.head[1], span, H)
        x, span = _conv_rows(x.relu(), self.head[3], span, H)
        x = x[:, :, rows[0] - span[0]:rows[1] - span[0]]
        return self.uv_max * torch.tanh(x)

    def sample_pixels(self, Y: torch.Tensor, n: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` (default ``pixel_samples``) distinct random pixels per image: (B, n) int64.

        Use the same indices for the prediction and the target::

            pixels = model.sample_pixels(Y)
            loss = F.mse_loss(model(Y, pixels), gather_pixels(UV, pixels))
        """
        if n is None:
            n = self.pixel_samples
        b, _, h, w = Y.shape
        if n is None or not 1 <= n <= h * w:
            raise ValueError(f"choose between 1 and {h * w} pixels (pass n or build the model "
                             f"with pixel_samples), got {n}")
        scores = torch.rand(b, h * w, generator=generator)
        return scores.argsort(dim=1)[:, :n].to(Y.device)


def efficient_from_naive(naive: HypercolumnColorizer) -> HypercolumnColorizer:
    """The efficient twin of a naive model: the same function, computed with less memory.

    Splits the naive 1x1 conv (960 -> 128) into one 1x1 conv per VGG block (its
    columns for that block's channels; the bias goes to the first) and copies the
    VGG16 and the rest of the head.
    """
    if naive.efficient:
        raise ValueError("this model is already efficient (efficient=True)")
    model = HypercolumnColorizer(efficient=True, blocks=naive.blocks,
                                 pixel_samples=naive.pixel_samples)
    model.to(naive.reduce.weight.device)
    model.vgg.load_state_dict(naive.vgg.state_dict())
    model.head.load_state_dict(naive.head.state_dict())
    with torch.no_grad():
        columns = naive.reduce.weight.split(naive.block_channels, dim=1)
        for conv, weight in zip(model.reduce, columns):
            conv.weight.copy_(weight)
        model.reduce[0].bias.copy_(naive.reduce.bias)
    return model.train(naive.training)


@register("hypercolumns")
def hypercolumns(efficient: bool = False, pretrained: bool = False, blocks: int = 4,
                 pixel_samples: int | None = None, tile_rows: int | None = 32,
                 vgg_chunk: int = 4) -> HypercolumnColorizer:
    """The VGG16 hypercolumn colorizer (960 hypercolumn channels with 4 blocks)."""
    return HypercolumnColorizer(efficient, pretrained, blocks, pixel_samples, tile_rows,
                                vgg_chunk)
