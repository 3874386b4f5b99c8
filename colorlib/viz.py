"""Figures for the course: image grids, loss curves and the ab gamut.

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``, so it works headless (Agg backend, CI) as well as in Jupyter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

if matplotlib.get_backend().lower() in ("", "none"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from . import color  # noqa: E402


def to_numpy_image(img: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] -> (H, W, 3) or (H, W) float array for ``imshow``."""
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"expected one image of shape (1 or 3, H, W), got {tuple(img.shape)}")
    arr = img.detach().float().cpu().clamp(0, 1).numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def show_images(rows: Mapping[str, torch.Tensor], max_images: int = 8,
                size: float = 1.8, title: str | None = None) -> Figure:
    """A grid: one row per entry of ``rows`` (e.g. gray / prediction / truth).

    Args:
        rows: ``{label: batch}``, each batch (B, 1 or 3, H, W) in [0, 1].
        max_images: columns shown (the first images of each batch).
    """
    if not rows:
        raise ValueError("show_images needs at least one row, e.g. {'truth': rgb}")
    n = min(max_images, *(len(b) for b in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows)), squeeze=False)
    for r, (label, batch) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(to_numpy_image(batch[c]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare(gray: torch.Tensor, prediction: torch.Tensor, truth: torch.Tensor | None = None,
            max_images: int = 8, title: str | None = None) -> Figure:
    """Side by side: gray input, prediction and (optionally) the true colours."""
    rows = {"gray input": gray, "colorized": prediction}
    if truth is not None:
        rows["truth"] = truth
    return show_images(rows, max_images=max_images, title=title)


def plot_history(history, keys: Sequence[str] | None = None, title: str = "training") -> Figure:
    """Loss curves (and any other per-epoch numbers) from a :class:`colorlib.train.History`."""
    keys = list(keys or [k for k in history.keys() if k.endswith("loss")])
    if not keys:
        raise ValueError(f"nothing to plot: history has keys {history.keys()}")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for key in keys:
        ax.plot(history["epoch"], history[key], marker="o", ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def ab_gamut(L: float = 50.0, resolution: int = 256, ab_range: float = 128.0, ax=None,
             show_out_of_gamut: bool = False) -> Figure:
    """The colours of the ab plane at lightness ``L`` (the sRGB gamut as an image).

    Pixels whose Lab colour lies outside the sRGB gamut are drawn white unless
    ``show_out_of_gamut`` (then their clipped colour is shown).
    """
    if not 0 <= L <= 100:
        raise ValueError(f"L must be in [0, 100], got {L}")
    ab = torch.linspace(-ab_range, ab_range, resolution)
    b, a = torch.meshgrid(ab.flip(0), ab, indexing="ij")
    lab = torch.stack([torch.full_like(a, float(L)), a, b])
    rgb = color.lab_to_rgb(lab)
    if not show_out_of_gamut:
        back = color.rgb_to_lab(rgb)
        outside = (back - lab).abs().amax(0) > 1.0
        rgb[:, outside] = 1.0
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.2, 3.2))
    else:
        fig = ax.figure
    extent = (-ab_range, ab_range, -ab_range, ab_range)
    ax.imshow(to_numpy_image(rgb), extent=extent)
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    ax.set_title(f"ab gamut at L = {L:g}")
    return fig
