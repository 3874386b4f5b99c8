"""Exercise checks: ``colorlib.checks.<name>(your_function)``.

Each compares your code with colorlib's on random inputs and prints a pass
message, or raises :class:`CheckFailed` with a specific hint.
"""

from .color import rgb_to_gray, rgb_to_lab
from .core import CheckFailed
from .evaluation import psnr_per_image, wilson_interval
from .hypercolumns import build_hypercolumns, reduce_then_upsample

__all__ = [
    "CheckFailed",
    "build_hypercolumns",
    "psnr_per_image",
    "reduce_then_upsample",
    "rgb_to_gray",
    "rgb_to_lab",
    "wilson_interval",
]
