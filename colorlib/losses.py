"""Losses for colorization: classification over ab bins, and plain regression.

=====================================  =====================================================
:func:`rebalanced_cross_entropy`       Zhang et al.'s loss: soft targets over Q ab bins,
                                       each pixel weighted by how rare its colour is
:func:`l2_ab`                          the Euclidean (L2) regression loss on ab, the
                                       baseline that gives greyish, "brown" results
:class:`RebalancedCrossEntropyLoss`    ``loss_fn(logits, ab)`` for :func:`colorlib.train.fit`:
                                       the example's first three lines in one call
:class:`DecodedL2Loss`                 ``loss_fn(logits, ab)``: L2 on the colour the same
                                       network decodes (the CE-vs-L2 experiment of week 6)
:func:`ab_at`                          ab averaged down to the logits' grid (H/4, W/4)
=====================================  =====================================================

Example (with :mod:`colorlib.quantize`)::

    z = quantize.soft_encode(ab_small, bins)                 # (B, Q, h, w) targets
    v = quantize.pixel_weights(z, class_weights)              # (B, h, w)
    loss = losses.rebalanced_cross_entropy(model(L), z, v)    # logits (B, Q, h, w)

    loss_fn = losses.RebalancedCrossEntropyLoss(bins, class_weights)
    fit(model, loaders..., loss_fn=loss_fn)                   # batches (L, ab) at full size
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import quantize

__all__ = [
    "DecodedL2Loss",
    "RebalancedCrossEntropyLoss",
    "ab_at",
    "l2_ab",
    "rebalanced_cross_entropy",
]


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


def ab_at(ab: torch.Tensor, size) -> torch.Tensor:
    """ab (B, 2, H, W) averaged down to ``size`` = (h, w), the grid of a model's logits.

    Zhang et al.'s network predicts one distribution per 4 x 4 block of pixels; its
    targets are the block's mean colour (``F.interpolate(..., mode="area")``; a no-op
    when ab already has that size).
    """
    size = tuple(int(v) for v in size)
    if tuple(ab.shape[-2:]) == size:
        return ab
    return F.interpolate(ab, size=size, mode="area")


class RebalancedCrossEntropyLoss:
    """``loss_fn(logits, ab)``: Zhang et al.'s training loss, ready for :func:`colorlib.train.fit`.

    For a batch of logits (B, Q, h, w) and the true ab (B, 2, H, W) at full size: ab is
    averaged down to (h, w) (:func:`ab_at`), soft-encoded over ``bins``
    (:func:`colorlib.quantize.soft_encode`, k nearest centres, Gaussian sigma), each
    pixel weighted by its colour's class weight (:func:`colorlib.quantize.pixel_weights`),
    and :func:`rebalanced_cross_entropy` is returned.

    Args:
        bins: the :class:`colorlib.quantize.ABBins` the model predicts over.
        class_weights: (Q,) from :func:`colorlib.quantize.rebalance_weights`, or None for
            no rebalancing (every pixel weighs 1).
        k, sigma: soft-encoding neighbours and width (the paper: 5 and 5).
    """

    def __init__(self, bins: quantize.ABBins, class_weights: torch.Tensor | None = None,
                 k: int = 5, sigma: float = 5.0):
        if class_weights is not None and len(class_weights) != len(bins):
            raise ValueError(f"class_weights has {len(class_weights)} entries but there are "
                             f"{len(bins)} bins")
        self.bins, self.class_weights, self.k, self.sigma = bins, class_weights, k, sigma

    def __call__(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 4 or logits.shape[1] != len(self.bins):
            raise ValueError(f"expected logits (B, Q={len(self.bins)}, h, w), got "
                             f"{tuple(logits.shape)}")
        z = quantize.soft_encode(ab_at(ab.float(), logits.shape[-2:]), self.bins, self.k,
                                 self.sigma)
        v = None if self.class_weights is None else quantize.pixel_weights(z, self.class_weights)
        return rebalanced_cross_entropy(logits, z, v)

    def __repr__(self) -> str:
        weighted = "rebalanced" if self.class_weights is not None else "not rebalanced"
        return (f"RebalancedCrossEntropyLoss(Q={len(self.bins)}, k={self.k}, "
                f"sigma={self.sigma:g}, {weighted})")


class DecodedL2Loss:
    """``loss_fn(logits, ab)``: the L2 loss on the colour a classification network decodes.

    The same network as with :class:`RebalancedCrossEntropyLoss`, trained instead to
    regress: its distribution over the bins is decoded with the annealed mean at ``T``
    (T = 1: the plain expected colour, a smooth, differentiable function of the logits)
    and compared with the true ab averaged down to the logits' grid by :func:`l2_ab`.
    Only the loss differs between the two, which makes it a clean experiment; Zhang et
    al.'s own L2 baseline regressed ab with a 2-channel output instead.

    Args:
        bins: the :class:`colorlib.quantize.ABBins` the model predicts over.
        T: temperature of the decoding (1: the mean).
    """

    def __init__(self, bins: quantize.ABBins, T: float = 1.0):
        self.bins, self.T = bins, T

    def __call__(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        pred = quantize.annealed_mean(logits.float(), self.bins, T=self.T)
        return l2_ab(pred, ab_at(ab.float(), logits.shape[-2:]))

    def __repr__(self) -> str:
        return f"DecodedL2Loss(Q={len(self.bins)}, T={self.T:g})"
