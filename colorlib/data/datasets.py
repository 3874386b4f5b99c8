"""Real datasets for full mode: MNIST, CIFAR-10, Imagenette, LFW faces and any image folder.

Also :func:`digits`, the small digits bundled with scikit-learn (offline, quick mode).

The public datasets come through :mod:`torchvision.datasets` and are downloaded
on first use (``download=True``) into :func:`default_root`.  Colour datasets
return only the image, a float32 RGB tensor (3, size, size) in [0, 1]; the
torchvision dataset with its labels stays available as ``.base``.

When a dataset is missing and cannot be downloaded (no internet, or
``download=False``), :class:`DatasetNotFoundError` says what to fetch, where to
put it, and how to run the course without it (quick mode, which uses
:func:`colorlib.data.samples`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

QUICK_HINT = "set QUICK=True / COLORLIB_QUICK=1 to use colorlib.data.samples() instead"

#: file name endings :func:`image_folder` treats as images (compared in lower case)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DataError(RuntimeError):
    """Data that cannot be used: a missing folder, an unreadable image file, ..."""


class DatasetNotFoundError(DataError):
    """A dataset that is not on disk and could not be downloaded."""


def default_root() -> Path:
    """Folder where datasets are stored.

    ``$COLORLIB_DATA`` if that environment variable is set, else ``~/.cache/colorlib/data``.
    """
    env = os.environ.get("COLORLIB_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "colorlib" / "data"


# ---------------------------------------------------------------------------
# Turning images into square RGB tensors
# ---------------------------------------------------------------------------


def fit_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize so the shorter side is ``size`` (antialiased), then crop the centre square.

    Args:
        image: (C, H, W) float tensor.
        size: side of the output, in pixels.

    Returns:
        (C, size, size) float tensor, values clamped to [0, 1].
    """
    h, w = image.shape[-2:]
    if (h, w) != (size, size):
        scale = size / min(h, w)
        new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
        image = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear",
                              align_corners=False, antialias=True)[0]
        top, left = (new_h - size) // 2, (new_w - size) // 2
        image = image[:, top:top + size, left:left + size]
    return image.clamp(0.0, 1.0).contiguous()


