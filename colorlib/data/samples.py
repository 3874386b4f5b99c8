"""The bundled sample set: random crops of colour photographs that ship with Python packages.

scikit-image and scikit-learn install a handful of colour photographs together
with their code, so :func:`samples` works offline, in a second, on any machine:
it is what quick mode (``QUICK=True``) and the tests train on.

Training and validation crops come from *different* photographs, so a
validation score measures how a model does on pictures it never saw:

=========  =====================================================================
split      photographs (package file)
=========  =====================================================================
``train``  astronaut (skimage ``astronaut.png``), rocket (skimage ``rocket.jpg``),
           motorcycle (skimage ``motorcycle_left.png``), china (sklearn
           ``china.jpg``), flower (sklearn ``flower.jpg``)
``val``    chelsea, a cat (skimage ``chelsea.png``), coffee (skimage ``coffee.png``)
=========  =====================================================================

The files are read straight from the installed packages' folders; nothing is
ever downloaded (some other ``skimage.data`` images are fetched with pooch on
first use, so they are deliberately not used).  The synthetic and microscopy
images (colorwheel, logo, immunohistochemistry, hubble_deep_field, retina) are
left out too: they would teach a model colours that no ordinary photograph has.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .datasets import DataError

#: photograph name -> (package, path of the file inside the package folder)
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
}

#: which photographs each split uses (disjoint: no photograph is in both)
SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "rocket", "motorcycle", "china", "flower"),
    "val": ("chelsea", "coffee"),
}

#: number of crops when ``n`` is not given
DEFAULT_N = {"train": 256, "val": 64}


def photo_path(name: str) -> Path:
    """Path of the bundled photograph ``name`` (a key of :data:`PHOTOS`).

    Found without importing the package (``importlib.util.find_spec``).

    Raises:
        DataError: unknown name, or the package / file is not installed.
    """
    if name not in PHOTOS:
        raise DataError(f"unknown sample photograph {name!r}; choose one of {', '.join(PHOTOS)}")
    package, rel = PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the sample photograph {name!r} ships with the Python package {package!r}, "
            f"which is not installed; install it with: pip install "
            f"{'scikit-image' if package == 'skimage' else 'scikit-learn'}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    if not path.is_file():
        raise DataError(
            f"the sample photograph {name!r} was expected at {path}, but the file is missing; "
            f"reinstall {package!r} (pip install --force-reinstall "
            f"{'scikit-image' if package == 'skimage' else 'scikit-learn'})"
        )
    return path


@functools.cache  # = lru_cache(maxsize=None)
def load_photo(name: str) -> Image.Image:
    """The whole photograph ``name`` as an RGB PIL image, decoded once per process.

    Treat the result as read-only: the same image object is returned on every call.
    """
    with Image.open(photo_path(name)) as img:
        return img.convert("RGB")


class SampleImages(Dataset):
    """Random square crops of the bundled photographs (see :func:`samples`).

    Attributes:
        images: (N, 3, size, size) float32 RGB in [0, 1], all crops, computed once.
        sources: list of N photograph names, ``sources[i]`` is where crop ``i`` came from.
        split, size, seed: the arguments it was made with.

    ``dataset[i]`` is ``images[i]``, a (3, size, size) tensor.
    """

    def __init__(self, split: str = "train", size: int = 64, n: int | None = None,
                 seed: int = 0):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer (pixels), got {size!r}")
        n = DEFAULT_N[split] if n is None else n
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer (number of crops), got {n!r}")
        self.split, self.size, self.seed = split, size, seed
        names = SPLITS[split]
        gen = torch.Generator().manual_seed(seed)
        crops, self.sources = [], []
        for i in range(n):
            name = names[i % len(names)]  # every photograph gets the same share of crops
            crops.append(_random_crop(load_photo(name), size, gen, flip=split == "train"))
            self.sources.append(name)
        stacked = torch.from_numpy(np.stack(crops))  # (n, size, size, 3) uint8
        self.images = stacked.permute(0, 3, 1, 2).float().div(255.0).contiguous()

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]

    def __repr__(self) -> str:
        return (f"SampleImages(split={self.split!r}, size={self.size}, n={len(self)}, "
                f"seed={self.seed}, photos={list(SPLITS[self.split])})")


def _random_crop(photo: Image.Image, size: int, gen: torch.Generator,
                 flip: bool) -> np.ndarray:
    """One random square crop of an RGB photo -> uint8 array (size, size, 3).

    The crop side is drawn uniformly between ``size`` and half the photo's
    shorter side (so crops range from full detail to a wider view), its
    position uniformly; it is resized to ``size`` by Pillow's bilinear filter,
    which widens with the scale factor, i.e. is antialiased.
    """
    w, h = photo.size
    short = min(h, w)
    lo = min(size, short)
    hi = max(lo, short // 2)
    side = int(torch.randint(lo, hi + 1, (1,), generator=gen))
    top = int(torch.randint(0, h - side + 1, (1,), generator=gen))
    left = int(torch.randint(0, w - side + 1, (1,), generator=gen))
    do_flip = bool(torch.rand(1, generator=gen) < 0.5)  # drawn always: same stream for val
    box = (left, top, left + side, top + side)
    if side == size:
        crop = photo.crop(box)
    else:
        crop = photo.resize((size, size), Image.Resampling.BILINEAR, box=box)
    if flip and do_flip:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(crop)


def samples(split: str = "train", size: int = 64, n: int | None = None,
            seed: int = 0) -> SampleImages:
    """The bundled real sample set: random crops of photographs installed with Python packages.

    Works offline (the photographs are files inside scikit-image and
    scikit-learn) and is deterministic: the same arguments give identical
    tensors, a different ``seed`` gives different crops.  ``"train"`` and
    ``"val"`` use different photographs (listed in :data:`SPLITS`).

    Args:
        split: ``"train"`` (crops with random horizontal flips) or ``"val"``.
        size: side of the square crops, in pixels.
        n: number of crops; default 256 for ``"train"``, 64 for ``"val"``.
        seed: seed of the crop positions, scales and flips.

    Returns:
        :class:`SampleImages`; each item is a float32 RGB tensor (3, size, size)
        in [0, 1], and ``.images`` holds all of them, (n, 3, size, size).

    Raises:
        ValueError: unknown split, or a size / n that is not a positive integer.

    Example:
        >>> train = samples("train", size=64)
        >>> len(train), tuple(train[0].shape)
        (256, (3, 64, 64))
    """
    return SampleImages(split, size=size, n=n, seed=seed)
