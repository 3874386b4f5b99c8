"""A synthetic dataset whose colours are an exact, known function of the gray texture.

Each image has a smooth random lightness field L (a sum of a few random
low-frequency sine waves, stretched to exactly [25, 85]); its colour is then
fixed by L alone, through the rule

    a = A cos(2 pi L / P + phi),    b = A sin(2 pi L / P + phi)

with A = 35, P = 80 and phi = pi (:meth:`SyntheticColors.ab_from_L`).  So the hue
turns through 270 degrees as L goes from 25 (violet-blue) to 85 (teal), at
a constant chroma of 35.  These constants were chosen so that every colour of
the rule lies inside the sRGB gamut: the images convert to RGB without clipping,
and ``rgb_to_lab`` of an item gives back exactly ``(L, ab_from_L(L))`` (up to
float32 rounding, about 1e-3).

A colorizer only has to learn a per-pixel function of L, so a correct model
measurably beats the gray baseline within seconds on a CPU: the tests use this
to catch models that cannot learn at all.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset

from .. import color


class SyntheticColors(Dataset):
    """Smooth gray textures coloured by a fixed rule of their lightness (see :func:`synthetic`).

    Attributes:
        images: (N, 3, size, size) float32 RGB in [0, 1].
        lightness: (N, 1, size, size) float32 L in [25, 85], the field each image was made from.
        n, size, seed: the arguments it was made with.

    ``dataset[i]`` is ``images[i]``, a (3, size, size) tensor.
    """

    #: chroma of every colour, sqrt(a^2 + b^2)
    AMPLITUDE = 35.0
    #: change of L that turns the hue once around the colour circle
    PERIOD = 80.0
    #: hue angle (radians) at L = 0
    PHASE = math.pi
    #: range of the lightness fields
    L_MIN, L_MAX = 25.0, 85.0
    #: number of sine waves summed per image, and their highest frequency (cycles per image)
    WAVES, MAX_CYCLES = 3, 3.0

    def __init__(self, n: int = 256, size: int = 32, seed: int = 0):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer (number of images), got {n!r}")
        if not isinstance(size, int) or size < 2:
            raise ValueError(f"size must be an integer >= 2 (pixels), got {size!r}")
        self.n, self.size, self.seed = n, size, seed
        gen = torch.Generator().manual_seed(seed)
        self.lightness = self._random_lightness(n, size, gen)
        lab = torch.cat([self.lightness, self.ab_from_L(self.lightness)], dim=1)
        self.images = color.lab_to_rgb(lab).contiguous()

    @classmethod
    def ab_from_L(cls, L: torch.Tensor) -> torch.Tensor:
        """The true colour of lightness ``L`` under the dataset's rule.

        Args:
            L: (..., 1, H, W) lightness in [0, 100] (any float tensor with a
                one-channel dimension -3).

        Returns:
            (..., 2, H, W) float32 ab: a = 35 cos(2 pi L / 80 + pi),
            b = 35 sin(2 pi L / 80 + pi).
        """
        if not isinstance(L, torch.Tensor) or L.dim() < 3 or L.shape[-3] != 1:
            shape = tuple(L.shape) if isinstance(L, torch.Tensor) else type(L).__name__
            raise ValueError(f"ab_from_L expects L of shape (..., 1, H, W), got {shape}")
        angle = 2 * math.pi * L.float() / cls.PERIOD + cls.PHASE
        return cls.AMPLITUDE * torch.cat([torch.cos(angle), torch.sin(angle)], dim=-3)

    @classmethod
    def _random_lightness(cls, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
        """(n, 1, size, size) smooth random fields stretched to [L_MIN, L_MAX]."""
        coords = torch.arange(size, dtype=torch.float32) / size
        y, x = coords.view(1, 1, size, 1), coords.view(1, 1, 1, size)
        field = torch.zeros(n, 1, size, size)
        for _ in range(cls.WAVES):
            cycles = 0.5 + (cls.MAX_CYCLES - 0.5) * torch.rand(n, 1, 1, 1, generator=gen)
            direction = 2 * math.pi * torch.rand(n, 1, 1, 1, generator=gen)
            phase = 2 * math.pi * torch.rand(n, 1, 1, 1, generator=gen)
            weight = 0.5 + torch.rand(n, 1, 1, 1, generator=gen)
            wave = torch.cos(direction) * x + torch.sin(direction) * y
            field = field + weight * torch.sin(2 * math.pi * cycles * wave + phase)
        lo = field.amin(dim=(-2, -1), keepdim=True)
        hi = field.amax(dim=(-2, -1), keepdim=True)
        unit = (field - lo) / (hi - lo).clamp_min(1e-6)
        return cls.L_MIN + (cls.L_MAX - cls.L_MIN) * unit

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]

    def __repr__(self) -> str:
        return f"SyntheticColors(n={self.n}, size={self.size}, seed={self.seed})"


def synthetic(n: int = 256, size: int = 32, seed: int = 0) -> SyntheticColors:
    """A dataset whose colours are a known function of lightness; a model learns it in seconds.

    See the module docstring for the rule; :meth:`SyntheticColors.ab_from_L`
    gives the exact answer a perfect Lab colorizer should predict.

    Args:
        n: number of images.
        size: side of the square images, in pixels.
        seed: seed of the random lightness fields (same seed, identical images).

    Returns:
        :class:`SyntheticColors`; each item is a float32 RGB tensor (3, size, size) in [0, 1].

    Example:
        >>> ds = synthetic(n=8, size=16)
        >>> tuple(ds[0].shape)
        (3, 16, 16)
    """
    return SyntheticColors(n=n, size=size, seed=seed)
