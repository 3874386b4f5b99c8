"""From RGB images to the ``(x, y)`` training pairs a colorizer learns from.

:class:`ColorizationPairs` wraps any dataset of RGB images; :func:`loaders`
builds the train and validation DataLoaders; :func:`augment` flips a batch.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from .. import color

SPACES = color.SPACES  # ("lab", "yuv", "rgb")


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"unknown colour space {space!r}; choose one of {', '.join(SPACES)}")


class ColorizationPairs(Dataset):
    """A dataset of RGB images seen as colorization pairs ``(x, y)`` in raw units.

    ========  ==============================  =====================================
    space     x                               y
    ========  ==============================  =====================================
    ``lab``   L, (1, H, W) in [0, 100]        ab, (2, H, W), roughly [-128, 127]
    ``yuv``   Y, (1, H, W) in [0, 1]          UV, (2, H, W), U in +-0.436, V in +-0.615
    ``rgb``   gray, (1, H, W) in [0, 1]       RGB, (3, H, W) in [0, 1]
    ========  ==============================  =====================================

    (the pairs of :func:`colorlib.color.split`; :func:`colorlib.color.merge`
    turns a pair back into RGB).

    Args:
        dataset: any dataset whose items are RGB tensors (3, H, W) in [0, 1], or
            ``(image, label)`` tuples (the label is dropped).
        space: ``"lab"``, ``"yuv"`` or ``"rgb"``.

    Example:
        >>> from colorlib import data
        >>> pairs = data.ColorizationPairs(data.samples("val", size=32), space="lab")
        >>> L, ab = pairs[0]
        >>> tuple(L.shape), tuple(ab.shape)
        ((1, 32, 32), (2, 32, 32))
    """

    def __init__(self, dataset, space: str = "lab"):
        _check_space(space)
        self.dataset, self.space = dataset, space

    def __len__(self) -> int:
        return len(self.dataset)

    def rgb(self, index: int) -> torch.Tensor:
        """The RGB image (3, H, W) behind pair ``index``."""
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            item = item[0]
        if not isinstance(item, torch.Tensor) or item.dim() != 3 or item.shape[0] != 3:
            shape = tuple(item.shape) if isinstance(item, torch.Tensor) else type(item).__name__
            raise ValueError(
                f"ColorizationPairs needs RGB image tensors (3, H, W) in [0, 1], but item "
                f"{index} of the dataset is {shape}; a gray dataset such as MNIST has no colours "
                "to learn from"
            )
        return item

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = color.split(self.rgb(index), self.space)
        return x.contiguous(), y.contiguous()

    def __repr__(self) -> str:
        return f"ColorizationPairs({self.dataset!r}, space={self.space!r})"


def _as_pairs(dataset, space: str) -> ColorizationPairs:
    if isinstance(dataset, ColorizationPairs):
        if dataset.space != space:
            raise ValueError(
                f"the dataset already gives {dataset.space!r} pairs but space={space!r} was "
                "asked for; pass the RGB dataset instead and let loaders() wrap it"
            )
        return dataset
    return ColorizationPairs(dataset, space)


def loaders(train, val=None, batch_size: int = 32, space: str = "lab", shuffle: bool = True,
            seed: int = 0, num_workers: int = 0) -> tuple[DataLoader, DataLoader | None]:
    """DataLoaders of colorization pairs for training and validation.

    Args:
        train: RGB dataset (items (3, H, W) in [0, 1], or ``(image, label)``), or a
            :class:`ColorizationPairs` in ``space``.
        val: the same for validation, or None.
        batch_size: images per batch.
        space: ``"lab"``, ``"yuv"`` or ``"rgb"`` (see :class:`ColorizationPairs`).
        shuffle: shuffle the training set each epoch, in an order fixed by ``seed``
            (a ``torch.Generator`` seeded with it).  Validation is never shuffled.
        seed: seed of the shuffling.
        num_workers: background loader processes (0 loads in the main process).

    Returns:
        ``(train_loader, val_loader)``; ``val_loader`` is None when ``val`` is None.
        Batches are ``(x, y)``: x (B, 1, H, W), y (B, 2 or 3, H, W), raw units.
        Memory is pinned when CUDA is available, for faster copies to the GPU.
    """
    _check_space(space)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    common = {"batch_size": batch_size, "num_workers": num_workers,
              "pin_memory": torch.cuda.is_available(), "persistent_workers": num_workers > 0}
    train_loader = DataLoader(_as_pairs(train, space), shuffle=shuffle,
                              generator=torch.Generator().manual_seed(seed), **common)
    val_loader = None
    if val is not None:
        val_loader = DataLoader(_as_pairs(val, space), shuffle=False, **common)
    return train_loader, val_loader


def augment(rgb_batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random horizontal flips: each image of the batch is mirrored with probability 1/2.

    Args:
        rgb_batch: (B, C, H, W) tensor (any C: RGB, or L and ab stacked together).
        generator: optional CPU ``torch.Generator`` for reproducible flips.

    Returns:
        a new (B, C, H, W) tensor on the same device.
    """
    if not isinstance(rgb_batch, torch.Tensor) or rgb_batch.dim() != 4:
        shape = tuple(rgb_batch.shape) if isinstance(rgb_batch, torch.Tensor) else type(
            rgb_batch).__name__
        raise ValueError(f"augment expects a batch of shape (B, C, H, W), got {shape}")
    flip = torch.rand(rgb_batch.shape[0], generator=generator) < 0.5
    flip = flip.to(rgb_batch.device).view(-1, 1, 1, 1)
    return torch.where(flip, rgb_batch.flip(-1), rgb_batch)
