"""The one call every course colorizer answers: gray in, RGB out.

Every model in :mod:`colorlib.models` subclasses :class:`Colorizer`.  A model is
trained on *pairs* in its own colour space (see :func:`colorlib.color.split`):

========  ============================  ===================================
space     input ``x``                    target ``y``
========  ============================  ===================================
``lab``   L, (B, 1, H, W) in [0, 100]    ab, (B, 2, H, W), roughly [-128, 127]
``yuv``   Y, (B, 1, H, W) in [0, 1]      UV, (B, 2, H, W), U in +-0.436, V in +-0.615
``rgb``   gray, (B, 1, H, W) in [0, 1]   RGB, (B, 3, H, W) in [0, 1]
========  ============================  ===================================

``forward`` takes ``x`` in those raw units and returns a prediction of ``y`` in the
same raw units; any normalisation (L/50 - 1, ab/110, ...) happens *inside* the
model, so the data pipeline and the evaluation code never need to know it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import color


class Colorizer(nn.Module):
    """Base class: ``colorize(gray) -> rgb`` for any model of the course.

    Subclasses set ``space`` (``"lab"``, ``"yuv"`` or ``"rgb"``) and ``stride``
    (height and width must be multiples of it; :meth:`colorize` pads and crops
    back), and implement ``forward(x) -> y`` in raw units of that space.
    A model whose ``forward`` returns something else (class logits, say)
    overrides :meth:`predict` to turn it into ``y``.
    """

    space: str = "lab"
    stride: int = 1

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Target ``y`` in raw units for input ``x``; by default ``self(x)``."""
        return self(x)

    def check_input(self, x: torch.Tensor, name: str = "L") -> None:
        """Raise a clear ValueError unless ``x`` is (B, 1, H, W), H and W multiples of stride."""
        model = type(self).__name__
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"{model} expects {name} of shape (B, 1, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f"{model} needs H and W divisible by {self.stride}, got {h}x{w}; "
                             "crop or pad the image, or use .colorize(gray)")

    @torch.no_grad()
    def colorize(self, gray: torch.Tensor) -> torch.Tensor:
        """Colorize a gray batch.

        Args:
            gray: (B, 1, H, W) float in [0, 1] (any H, W; padded internally).

        Returns:
            (B, 3, H, W) float32 RGB in [0, 1], on the input's device.
        """
        if gray.dim() != 4 or gray.shape[1] != 1:
            raise ValueError(
                f"colorize expects a gray batch of shape (B, 1, H, W), got {tuple(gray.shape)}; "
                "use colorlib.color.rgb_to_gray(rgb) to make one from RGB"
            )
        param = next(self.parameters(), None)
        device = param.device if param is not None else gray.device
        gray = gray.to(device=device, dtype=torch.float32)
        h, w = gray.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            gray = F.pad(gray, (0, pw, 0, ph), mode=mode)
        x, _ = color.split(gray.expand(-1, 3, -1, -1), self.space)
        y = self.predict(x).float()
        if y.shape[-2:] != x.shape[-2:]:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        rgb = color.merge(x, y, self.space)
        return rgb[..., :h, :w].clamp(0, 1)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
