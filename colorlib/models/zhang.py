"""Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016): colour as classification.

The network sees L and predicts, for every pixel of a 4x smaller grid, a probability
for each of Q quantised ab colours (:class:`colorlib.quantize.ABBins`, Q = 313).
It is trained with the class-rebalanced cross-entropy
(:func:`colorlib.losses.rebalanced_cross_entropy`) and decoded with the annealed mean
(:func:`colorlib.quantize.annealed_mean`, T = 0.38).

Architecture (all 3x3 convolutions with ReLU, 32,236,011 parameters for Q = 313)::

    block  convs  channels  notes
    conv1    2       64     last conv stride 2, then BatchNorm          -> H/2
    conv2    2      128     last conv stride 2, then BatchNorm          -> H/4
    conv3    3      256     last conv stride 2, then BatchNorm          -> H/8
    conv4    3      512     BatchNorm
    conv5    3      512     dilation 2 (padding 2), BatchNorm
    conv6    3      512     dilation 2 (padding 2), BatchNorm
    conv7    3      512     BatchNorm
    conv8    3      256     first a 4x4 stride-2 transposed conv        -> H/4
    classifier  1x1 conv 256 -> Q: the logits, (B, Q, H/4, W/4)
    decode_head bias-free 1x1 conv Q -> 2 on the softmax: weights = bin centres / 110

The layers are declared in the same order as in the authors' PyTorch release, so its
weights load by position (:func:`load_released_weights`).

``width`` scales every channel count (conv1 has ``width`` channels, conv2 ``2 width``,
conv3 ``4 width``, conv4 to conv7 ``8 width``, conv8 ``4 width``); the default 64 is the
paper's network.  A narrower twin (``width=16``: 2,033,211 parameters with Q = 313)
has the same depth, strides, dilations and output grid, and trains on a laptop CPU in
the course's quick mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import quantize
from ..quantize import ABBins
from . import register
from .base import Colorizer

AB_SCALE = 110.0  # the release's decoded ab is multiplied by this


def _conv_block(c_in: int, c_out: int, n: int, stride: int = 1, dilation: int = 1):
    """n 3x3 conv + ReLU layers; the last one has ``stride``; then BatchNorm."""
    layers = []
    for i in range(n):
        s = stride if i == n - 1 else 1
        layers += [
            nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, stride=s, padding=dilation,
                      dilation=dilation),
            nn.ReLU(inplace=True),
        ]
    layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


class ZhangColorizer(Colorizer):
    """The ECCV16 classification colorizer.

    Args:
        num_bins: Q, the number of ab bins (313 in the paper); default ``len(bins)``,
            or 313 without ``bins``.
        bins: the :class:`~colorlib.quantize.ABBins` the model predicts over.  Default:
            the sRGB gamut's bins (:meth:`ABBins.from_gamut`), grown to Q with
            :meth:`ABBins.grow` or, for Q below their 261, the Q nearest to grey.  The
            released network's own 313 centres come with :func:`load_released_weights`.
            Train with soft targets encoded over the same bins.
        T: temperature of the annealed mean used by :meth:`predict`.
        width: channels of conv1; every other block scales with it (64: the paper's
            network; see the module docstring).

    Input L is (B, 1, H, W) in [0, 100], H and W multiples of 8; it is normalised as
    (L - 50) / 100 inside.

    The bin centres live in the decode head (weights = centres / 110), so they travel
    with the state dict: :attr:`bins` always reads them from there.
    """

    space = "lab"
    stride = 8

    def __init__(self, num_bins: int | None = None, bins: ABBins | None = None, T: float = 0.38,
                 width: int = 64):
        super().__init__()
        if bins is None:
            bins = _default_bins(313 if num_bins is None else num_bins)
        elif num_bins is not None and num_bins != len(bins):
            raise ValueError(f"num_bins={num_bins} but bins has {len(bins)} centres; "
                             "leave num_bins out to use len(bins)")
        if not T > 0:
            raise ValueError(f"the temperature T must be positive, got {T}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer (channels of conv1), got {width!r}")
        q = len(bins)
        self.num_bins = q
        self.T = float(T)
        self.width = width
        c1, c2, c4, c8 = width, 2 * width, 4 * width, 8 * width  # 64, 128, 256, 512
        self.conv1 = _conv_block(1, c1, 2, stride=2)
        self.conv2 = _conv_block(c1, c2, 2, stride=2)
        self.conv3 = _conv_block(c2, c4, 3, stride=2)
        self.conv4 = _conv_block(c4, c8, 3)
        self.conv5 = _conv_block(c8, c8, 3, dilation=2)
        self.conv6 = _conv_block(c8, c8, 3, dilation=2)
        self.conv7 = _conv_block(c8, c8, 3)
        self.conv8 = nn.Sequential(
            nn.ConvTranspose2d(c8, c4, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c4, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Conv2d(c4, q, 1)
        self.decode_head = nn.Conv2d(q, 2, 1, bias=False)
        self.set_bins(bins)

    def set_bins(self, bins: ABBins) -> None:
        """Predict over ``bins`` (same Q): the decode head's weights become centres / 110."""
        if len(bins) != self.num_bins:
            raise ValueError(f"the model has Q={self.num_bins} bins, got {len(bins)}")
        head = self.decode_head.weight
        with torch.no_grad():
            head.copy_((bins.centers.T / AB_SCALE).reshape(2, self.num_bins, 1, 1))
        head.requires_grad_(False)  # a fixed decoder, not learned
        self._bins_cache = (self._head_key(), bins.to(head.device))

    def _head_key(self):
        w = self.decode_head.weight
        return (w.data_ptr(), w._version, w.device)

    @property
    def bins(self) -> ABBins:
        """The :class:`~colorlib.quantize.ABBins`: the decode head's weights x 110."""
        if self._bins_cache[0] != self._head_key():
            centers = self.decode_head.weight.detach()[:, :, 0, 0].T * AB_SCALE
            try:
                bins = ABBins.from_centers(centers.double())
            except ValueError as err:
                raise ValueError(
                    f"the decode head's weights x {AB_SCALE:g} are not ab bin centres on a "
                    f"grid of 10 ({err}); was it trained? keep it fixed, or call set_bins"
                ) from None
            self._bins_cache = (self._head_key(), bins.to(centers.device))
        return self._bins_cache[1]

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """Logits over the bins.

        Args:
            L: (B, 1, H, W) lightness in [0, 100]; H, W multiples of 8.

        Returns:
            (B, Q, H/4, W/4) logits (what the cross-entropy is trained on).
        """
        self.check_input(L)
        x = (L - 50) / 100
        for block in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5, self.conv6,
                      self.conv7, self.conv8):
            x = block(x)
        return self.classifier(x)

    def predict(self, L: torch.Tensor) -> torch.Tensor:
        """ab (B, 2, H, W) in raw units: annealed mean at ``self.T``, upsampled to L's size."""
        ab = quantize.annealed_mean(self(L), self.bins, T=self.T)
        return F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)

    def decode_head_ab(self, L: torch.Tensor) -> torch.Tensor:
        """The release's own decoding: softmax -> 1x1 conv -> x 110 (the mean, T = 1).

        Returns:
            (B, 2, H, W) ab in raw units, upsampled (bilinear) to L's size.
        """
        probs = torch.softmax(self(L), dim=1)
        ab = self.decode_head(probs) * AB_SCALE
        return F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)


