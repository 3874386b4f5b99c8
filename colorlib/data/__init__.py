"""Data for the course: bundled samples, synthetic colours, real datasets, training pairs.

============================  ==========================================================
function                      what it gives
============================  ==========================================================
:func:`samples`               crops of photographs shipped with scikit-image and
                              scikit-learn: offline, instant (quick mode and tests)
:func:`synthetic`             textures whose colour is a known function of lightness
:func:`mnist`                 MNIST digits with labels (warm-up notebook)
:func:`digits`                scikit-learn's bundled digits shaped like MNIST (offline)
:func:`cifar10`,              real colour datasets through torchvision, downloaded on
:func:`imagenette`,           first use into :func:`default_root`
:func:`lfw_people`
:func:`image_folder`          any folder of your own images
:class:`ColorizationPairs`    RGB images -> ``(x, y)`` pairs in Lab, YUV or RGB
:func:`loaders`               train / validation DataLoaders of those pairs
:func:`augment`               random horizontal flips of a batch
============================  ==========================================================

Every colour dataset returns float32 RGB tensors (3, H, W) in [0, 1].
"""

from .datasets import (
    DataError,
    DatasetNotFoundError,
    cifar10,
    default_root,
    digits,
    image_folder,
    imagenette,
    lfw_people,
    mnist,
)
from .pairs import ColorizationPairs, augment, loaders
from .samples import SampleImages, samples
from .synthetic import SyntheticColors, synthetic

__all__ = [
    "ColorizationPairs",
    "DataError",
    "DatasetNotFoundError",
    "SampleImages",
    "SyntheticColors",
    "augment",
    "cifar10",
    "default_root",
    "digits",
    "image_folder",
    "imagenette",
    "lfw_people",
    "loaders",
    "mnist",
    "samples",
    "synthetic",
]
