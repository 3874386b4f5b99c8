"""colorlib: the small library behind the image-colorization course.

Submodules (import what you need): ``color`` (RGB <-> Lab / YUV / gray),
``data`` (sample, synthetic and real datasets), ``models`` (one family per
file), ``train`` (``fit``, ``fit_gan``), ``losses``, ``quantize`` (the ab bins
of week 6), ``checkpoint``, ``pretrained``, ``metrics``, ``viz``, ``widgets``,
``evaluate`` and ``study`` (week 9), ``memory`` (peak memory of a training
step), ``files`` (safe writes), ``imageio``, ``checks`` (the exercises' checks).
:func:`device` picks the best available hardware.
"""

from .runtime import device, quick_mode, runs_dir, seed_everything

__version__ = "0.1.0"
__all__ = ["device", "quick_mode", "runs_dir", "seed_everything", "__version__"]
