"""Losses for colorization: classification over ab bins, and plain regression.

=================================  =====================================================
:func:`rebalanced_cross_entropy`   Zhang et al.'s loss: soft targets over Q ab bins,
                                   each pixel weighted by how rare its colour is
:func:`l2_ab`                      the Euclidean (L2) regression loss on ab, the
                                   baseline that gives greyish, "brown" results
=================================  =====================================================

Example (with :mod:`colorlib.quantize`)::

    z = quantize.soft_encode(ab_small, bins)                 # (B, Q, h, w) targets
    v = quantize.pixel_weights(z, class_weights)              # (B, h, w)
    loss = losses.rebalanced_cross_entropy(model(L), z, v)    # logits (B, Q, h, w)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["l2_ab", "rebalanced_cross_entropy"]


def rebalanced_cross_entropy(
    logits: torch.Tensor,
    soft_targets: torch.Tensor,
    pixel_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Class-rebalanced multinomial cross-entropy (Zhang et al., ECCV 2016, Eq. 2).

    loss = mean over pixels (b, h, w) of  -v[b, h, w] * sum_q z[b, q, h, w] log p[b, q, h, w],
    with p = softmax(logits) over q.  With ``pixel_weights=None`` (all v = 1) this is the
    plain cross-entropy with soft targets (``F.cross_entropy`` with probability targets).
    The paper sums over pixels; the mean keeps the scale independent of image size.

    Args:
        logits: (B, Q, h, w) unnormalised scores (the network's output).
        soft_targets: (B, Q, h, w) non-negative, summing to 1 over Q
            (:func:`colorlib.quantize.soft_encode` of ab at the logits' resolution).
        pixel_weights: (B, h, w) weight of each pixel
            (:func:`colorlib.quantize.pixel_weights`), or None for all 1.

    Returns:
        scalar tensor (float32 even under autocast, for a stable loss value).
    """
    if logits.dim() != 4:
        raise ValueError(f"logits must have shape (B, Q, h, w), got {tuple(logits.shape)}")
    if soft_targets.shape != logits.shape:
        raise ValueError(
            f"soft_targets {tuple(soft_targets.shape)} must have the logits' shape "
            f"{tuple(logits.shape)}; encode ab at the logits' resolution, e.g. "
            "soft_encode(F.interpolate(ab, size=logits.shape[-2:], mode='area'), bins)"
        )
    log_p = torch.log_softmax(logits.float(), dim=1)
    per_pixel = -(soft_targets.float() * log_p).sum(dim=1)  # (B, h, w)
    if pixel_weights is not None:
        expected = (logits.shape[0], *logits.shape[2:])
        if tuple(pixel_weights.shape) != expected:
            raise ValueError(
                f"pixel_weights must have shape (B, h, w) = {expected}, got "
                f"{tuple(pixel_weights.shape)}"
            )
        per_pixel = per_pixel * pixel_weights.float()
    return per_pixel.mean()


def l2_ab(pred_ab: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
    """Euclidean loss on ab in raw units: the regression baseline.

    loss = mean over pixels of 1/2 ||pred - target||^2 over the two channels (a, b), the
    L2 loss of Zhang et al. (Eq. 1).  Halving the sum over two channels makes it equal
    to the mean squared error over all elements, ``F.mse_loss(pred, target)``.  Its
    optimum is the mean colour of all plausible ones, which is why L2-trained
    colorizers look desaturated.

    Args:
        pred_ab: (B, 2, H, W) predicted ab, raw units.
        target_ab: (B, 2, H, W) true ab, raw units.

    Returns:
        scalar tensor, in squared ab units.
    """
    if pred_ab.dim() != 4 or pred_ab.shape[1] != 2:
        raise ValueError(f"pred_ab must have shape (B, 2, H, W), got {tuple(pred_ab.shape)}")
    if pred_ab.shape != target_ab.shape:
        raise ValueError(
            f"pred_ab {tuple(pred_ab.shape)} and target_ab {tuple(target_ab.shape)} differ in "
            "shape; resize one with F.interpolate first"
        )
    return F.mse_loss(pred_ab.float(), target_ab.float())
