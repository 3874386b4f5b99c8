"""Training Zhang et al.'s colorizer: the narrow twin, the two losses, and CE vs L2.

The slow test repeats week 6's quick-mode experiment: the same network trained with the
rebalanced cross-entropy and with L2 on the bundled sample crops, same budget; the
cross-entropy model must come out more colourful.
"""

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


def test_rebalanced_loss_is_the_three_steps():
    g = torch.Generator().manual_seed(1)
    bins = ABBins.from_gamut()
    ab = torch.randn(2, 2, 16, 16, generator=g) * 30
    weights = quantize.rebalance_weights(quantize.empirical_prior(ab, bins))
    logits = torch.randn(2, len(bins), 4, 4, generator=g)
    small = F.interpolate(ab, size=(4, 4), mode="area")
    z = quantize.soft_encode(small, bins)
    expected = losses.rebalanced_cross_entropy(logits, z, quantize.pixel_weights(z, weights))
    loss = losses.RebalancedCrossEntropyLoss(bins, weights)
    assert loss(logits, ab).item() == pytest.approx(expected.item(), rel=1e-6)
    plain = losses.RebalancedCrossEntropyLoss(bins)
    assert plain(logits, ab).item() == pytest.approx(
        losses.rebalanced_cross_entropy(logits, z).item(), rel=1e-6)
    assert "Q=261" in repr(loss) and "not rebalanced" in repr(plain)
    with pytest.raises(ValueError, match="entries"):
        losses.RebalancedCrossEntropyLoss(bins, weights[:-1])
    with pytest.raises(ValueError, match="logits"):
        loss(logits[:, :5], ab)


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
        optimizer = torch.optim.Adam(params, lr=3e-3, betas=(0.9, 0.99), weight_decay=1e-3)
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
# this exact set-up for seeds 0 to 9: 11.3, 5.5, 2.6, 6.1, 3.4, 7.2, 10.4, 8.6, 2.8, 9.0
# (minimum 2.6, median 6.6; the models score 15-25 and 10-17, the true photographs 47-49).
# Seed 0 is the notebook's; the test asks for less than the smallest margin ever seen.
MARGIN = 1.0


@pytest.mark.slow
def test_cross_entropy_is_more_colourful_than_l2():
    ce = _colourfulness_after_training("ce", seed=0)
    l2 = _colourfulness_after_training("l2", seed=0)
    assert ce > l2 + MARGIN, f"colourfulness: cross-entropy {ce:.1f}, L2 {l2:.1f}"
