"""Tests for colorlib.metrics against scikit-image and plain numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorlib import color, metrics


def noisy_pair(seed: int, shape=(3, 3, 24, 20), noise=0.1):
    torch.manual_seed(seed)
    target = torch.rand(*shape)
    pred = (target + noise * torch.randn_like(target)).clamp(0, 1)
    return pred, target


def hwc(t: torch.Tensor) -> np.ndarray:
    return t.double().permute(1, 2, 0).numpy()


def test_psnr_matches_skimage():
    pred, target = noisy_pair(0)
    got = metrics.psnr(pred, target)
    assert got.shape == (3,) and got.dtype == torch.float32
    expected = [peak_signal_noise_ratio(hwc(t), hwc(p), data_range=1.0)
                for p, t in zip(pred, target)]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-3, rtol=0)
    scaled = metrics.psnr(pred * 255, target * 255, data_range=255.0)
    np.testing.assert_allclose(scaled.numpy(), expected, atol=1e-3, rtol=0)
    mean = metrics.psnr(pred, target, reduction="mean")
    assert mean.dim() == 0 and abs(mean.item() - np.mean(expected)) < 1e-3


def test_psnr_identical_images_is_capped_at_100_db():
    x = torch.rand(2, 3, 8, 8)
    np.testing.assert_allclose(metrics.psnr(x, x.clone()).numpy(), [100.0, 100.0], atol=1e-4)
    worse = metrics.psnr(x, (x + 0.01).clamp(0, 1))
    assert (worse < 100).all() and (worse > 30).all()


def test_ssim_matches_skimage_and_is_one_for_identical_images():
    pred, target = noisy_pair(1)
    got = metrics.ssim(pred, target)
    expected = [structural_similarity(hwc(p), hwc(t), data_range=1.0, channel_axis=-1)
                for p, t in zip(pred, target)]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5, rtol=0)
    assert (got < 0.95).all()
    np.testing.assert_allclose(metrics.ssim(target, target).numpy(), 1.0, atol=1e-6)
    gray = target[:, :1]
    np.testing.assert_allclose(metrics.ssim(gray, gray).numpy(), 1.0, atol=1e-6)
    one = metrics.ssim(pred[:, :1], gray)
    ref = structural_similarity(pred[0, 0].double().numpy(), gray[0, 0].double().numpy(),
                                data_range=1.0)
    assert abs(one[0].item() - ref) < 1e-5
    assert metrics.ssim(pred, target, reduction="mean").dim() == 0


def test_ciede2000_matches_per_pixel_skimage():
    pred, target = noisy_pair(2, noise=0.05)
    got = metrics.ciede2000(pred, target)
    assert got.shape == (3,)
    for i in range(3):
        per_pixel = deltaE_ciede2000(rgb2lab(hwc(pred[i])), rgb2lab(hwc(target[i])))
        assert abs(got[i].item() - per_pixel.mean()) < 1e-3
    np.testing.assert_allclose(metrics.ciede2000(target, target).numpy(), 0.0, atol=1e-6)
    # A visibly different colour is well above the just-noticeable ~2.3.
    red, orange = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1
    orange[:, 0], orange[:, 1] = 1, 0.5
    assert metrics.ciede2000(red, orange).item() > 10


def numpy_colourfulness(img: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) on a (H, W, 3) array in 0..255, written out plainly."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return np.sqrt(np.std(rg) ** 2 + np.std(yb) ** 2) + 0.3 * np.sqrt(
        np.mean(rg) ** 2 + np.mean(yb) ** 2
    )


def test_colourfulness_matches_numpy():
    torch.manual_seed(3)
    rgb = torch.rand(3, 3, 16, 12)
    got = metrics.colourfulness(rgb)
    expected = [numpy_colourfulness(hwc(x) * 255) for x in rgb]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)
    assert metrics.colorfulness is metrics.colourfulness


def test_colourfulness_is_zero_for_gray_and_grows_with_saturation():
    torch.manual_seed(4)
    rgb = torch.rand(2, 3, 16, 16)
    gray = color.rgb_to_gray(rgb).expand(-1, 3, -1, -1)
    np.testing.assert_allclose(metrics.colourfulness(gray).numpy(), 0.0, atol=1e-3)
    desaturated = 0.3 * rgb + 0.7 * gray
    assert (metrics.colourfulness(rgb) > metrics.colourfulness(desaturated) + 5).all()
    assert metrics.colourfulness(rgb, reduction="mean").dim() == 0


def test_accuracy_on_a_handmade_example():
    logits = torch.tensor([[0.1, 2.0, 0.3], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 3.0, 0.0]])
    labels = torch.tensor([1, 0, 0, 2])  # first two right, last two wrong
    assert metrics.accuracy(logits, labels).item() == pytest.approx(0.5)
    predicted = torch.tensor([1, 0, 0, 2])
    assert metrics.accuracy(predicted, labels).item() == 1.0
    per_example = metrics.accuracy(logits, labels, reduction="none")
    assert per_example.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_shape_mismatch_and_bad_arguments_raise():
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 9)
    for fn in (metrics.psnr, metrics.ssim, metrics.ciede2000):
        with pytest.raises(ValueError, match=r"\(2, 3, 8, 8\).*\(2, 3, 8, 9\)"):
            fn(a, b)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*got \(3, 8, 8\)"):
        metrics.colourfulness(a[0])
    with pytest.raises(ValueError, match=r"\(4, 10\).*\(3,\)"):
        metrics.accuracy(torch.rand(4, 10), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="reduction"):
        metrics.psnr(a, a, reduction="sum")
    with pytest.raises(ValueError, match="7 x 7"):
        metrics.ssim(a[..., :5, :5], a[..., :5, :5])
