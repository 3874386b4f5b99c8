"""Training Zhang et al.'s colorizer: the narrow twin, the two losses, and CE vs L2.

The slow test repeats week 6's quick-mode experiment: the same network trained with the
rebalanced cross-entropy and with L2 on the bundled sample crops, same budget; the
cross-entropy model must come out more colourful.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from colorlib import checkpoint, color, data, losses, metrics, models, quantize
from colorlib.models.zhang import ZhangColorizer
from colorlib.quantize import ABBins
from colorlib.train import fit

# --------------------------------------------------------------------------- the narrow twin


def test_width_scales_the_channels_and_keeps_the_paper_at_64():
    assert models.count_parameters(ZhangColorizer()) == 32_236_011
    narrow = models.build("zhang", width=16)
    assert models.count_parameters(narrow) == 2_033_211
    assert narrow.conv1[0].out_channels == 16 and narrow.conv4[0].out_channels == 128
    assert narrow.classifier.in_channels == 64 and narrow.classifier.out_channels == 313
    L = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        assert narrow.eval()(L).shape == (2, 313, 8, 8)
    with pytest.raises(ValueError, match="width"):
        ZhangColorizer(width=0)


def test_a_narrow_model_with_data_bins_survives_a_checkpoint(tmp_path):
    g = torch.Generator().manual_seed(0)
    bins = ABBins.from_data(torch.randn(3000, 2, generator=g) * 20)
    model = models.build("zhang", num_bins=len(bins), T=0.5, width=4)
    model.set_bins(bins)
    path = checkpoint.save_model(tmp_path / "06_zhang_quick.pt", model)
    restored = checkpoint.load_model(path)
    assert restored.width == 4 and restored.T == 0.5
    assert torch.equal(restored.bins.centers, bins.centers)
    L = torch.rand(1, 1, 16, 16) * 100
    with torch.no_grad():
        assert torch.allclose(restored(L), model.eval()(L))


# --------------------------------------------------------------------------- the losses


def _three_bins() -> ABBins:
    """Three bins on the a axis (b = 0): a = 0, a = 10 and, far from both, a = 40."""
    return ABBins.from_centers(torch.tensor([[0.0, 0.0], [10.0, 0.0], [40.0, 0.0]]))


def _logits(*probabilities) -> torch.Tensor:
    """Logits (1, 3, 1, W) whose softmax is the given distribution in each of the W pixels."""
    return torch.tensor(probabilities).log().T.reshape(1, 3, 1, -1)


def test_rebalanced_loss_by_hand_with_one_hot_targets():
    # ab at full size (1, 2, 2, 4); the logits' grid is 1 x 2, so each 2 x 2 block is
    # averaged: block 0 has a = 0, 2, 0, 2 (mean 1, nearest bin 0), block 1 has
    # a = 36, 40, 38, 38 (mean 38, nearest bin 2); b = 0 everywhere.
    a = torch.tensor([[0.0, 2.0, 36.0, 40.0], [2.0, 0.0, 38.0, 38.0]])
    ab = torch.stack([a, torch.zeros_like(a)])[None]
    logits = _logits([0.5, 0.25, 0.25], [0.25, 0.5, 0.25])
    class_weights = torch.tensor([0.5, 1.0, 4.0])
    loss = losses.RebalancedCrossEntropyLoss(_three_bins(), class_weights, k=1)
    # k = 1: the target is the nearest bin alone.  Pixel 0: weight 0.5, p(bin 0) = 1/2;
    # pixel 1: weight 4, p(bin 2) = 1/4.  Mean of 0.5 ln 2 and 4 ln 4 = 8 ln 2.
    assert loss(logits, ab).item() == pytest.approx((0.5 + 8.0) / 2 * math.log(2), rel=1e-6)
    unweighted = losses.RebalancedCrossEntropyLoss(_three_bins(), k=1)
    assert unweighted(logits, ab).item() == pytest.approx((1 + 2) / 2 * math.log(2), rel=1e-6)


def test_rebalanced_loss_by_hand_with_a_soft_target():
    # one pixel at a = 2: squared distances 4 to bin 0, 64 to bin 1 (bin 2 is not among
    # the k = 2 nearest); with sigma = 5 the Gaussian weights are proportional to
    # exp(-4 / 50) and exp(-64 / 50), so z1 = 1 / (1 + exp(60 / 50)) and z0 = 1 - z1.
    ab = torch.tensor([2.0, 0.0]).view(1, 2, 1, 1)
    logits = _logits([0.5, 0.25, 0.25])
    z1 = 1 / (1 + math.exp(1.2))
    cross_entropy = (1 - z1) * math.log(2) + z1 * math.log(4)  # 0.85359...
    loss = losses.RebalancedCrossEntropyLoss(_three_bins(), torch.tensor([0.5, 1.0, 4.0]),
                                             k=2, sigma=5.0)
    # the pixel weighs as much as its nearest bin, bin 0: 0.5
    assert loss(logits, ab).item() == pytest.approx(0.5 * cross_entropy, rel=1e-5)
    assert losses.rebalanced_cross_entropy(
        logits, torch.tensor([1 - z1, z1, 0.0]).view(1, 3, 1, 1)
    ).item() == pytest.approx(cross_entropy, rel=1e-5)


def test_rebalancing_with_a_uniform_prior_is_the_plain_soft_cross_entropy():
    g = torch.Generator().manual_seed(1)
    bins = ABBins.from_gamut()
    ab = torch.randn(2, 2, 4, 4, generator=g) * 30  # already at the logits' size
    logits = torch.randn(2, len(bins), 4, 4, generator=g)
    weights = quantize.rebalance_weights(torch.ones(len(bins)))
    z = quantize.soft_encode(ab, bins)
    plain = F.cross_entropy(logits, z)  # torch's own cross-entropy with probability targets
    assert losses.RebalancedCrossEntropyLoss(bins, weights)(logits, ab).item() == \
        pytest.approx(plain.item(), rel=1e-5)
    assert losses.RebalancedCrossEntropyLoss(bins)(logits, ab).item() == \
        pytest.approx(plain.item(), rel=1e-5)


def test_a_pixel_of_a_rare_colour_weighs_more():
    bins = _three_bins()
    loss = losses.RebalancedCrossEntropyLoss(
        bins, quantize.rebalance_weights(torch.tensor([0.7, 0.2, 0.1])), k=1)
    logits = torch.zeros(1, 3, 1, 1)  # p = 1/3 for every bin: plain cross-entropy ln 3
    common, middle, rare = (loss(logits, torch.tensor([a, 0.0]).view(1, 2, 1, 1)).item()
                            for a in (0.0, 10.0, 40.0))
    # the expected weight of a pixel is 1: the common colour weighs less, the rare more
    assert common < middle < rare
    assert common < math.log(3) < rare


def test_rebalanced_loss_names_its_setting_and_rejects_wrong_shapes():
    bins = ABBins.from_gamut()
    weights = torch.ones(len(bins))
    loss = losses.RebalancedCrossEntropyLoss(bins, weights)
    assert "Q=261" in repr(loss) and "rebalanced" in repr(loss)
    assert "not rebalanced" in repr(losses.RebalancedCrossEntropyLoss(bins))
    with pytest.raises(ValueError, match="class_weights has 260 entries but there are 261 bins"):
        losses.RebalancedCrossEntropyLoss(bins, weights[:-1])
    with pytest.raises(ValueError, match=r"expected logits \(B, Q=261, h, w\), got \(1, 5, 4, 4\)"):
        loss(torch.zeros(1, 5, 4, 4), torch.zeros(1, 2, 16, 16))


def test_decoded_l2_is_l2_on_the_mean_colour():
    g = torch.Generator().manual_seed(2)
    bins = ABBins.from_gamut()
    ab = torch.randn(1, 2, 8, 8, generator=g) * 30
    logits = torch.randn(1, len(bins), 2, 2, generator=g, requires_grad=True)
    probs = torch.softmax(logits, 1)
    mean = torch.einsum("bqhw,qc->bchw", probs, bins.centers)
    target = ab.view(1, 2, 2, 4, 2, 4).mean((3, 5))  # 4 x 4 block averages
    expected = 0.5 * (mean - target).pow(2).sum(1).mean()
    loss = losses.DecodedL2Loss(bins)(logits, ab)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert logits.grad.abs().sum() > 0
    assert torch.equal(losses.ab_at(ab, (8, 8)), ab)


# --------------------------------------------------------------------------- CE vs L2


def _colourfulness_after_training(loss_name: str, seed: int) -> float:
    """Week 6's quick experiment, one model: its mean colourfulness on held-out images.

    The average of two sets: 64 new crops of the training photographs and 64 crops of the
    two validation photographs, as in the notebook.
    """
    size, width, epochs = 32, 8, 40
    train = data.samples("train", size=size, n=128, seed=0)
    held_out = [data.samples("train", size=size, n=64, seed=123).images,
                data.samples("val", size=size, n=64).images]
    _, ab = color.split(train.images, "lab")
    bins = ABBins.from_data(ab)
    if loss_name == "ce":
        weights = quantize.rebalance_weights(quantize.empirical_prior(ab, bins))
        loss_fn, T = losses.RebalancedCrossEntropyLoss(bins, weights), 0.38
    else:
        loss_fn, T = losses.DecodedL2Loss(bins), 1.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic, so the same run, on every machine
    try:
        torch.manual_seed(seed)
        model = models.build("zhang", num_bins=len(bins), T=T, width=width)
        model.set_bins(bins)
        loader, _ = data.loaders(train, None, batch_size=16, space="lab", seed=seed)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.0)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
        fit(model, loader, epochs=epochs, loss_fn=loss_fn, optimizer=optimizer,
            scheduler=schedule, device="cpu", seed=seed, verbose=False, progress=False)
        with torch.no_grad():
            scores = [metrics.colourfulness(model.colorize(color.rgb_to_gray(rgb))).mean()
                      for rgb in held_out]
    finally:
        torch.set_num_threads(threads)
    return float(sum(scores) / len(scores))


# Colourfulness of cross-entropy minus L2 (average of the two held-out sets), measured with
# this exact set-up for seeds 0 to 9: 21.7, 15.6, 8.7, 21.3, 6.0, 9.8, 8.8, 12.3, 28.3, 11.2
# (minimum 6.0, median 11.8; the models score 21-39 and 10-15, the true photographs 47-49).
# With the report's weight decay 1e-3 (and lr 3e-3) the margins were -1.3 to 26: that
# set-up is why the notebook uses lr 1e-2 and no weight decay in quick mode.
# Seed 0 is the notebook's; the test asks for a third of the smallest margin seen.
MARGIN = 2.0


@pytest.mark.slow
def test_cross_entropy_is_more_colourful_than_l2():
    ce = _colourfulness_after_training("ce", seed=0)
    l2 = _colourfulness_after_training("l2", seed=0)
    assert ce > l2 + MARGIN, f"colourfulness: cross-entropy {ce:.1f}, L2 {l2:.1f}"