def pil_to_rgb(img, size: int | None = None) -> torch.Tensor:
    """A PIL image -> float32 RGB tensor (3, H, W) in [0, 1], optionally :func:`fit_square`-d."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    return t if size is None else fit_square(t, size)


class ColorImages(Dataset):
    """The images of a torchvision dataset as RGB tensors, labels dropped.

    ``dataset[i]`` is a float32 tensor (3, size, size) in [0, 1] (the original
    size when ``size`` is None).  ``.base`` is the torchvision dataset
    (``.base[i]`` gives ``(PIL image, label)``).
    """

    def __init__(self, base, size: int | None = None, name: str = "dataset"):
        self.base, self.size, self.name = base, size, name

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> torch.Tensor:
        return pil_to_rgb(self.base[index][0], self.size)

    def __repr__(self) -> str:
        return f"ColorImages({self.name}, n={len(self)}, size={self.size})"


class _GrayToTensor:
    """PIL 'L' image -> (1, H, W) float32 in [0, 1], then an optional user transform."""

    def __init__(self, then: Callable | None = None):
        self.then = then

    def __call__(self, img) -> torch.Tensor:
        arr = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        t = torch.from_numpy(arr.copy())[None]
        return t if self.then is None else self.then(t)


# ---------------------------------------------------------------------------
# Opening a torchvision dataset, with an error that explains what to do
# ---------------------------------------------------------------------------


def _not_found(name: str, folder: Path, how: str, reason: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{name} dataset not found in {folder} ({reason}).\n"
        f"To fetch it: {how}.\n"
        f"Either run once with download=True on a machine with internet, or copy the files "
        f"into {folder}.\n"
        f"To run without it: {QUICK_HINT}."
    )


def _open(name: str, folder: Path, how: str, make: Callable[[bool], Dataset],
          download: bool) -> Dataset:
    """``make(False)`` (use what is on disk); if that fails, ``make(True)`` when allowed.

    Trying the files on disk first means no network access at all when the
    data is already there, whatever ``download`` says.
    """
    try:
        return make(False)
    except (RuntimeError, OSError) as e:
        missing = e
    if not download:
        raise _not_found(name, folder, how, f"download=False; torchvision said: {missing}") \
            from missing
    try:
        return make(True)
    except (RuntimeError, OSError, ValueError) as e:  # URLError and timeouts are OSErrors
        raise _not_found(name, folder, how,
                         f"the download failed: {type(e).__name__}: {e}") from e


def _root(root: str | Path | None) -> Path:
    return default_root() if root is None else Path(root).expanduser()


def _check_size(size: int | None, optional: bool = False) -> None:
    if optional and size is None:
        return
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer (pixels), got {size!r}")


def mnist(root: str | Path | None = None, train: bool = True, download: bool = True,
          transform: Callable | None = None):
    """MNIST handwritten digits (60,000 train / 10,000 test), for the warm-up notebook.

    Args:
        root: data folder (default :func:`default_root`); files go to ``root/MNIST``.
        train: the training set, else the test set.
        download: download when missing (about 12 MB).
        transform: applied to each image *tensor* (1, 28, 28) after conversion.

    Returns:
        ``torchvision.datasets.MNIST`` whose items are ``(image, label)``: image
        float32 (1, 28, 28) in [0, 1], label an int in 0..9.

    Raises:
        DatasetNotFoundError: missing and not downloadable.
    """
    from torchvision.datasets import MNIST

    root = _root(root)
    how = ("torchvision.datasets.MNIST downloads it from "
           "https://ossci-datasets.s3.amazonaws.com/mnist/ (the four *-ubyte.gz files "
           f"go into {root / 'MNIST' / 'raw'})")
    return _open("MNIST", root, how,
                 lambda dl: MNIST(str(root), train=train, download=dl,
                                  transform=_GrayToTensor(transform)), download)


#: number of held-out digits in :func:`digits` (fixed, so the split never changes)
DIGITS_TEST_SIZE = 450


class DigitImages(Dataset):
    """Handwritten digits as MNIST-like tensors, with labels (see :func:`digits`).

    ``dataset[i]`` is ``(image, label)``: image float32 (1, 28, 28) in [0, 1]
    (after ``transform``, if any), label an int in 0..9.

    Attributes:
        images: all images, (N, 1, 28, 28) float32 in [0, 1], untransformed.
        labels: all labels, (N,) int64.
        indices: (N,) int64, the position of each digit in ``sklearn.datasets.load_digits()``.
        split: ``"train"`` or ``"test"``.
        transform: applied to an image tensor when an item is read (None: nothing).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor,
                 split: str, transform: Callable | None = None):
        self.images, self.labels, self.indices = images, labels, indices
        self.split, self.transform = split, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])

    def __repr__(self) -> str:
        return f"DigitImages({self.split}, n={len(self)})"


@functools.cache
def _digit_images() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 scikit-learn digits, MNIST-like: (N, 1, 28, 28) in [0, 1], and labels (N,).

    Made once per process; :func:`digits` indexes it, which copies.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # 0..16 -> [0, 1]
    # MNIST centres each digit in a 20 x 20 box inside a 28 x 28 frame: do the same
    big = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    images = F.pad(big, (4, 4, 4, 4)).clamp(0.0, 1.0).contiguous()
    return images, torch.from_numpy(bunch.target.astype(np.int64))