def _default_bins(num_bins: int) -> ABBins:
    gamut = ABBins.from_gamut()
    if num_bins >= len(gamut):
        return gamut.grow(num_bins)
    if num_bins < 1:
        raise ValueError(f"num_bins must be positive, got {num_bins}")
    near_grey = torch.sort(gamut.centers.norm(dim=1), stable=True).indices[:num_bins]
    return ABBins.from_centers(gamut.centers[near_grey.sort().values])


@register("zhang")
def zhang(num_bins: int | None = None, T: float = 0.38, width: int = 64) -> ZhangColorizer:
    """The ECCV16 colorizer (32,236,011 parameters with Q = 313 and the default width 64).

    ``width=16`` builds the narrow twin of the course's quick mode (same depth and
    output grid, 2,033,211 parameters with Q = 313).
    """
    return ZhangColorizer(num_bins=num_bins, T=T, width=width)


# --------------------------------------------------------------------------- released weights


def _entries(state_dict) -> list[tuple[str, torch.Tensor]]:
    # BatchNorm's step counter is bookkeeping, not a weight (older files lack it)
    return [(k, v) for k, v in state_dict.items() if not k.endswith("num_batches_tracked")]


def load_state_dict_release(model: ZhangColorizer, state_dict: dict) -> ZhangColorizer:
    """Load a state dict laid out like the authors' release into ``model``, by position.

    The release names its tensors ``model1.0.weight`` ... ``model8.6.bias``,
    ``model_out.weight``; ours are ``conv1.0.weight`` ... ``classifier.bias``,
    ``decode_head.weight``.  Rather than trusting names, the i-th tensor of the file
    goes to the i-th tensor of the model (BatchNorm step counters left out), and every
    pair must have the same shape.  The bin centres are then read back from the decode
    head: weights x 110, giving ``model.bins``.

    Args:
        model: a :class:`ZhangColorizer` with the file's number of bins.
        state_dict: the file's tensors, in the file's order.

    Returns:
        ``model``, with the weights and bins loaded.

    Raises:
        ValueError: if the number of tensors or a shape does not match.
    """
    theirs, ours = _entries(state_dict), _entries(model.state_dict())
    if len(theirs) != len(ours):
        raise ValueError(
            f"the state dict has {len(theirs)} tensors but ZhangColorizer has {len(ours)}; "
            "is it the ECCV16 colorizer (colorization_release_v2)?"
        )
    mapped = {}
    for i, ((their_key, value), (our_key, target)) in enumerate(zip(theirs, ours)):
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(
                f"tensor #{i}: the state dict's {their_key!r} has shape {tuple(value.shape)} "
                f"but ZhangColorizer's {our_key!r} expects {tuple(target.shape)}; build the "
                f"model with the file's number of bins (num_bins=313 for the release)"
            )
        mapped[our_key] = value
    for key, value in model.state_dict().items():  # keep our BatchNorm step counters
        mapped.setdefault(key, value)
    model.load_state_dict(mapped)
    _ = model.bins  # reads the centres back now, so that a bad file fails here
    return model


def load_released_weights(model: ZhangColorizer | None = None,
                          map_location="cpu") -> ZhangColorizer:
    """The authors' trained ECCV16 network (``colorization_release_v2``, 313 bins).

    Downloads the file once through :func:`colorlib.pretrained.load_state_dict`
    (``"zhang_eccv16"``, SHA-256 checked), loads it with
    :func:`load_state_dict_release` and recovers the 313 bin centres from it.

    Args:
        model: a :class:`ZhangColorizer` with Q = 313 to fill; default a new one.
        map_location: passed to ``torch.load``.

    Returns:
        the model in eval mode, ``model.bins`` the release's centres.
    """
    from .. import pretrained

    state_dict = pretrained.load_state_dict("zhang_eccv16", map_location=map_location)
    model = ZhangColorizer(num_bins=313) if model is None else model
    return load_state_dict_release(model, state_dict).eval()
