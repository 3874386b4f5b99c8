"""Image-quality and classification metrics, batched, one number per image.

Image metrics take RGB batches (B, 3, H, W) (SSIM also (B, 1, H, W)) as float
tensors in [0, 1] and return a float32 tensor of shape (B,) -- one value per
image -- or, with ``reduction="mean"``, its mean as a scalar tensor.

==================  ==========================  =====================================
metric              range                        better
==================  ==========================  =====================================
:func:`psnr`        0 .. 100 dB (capped)         higher; ~20-30 dB is typical here
:func:`ssim`        -1 .. 1                      higher; 1 = identical
:func:`ciede2000`   0 .. ~100                    lower; ~2.3 is "just noticeable"
:func:`colourfulness`  0 .. ~200                 (not better or worse: 0 = gray)
:func:`accuracy`    0 .. 1                       higher
==================  ==========================  =====================================

SSIM and CIEDE2000 are computed by scikit-image on the CPU (the tensors are
moved there); the result comes back on the input's device.

Example:
    >>> import torch
    >>> from colorlib import metrics
    >>> truth = torch.rand(4, 3, 32, 32)
    >>> pred = (truth + 0.05 * torch.randn_like(truth)).clamp(0, 1)
    >>> metrics.psnr(pred, truth).shape
    torch.Size([4])
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from . import color

__all__ = ["accuracy", "ciede2000", "colorfulness", "colourfulness", "psnr", "ssim"]

_MIN_MSE = 1e-10  # psnr's floor on the mean squared error: 100 dB for data_range=1


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return values
    if reduction == "mean":
        return values.mean()
    raise ValueError(f"reduction must be 'none' or 'mean', got {reduction!r}")


def _check_images(name: str, channels: tuple[int, ...] | None, **images: torch.Tensor) -> None:
    """Each image must be (B, C, H, W) with C in ``channels`` (any C if None), shapes equal."""
    shapes = {}
    for arg, image in images.items():
        if not isinstance(image, torch.Tensor):
            raise TypeError(f"{name}: {arg} must be a torch.Tensor, got {type(image).__name__}")
        if image.dim() != 4 or (channels is not None and image.shape[1] not in channels):
            wanted = " or ".join(f"(B, {c}, H, W)" for c in channels or ("C",))
            raise ValueError(
                f"{name}: {arg} must have shape {wanted}, got {tuple(image.shape)}; "
                "add a batch dimension with image[None] for a single image"
            )
        shapes[arg] = tuple(image.shape)
    if len(set(shapes.values())) > 1:
        described = " and ".join(f"{arg} {shape}" for arg, shape in shapes.items())
        raise ValueError(f"{name}: shapes differ: {described}")


def _to_numpy_hwc(image: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) tensor -> (B, H, W, C) float64 numpy array on the CPU."""
    return image.detach().to("cpu", torch.float64).permute(0, 2, 3, 1).numpy()


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0,
         reduction: str = "none") -> torch.Tensor:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)``, per image.

    The mean squared error is taken over the channels and pixels of each image
    and floored at 1e-10, so identical images give a finite 100 dB (for
    ``data_range=1``) instead of infinity, and batch means stay finite.

    Args:
        pred, target: (B, C, H, W) float tensors (any C), values in [0, data_range].
        data_range: the span of possible values (1 for images in [0, 1]).
        reduction: ``"none"`` for a (B,) tensor, ``"mean"`` for its mean.

    Returns:
        float32 tensor, (B,) or scalar, in dB: 0 (or below) .. 100, higher is better.
    """
    _check_images("psnr", None, pred=pred, target=target)
    diff = pred.detach().float() - target.detach().float()
    mse = diff.pow(2).mean(dim=(1, 2, 3)).clamp_min(_MIN_MSE)
    return _reduce(10.0 * torch.log10(data_range**2 / mse), reduction)


def ssim(pred: torch.Tensor, target: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Structural similarity (Wang et al. 2004), per image, via scikit-image.

    ``skimage.metrics.structural_similarity`` with its defaults (7 x 7 uniform
    window), ``data_range=1`` and, for colour, the mean over the channels.

    Args:
        pred, target: (B, 3, H, W) or (B, 1, H, W) float in [0, 1], H and W >= 7.
        reduction: ``"none"`` for a (B,) tensor, ``"mean"`` for its mean.

    Returns:
        float32 tensor, (B,) or scalar, in [-1, 1]; 1 means identical.
    """
    _check_images("ssim", (1, 3), pred=pred, target=target)
    if min(pred.shape[-2:]) < 7:
        raise ValueError(
            f"ssim: images must be at least 7 x 7 pixels (the window size), got "
            f"{tuple(pred.shape[-2:])}"
        )
    a, b = _to_numpy_hwc(pred), _to_numpy_hwc(target)
    if pred.shape[1] == 1:
        scores = [structural_similarity(x[..., 0], y[..., 0], data_range=1.0) for x, y in zip(a, b)]
    else:
        scores = [
            structural_similarity(x, y, data_range=1.0, channel_axis=-1) for x, y in zip(a, b)
        ]
    values = torch.tensor(scores, dtype=torch.float32, device=pred.device)
    return _reduce(values, reduction)