def digits(split: str = "train", transform: Callable | None = None) -> DigitImages:
    """Small handwritten digits bundled with scikit-learn, shaped like MNIST (quick mode).

    ``sklearn.datasets.load_digits`` ships 1,797 digits of 8 x 8 pixels (grey
    levels 0..16) inside the package, so this works offline and instantly.  Each
    digit is scaled to [0, 1], upsampled (bilinear) to 20 x 20 and padded with 4
    black pixels on every side, which gives MNIST's layout: a (1, 28, 28) image
    with the digit centred in a 20 x 20 box, white on black.

    The split is fixed: a permutation drawn with seed 0 puts 450 digits (25 %)
    in ``"test"`` and the other 1,347 in ``"train"``; no digit is in both, and
    every call returns the same images in the same order.

    Args:
        split: ``"train"`` or ``"test"`` (the held-out digits).
        transform: applied to each image tensor (1, 28, 28) when an item is read
            (data augmentation); ``.images`` stays untransformed.

    Returns:
        :class:`DigitImages`: items ``(image, label)``, image float32
        (1, 28, 28) in [0, 1], label an int in 0..9, like :func:`mnist`.

    Raises:
        ValueError: unknown split.

    Example:
        >>> train = digits("train")
        >>> image, label = train[0]
        >>> len(train), tuple(image.shape), type(label).__name__
        (1347, (1, 28, 28), 'int')
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown digits split {split!r}; choose 'train' or 'test'")
    images, labels = _digit_images()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    index = order[:DIGITS_TEST_SIZE] if split == "test" else order[DIGITS_TEST_SIZE:]
    index = index.sort().values  # keep the original order inside each split
    return DigitImages(images[index], labels[index], index, split, transform)  # copies


def cifar10(root: str | Path | None = None, train: bool = True, download: bool = True,
            size: int | None = None) -> ColorImages:
    """CIFAR-10 colour images (50,000 train / 10,000 test), 32 x 32 pixels.

    Args:
        root: data folder (default :func:`default_root`); files go to
            ``root/cifar-10-batches-py``.
        train: the training set, else the test set.
        download: download when missing (about 170 MB).
        size: resize to (size, size); None keeps 32 x 32.

    Returns:
        :class:`ColorImages`: items are float32 RGB (3, size, size) in [0, 1].

    Raises:
        DatasetNotFoundError: missing and not downloadable.
    """
    from torchvision.datasets import CIFAR10

    _check_size(size, optional=True)
    root = _root(root)
    how = ("torchvision.datasets.CIFAR10 downloads "
           "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz "
           f"(extracted into {root / 'cifar-10-batches-py'})")
    base = _open("CIFAR-10", root, how,
                 lambda dl: CIFAR10(str(root), train=train, download=dl), download)
    return ColorImages(base, size, name="CIFAR-10")


def imagenette(root: str | Path | None = None, split: str = "train", size: int = 64,
               download: bool = True) -> ColorImages:
    """Imagenette: 10 easy ImageNet classes (9,469 train / 3,925 val), the 160 px version.

    Images are resized so the shorter side is ``size`` and centre-cropped.

    Args:
        root: data folder (default :func:`default_root`); files go to
            ``root/imagenette2-160``.
        split: ``"train"`` or ``"val"``.
        size: side of the square output, in pixels.
        download: download when missing (about 95 MB).

    Returns:
        :class:`ColorImages`: items are float32 RGB (3, size, size) in [0, 1].

    Raises:
        ValueError: unknown split.
        DatasetNotFoundError: missing and not downloadable.
    """
    from torchvision.datasets import Imagenette

    if split not in ("train", "val"):
        raise ValueError(f"unknown Imagenette split {split!r}; choose 'train' or 'val'")
    _check_size(size)
    root = _root(root)
    how = ("torchvision.datasets.Imagenette(size='160px') downloads "
           "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz "
           f"(extracted into {root / 'imagenette2-160'})")
    base = _open("Imagenette", root, how,
                 lambda dl: Imagenette(str(root), split=split, size="160px", download=dl),
                 download)
    return ColorImages(base, size, name=f"Imagenette {split}")


def lfw_people(root: str | Path | None = None, split: str = "train", size: int = 64,
               download: bool = True) -> ColorImages:
    """Labeled Faces in the Wild (funneled), 250 x 250 face photographs resized to ``size``.

    Args:
        root: data folder (default :func:`default_root`); files go to ``root/lfw-py``.
        split: ``"train"`` (9,525 images) or ``"test"`` (3,708 images).
        size: side of the square output, in pixels.
        download: try to download when missing.  Recent torchvision versions can
            no longer download LFW; then the files must be copied by hand (the
            error message says which).

    Returns:
        :class:`ColorImages`: items are float32 RGB (3, size, size) in [0, 1].

    Raises:
        ValueError: unknown split.
        DatasetNotFoundError: missing and not downloadable.
    """
    from torchvision.datasets import LFWPeople

    if split not in ("train", "test"):
        raise ValueError(f"unknown LFW split {split!r}; choose 'train' or 'test'")
    _check_size(size)
    root = _root(root)
    folder = root / "lfw-py"
    how = ("torchvision.datasets.LFWPeople(image_set='funneled') reads lfw-funneled.tgz "
           "(extracted there as lfw_funneled/), peopleDevTrain.txt, peopleDevTest.txt and "
           f"lfw-names.txt in {folder}; get them from http://vis-www.cs.umass.edu/lfw/ or a "
           "mirror such as https://www.kaggle.com/datasets/jessicali9530/lfw-dataset "
           "(recent torchvision versions cannot download LFW themselves)")
    base = _open("LFW people", folder, how,
                 lambda dl: LFWPeople(str(root), split=split, image_set="funneled",
                                      download=dl), download)
    return ColorImages(base, size, name=f"LFW people {split}")


# ---------------------------------------------------------------------------
# Any folder of images
# ---------------------------------------------------------------------------


class ImageFolderImages(Dataset):
    """Every image file below a folder, as square RGB crops (see :func:`image_folder`).

    Attributes:
        files: sorted list of the image paths found.
        size: side of the returned crops.
    """

    def __init__(self, path: str | Path, size: int = 64):
        _check_size(size)
        folder = Path(path).expanduser()
        if not folder.exists():
            raise DataError(f"image folder {folder} does not exist; check the path")
        if not folder.is_dir():
            raise DataError(f"{folder} is a file, not a folder; pass the folder that holds "
                            "your images")
        self.folder, self.size = folder, size
        self.files = sorted(
            p for p in folder.rglob("*")
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        if not self.files:
            raise DataError(
                f"no image files in {folder} (searched its subfolders too, for "
                f"{', '.join(IMAGE_EXTENSIONS)}); put some photographs there"
            )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        from ..imageio import ImageFileError, read_image

        path = self.files[index]
        try:
            image, _ = read_image(path)
        except ImageFileError as e:
            cause = e.__cause__
            detail = f" [Pillow: {type(cause).__name__}: {cause}]" if cause else ""
            raise DataError(f"cannot read image file {e}{detail}; fix or delete it") from e
        return fit_square(image.expand(3, -1, -1), self.size)

    def __repr__(self) -> str:
        return f"ImageFolderImages({str(self.folder)!r}, n={len(self)}, size={self.size})"


def image_folder(path: str | Path, size: int = 64) -> ImageFolderImages:
    """All image files below ``path`` (recursively) as RGB crops.

    Files ending in .jpg, .jpeg, .png, .bmp, .gif, .tif, .tiff or .webp (any
    case) are used; hidden files and folders (names starting with ".") are
    skipped.  Each image is read whatever its mode (transparency is composited on
    white, gray and 16-bit images become gray RGB), resized so its shorter side
    is ``size`` and centre-cropped.

    Args:
        path: folder of images.
        size: side of the square output, in pixels.

    Returns:
        :class:`ImageFolderImages`: items are float32 RGB (3, size, size) in [0, 1].

    Raises:
        DataError: missing or empty folder (now); an unreadable image file (when
            that item is read), naming the file and Pillow's reason.
    """
    return ImageFolderImages(path, size)