def ciede2000(pred: torch.Tensor, target: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Mean CIEDE2000 colour difference per image.

    Both images are converted to Lab with :func:`colorlib.color.rgb_to_lab`; the
    per-pixel difference is ``skimage.color.deltaE_ciede2000``, averaged over
    the pixels of each image.

    Args:
        pred, target: (B, 3, H, W) float RGB in [0, 1].
        reduction: ``"none"`` for a (B,) tensor, ``"mean"`` for its mean.

    Returns:
        float32 tensor, (B,) or scalar, >= 0: 0 for identical images, about 2.3
        for a just-noticeable difference, up to ~100 for opposite colours.
        Lower is better.
    """
    _check_images("ciede2000", (3,), pred=pred, target=target)
    with torch.no_grad():
        lab_pred = _to_numpy_hwc(color.rgb_to_lab(pred))
        lab_target = _to_numpy_hwc(color.rgb_to_lab(target))
    per_pixel = deltaE_ciede2000(lab_pred, lab_target, channel_axis=-1)  # (B, H, W)
    values = torch.from_numpy(per_pixel.mean(axis=(1, 2))).float().to(pred.device)
    return _reduce(values, reduction)


def colourfulness(rgb: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Colourfulness M of Hasler & Suesstrunk (2003), per image.

    On the 0-255 scale, with opponent channels rg = R - G and
    yb = (R + G) / 2 - B over the pixels of an image:
    ``M = sqrt(std_rg**2 + std_yb**2) + 0.3 * sqrt(mean_rg**2 + mean_yb**2)``
    (population standard deviations).  The paper calibrates it against human
    ratings: about 15 "slightly", 33 "moderately", 45 "averagely", 59 "quite",
    82 "highly", 109 "extremely" colourful.  A colorizer that plays safe
    (sepia, brownish) scores low; the photographs it learns from score higher.

    Args:
        rgb: (B, 3, H, W) float RGB in [0, 1].
        reduction: ``"none"`` for a (B,) tensor, ``"mean"`` for its mean.

    Returns:
        float32 tensor, (B,) or scalar, >= 0; exactly 0 for a gray image.
    """
    _check_images("colourfulness", (3,), rgb=rgb)
    r, g, b = (255.0 * rgb.detach().float()).unbind(1)
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    spread = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False))
    offset = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return _reduce(spread + 0.3 * offset, reduction)


#: American spelling of :func:`colourfulness`.
colorfulness = colourfulness


def accuracy(logits_or_labels: torch.Tensor, labels: torch.Tensor,
             reduction: str = "mean") -> torch.Tensor:
    """Fraction of correct class predictions.

    Args:
        logits_or_labels: (B, C) scores (logits or probabilities; the argmax over
            C is the prediction) or (B,) predicted class indices.
        labels: (B,) true class indices.
        reduction: ``"mean"`` (default) for the fraction correct as a scalar,
            ``"none"`` for a (B,) tensor of 1.0 (correct) and 0.0 (wrong).

    Returns:
        float32 tensor in [0, 1].

    Example:
        >>> accuracy(torch.tensor([[2.0, 0.1], [0.3, 0.9]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    for arg, t in (("logits_or_labels", logits_or_labels), ("labels", labels)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"accuracy: {arg} must be a torch.Tensor, got {type(t).__name__}")
    if labels.dim() != 1:
        raise ValueError(f"accuracy: labels must have shape (B,), got {tuple(labels.shape)}")
    if logits_or_labels.dim() == 2:
        predicted = logits_or_labels.argmax(dim=1)
    elif logits_or_labels.dim() == 1:
        predicted = logits_or_labels
    else:
        raise ValueError(
            "accuracy: predictions must be (B, C) logits or (B,) labels, got "
            f"{tuple(logits_or_labels.shape)}"
        )
    if predicted.shape[0] != labels.shape[0]:
        raise ValueError(
            f"accuracy: batch sizes differ: predictions {tuple(logits_or_labels.shape)} and "
            f"labels {tuple(labels.shape)}"
        )
    correct = (predicted.to(labels.device) == labels).float()
    return _reduce(correct, reduction)

