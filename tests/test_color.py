"""Tests for colorlib.color against scikit-image and independent numpy formulas."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color as skcolor

from colorlib import color

TOL = 2e-3  # agreement with scikit-image, in the units of the output

# With NumPy's log2 / cbrt (AVX-512 CPUs) the in-place fast path rounds differently from
# the autograd path (torch's exp2(p log2 x)): a = 500 (gx - gy) magnifies a 1e-7
# difference of g to 5e-5.  Measured: at most 1.2e-4.  (With torch's, 1e-4 holds.)
PATHS_TOL = 3e-4


@pytest.fixture(autouse=True, params=[False, True], ids=["torch-curves", "numpy-curves"])
def curves(request, monkeypatch):
    """Every test runs with both implementations of the fast path's log2 and cube root."""
    monkeypatch.setattr(color, "_NUMPY_LOG2_CBRT", request.param)
    monkeypatch.setattr(color, "_NUMPY_MAX_THREADS", 1 << 16)  # whatever the thread count
    return request.param


def to_hwc(t: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) or (C, H, W) tensor -> channel-last float64 numpy array."""
    return np.moveaxis(t.detach().double().numpy(), -3, -1)


def from_hwc(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, -3))).float()


def edge_rgb() -> torch.Tensor:
    """(1, 3, 4, 8): the 8 cube corners (black, white, primaries, secondaries), grays, 0/1 mixes."""
    corners = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)))  # (8, 3)
    grays = torch.tensor([0.0, 0.04045, 0.0031308, 0.5, 0.999, 1.0, 1e-6, 0.2]).view(8, 1)
    mixes = torch.tensor(
        [[1, 0.5, 0], [0, 1, 0.5], [0.5, 0, 1], [1, 1, 0.5], [0.04045] * 3,
         [0.04, 0.05, 0.03], [0.001, 0.0, 1.0], [1.0, 0.0, 0.001]]
    )
    pixels = torch.cat([corners, grays.expand(8, 3), mixes, torch.rand(8, 3)])  # (32, 3)
    return pixels.T.reshape(1, 3, 4, 8)


def out_of_gamut_lab() -> torch.Tensor:
    """(1, 3, 6, 10): Lab triples, many of which have no sRGB colour."""
    rows = []
    for L in (0.0, 50.0, 100.0):
        for a, b in itertools.product([-127.0, 127.0], repeat=2):
            rows.append([L, a, b])
        rows += [[L, 0.0, -128.0], [L, -128.0, 0.0], [L, 100.0, -100.0], [L, 60.0, 90.0]]
    rows += [[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [5.0, 40.0, 127.0], [3.0, -80.0, 120.0]]
    lab = torch.tensor(rows)  # (28, 3)
    random = torch.rand(32, 3) * torch.tensor([100.0, 255.0, 255.0]) - torch.tensor(
        [0.0, 128.0, 128.0]
    )
    return torch.cat([lab, random]).T.reshape(1, 3, 6, 10)


# ---------------------------------------------------------------------------
# Agreement with scikit-image
# ---------------------------------------------------------------------------


def test_rgb_to_lab_matches_skimage_on_random_and_edge_colours():
    torch.manual_seed(0)
    for rgb in (torch.rand(3, 3, 17, 13), edge_rgb()):
        expected = skcolor.rgb2lab(to_hwc(rgb))
        got = to_hwc(color.rgb_to_lab(rgb))
        np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)


def test_rgb_to_lab_known_values():
    white, black = torch.ones(3, 1, 1), torch.zeros(3, 1, 1)
    np.testing.assert_allclose(color.rgb_to_lab(white).flatten(), [100, 0, 0], atol=0.01)
    assert torch.equal(color.rgb_to_lab(black), black)  # exactly (0, 0, 0)
    assert torch.equal(color.lab_to_rgb(black), black)
    lab = color.rgb_to_lab(torch.rand(2, 3, 9, 9))
    assert lab.dtype == torch.float32
    assert lab[:, 0].min() >= 0 and lab[:, 0].max() <= 100.001


def test_single_image_equals_batch_element():
    torch.manual_seed(1)
    rgb = torch.rand(2, 3, 5, 7)
    for fn in (color.rgb_to_lab, color.rgb_to_yuv, color.rgb_to_gray):
        torch.testing.assert_close(fn(rgb[1]), fn(rgb)[1], atol=1e-4, rtol=0)
    extra = rgb.view(1, 2, 3, 5, 7)  # any number of leading dimensions
    torch.testing.assert_close(color.rgb_to_lab(extra)[0], color.rgb_to_lab(rgb), atol=1e-4, rtol=0)


def test_lab_to_rgb_matches_skimage_in_gamut():
    torch.manual_seed(2)
    lab = torch.from_numpy(skcolor.rgb2lab(np.random.default_rng(2).random((2, 11, 9, 3))))
    lab = lab.permute(0, 3, 1, 2).float()
    expected = skcolor.lab2rgb(to_hwc(lab))
    np.testing.assert_allclose(to_hwc(color.lab_to_rgb(lab)), expected, atol=TOL, rtol=0)


def test_lab_to_rgb_matches_skimage_out_of_gamut():
    torch.manual_seed(3)
    lab = out_of_gamut_lab()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "negative Z values ... clipped"
        expected = skcolor.lab2rgb(to_hwc(lab))
    got = color.lab_to_rgb(lab)
    np.testing.assert_allclose(to_hwc(got), expected, atol=TOL, rtol=0)
    assert got.min() >= 0 and got.max() <= 1
    # The fixture really is out of gamut: converting back does not return the input.
    assert (color.rgb_to_lab(got) - lab).abs().amax() > 50


def test_lab_round_trip():
    torch.manual_seed(4)
    rgb = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-4, rtol=0)
    corners = edge_rgb()
    torch.testing.assert_close(color.lab_to_rgb(color.rgb_to_lab(corners)), corners,
                               atol=1e-4, rtol=0)


def test_yuv_matches_skimage_both_ways():
    torch.manual_seed(5)
    rgb = torch.cat([torch.rand(1, 3, 4, 8), edge_rgb()])
    yuv = color.rgb_to_yuv(rgb)
    np.testing.assert_allclose(to_hwc(yuv), skcolor.rgb2yuv(to_hwc(rgb)), atol=TOL, rtol=0)
    assert yuv[:, 0].min() >= -1e-6 and yuv[:, 0].max() <= 1 + 1e-6
    assert yuv[:, 1].abs().max() <= 0.437 and yuv[:, 2].abs().max() <= 0.616
    torch.testing.assert_close(color.yuv_to_rgb(yuv), rgb, atol=1e-5, rtol=0)
    # Arbitrary YUV, including triples outside the RGB cube: no clipping, like skimage.
    weird = torch.rand(2, 3, 6, 6) * torch.tensor([1.0, 0.872, 1.23]).view(3, 1, 1)
    weird = weird - torch.tensor([0.0, 0.436, 0.615]).view(3, 1, 1)
    got = color.yuv_to_rgb(weird)
    np.testing.assert_allclose(to_hwc(got), skcolor.yuv2rgb(to_hwc(weird)), atol=TOL, rtol=0)
    assert got.min() < -0.05 and got.max() > 1.05


def test_yuv_luma_is_what_pil_calls_gray():
    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    pil_gray = np.asarray(Image.fromarray(img).convert("L"), dtype=np.float64)
    luma = color.rgb_to_yuv(from_hwc(img / 255.0))[0].numpy() * 255
    assert np.abs(luma - pil_gray).max() <= 1.0


# ---------------------------------------------------------------------------
# sRGB curve and gray
# ---------------------------------------------------------------------------


def numpy_srgb_to_linear(x):
    return np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)


def numpy_linear_to_srgb(x):
    return np.where(x > 0.0031308, 1.055 * np.abs(x) ** (1 / 2.4) - 0.055, 12.92 * x)


def test_srgb_curve_matches_formula_and_inverts():
    x = torch.cat([torch.linspace(0, 1, 1001), torch.tensor([0.04045, 0.0031308, 0.04046])])
    lin = color.srgb_to_linear(x)
    np.testing.assert_allclose(lin.numpy(), numpy_srgb_to_linear(x.double().numpy()),
                               atol=1e-6, rtol=0)
    back = color.linear_to_srgb(x)
    np.testing.assert_allclose(back.numpy(), numpy_linear_to_srgb(x.double().numpy()),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(color.linear_to_srgb(lin), x, atol=1e-5, rtol=0)
    assert lin[0] == 0 and back[0] == 0  # black stays exactly black
    assert abs(lin[1000].item() - 1) < 1e-6 and abs(back[1000].item() - 1) < 1e-6
    assert bool((lin[1:1001] > lin[:1000]).all()), "srgb_to_linear must be increasing"
    assert color.srgb_to_linear(torch.rand(2, 5, 7)).shape == (2, 5, 7)  # any shape


def test_rgb_to_gray_matches_numpy_and_keeps_gray():
    torch.manual_seed(7)
    rgb = torch.cat([torch.rand(2, 3, 4, 8), edge_rgb()])
    gray = color.rgb_to_gray(rgb)
    assert gray.shape == (3, 1, 4, 8) and gray.dtype == torch.float32
    lin = numpy_srgb_to_linear(rgb.double().numpy())
    y = 0.2126 * lin[:, 0] + 0.7152 * lin[:, 1] + 0.0722 * lin[:, 2]
    np.testing.assert_allclose(gray[:, 0].numpy(), numpy_linear_to_srgb(y), atol=2e-4, rtol=0)
    assert gray.min() >= 0 and gray.max() <= 1 + 1e-6
    # A gray image is its own gray.
    g = torch.rand(2, 1, 5, 5)
    torch.testing.assert_close(color.rgb_to_gray(g.expand(-1, 3, -1, -1)), g, atol=1e-5, rtol=0)


def test_gray_has_the_lightness_of_the_colour_image():
    torch.manual_seed(8)
    rgb = torch.cat([torch.rand(3, 3, 4, 8), edge_rgb()])
    lab = color.rgb_to_lab(rgb)
    gray_lab = color.rgb_to_lab(color.rgb_to_gray(rgb).expand(-1, 3, -1, -1))
    torch.testing.assert_close(gray_lab[:, 0], lab[:, 0], atol=1e-3, rtol=0)
    # a, b of a gray are 0 up to the white point of the matrix (rows sum to
    # 0.950456 and 1.088754 rather than exactly 0.95047 and 1.08883).
    assert gray_lab[:, 1:].abs().max() < 1e-2


def test_gray_differs_from_rec601_luma_for_saturated_colours():
    blue = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)
    gray = color.rgb_to_gray(blue).item()
    luma = color.rgb_to_yuv(blue)[0].item()
    assert abs(luma - 0.114) < 1e-6
    assert abs(gray - numpy_linear_to_srgb(np.float64(0.072169))) < 1e-4
    assert gray - luma > 0.15


# ---------------------------------------------------------------------------
# split / merge
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["lab", "yuv", "rgb"])
def test_split_merge_round_trip(space):
    torch.manual_seed(9)
    rgb = torch.rand(2, 3, 6, 5)
    x, y = color.split(rgb, space)
    assert x.shape == (2, 1, 6, 5)
    assert y.shape == ((2, 3, 6, 5) if space == "rgb" else (2, 2, 6, 5))
    torch.testing.assert_close(color.merge(x, y, space), rgb, atol=1e-4, rtol=0)
    # Single images work too.
    x1, y1 = color.split(rgb[0], space)
    torch.testing.assert_close(color.merge(x1, y1, space), rgb[0], atol=1e-4, rtol=0)


def test_split_contents():
    torch.manual_seed(10)
    rgb = torch.rand(2, 3, 4, 4)
    L, ab = color.split(rgb, "lab")
    torch.testing.assert_close(torch.cat([L, ab], 1), color.rgb_to_lab(rgb))
    Y, uv = color.split(rgb, "yuv")
    torch.testing.assert_close(torch.cat([Y, uv], 1), color.rgb_to_yuv(rgb))
    gray, target = color.split(rgb, "rgb")
    torch.testing.assert_close(gray, color.rgb_to_gray(rgb))
    torch.testing.assert_close(target, rgb)


def test_merge_clips_yuv_and_rgb_but_not_before():
    Y = torch.full((1, 1, 2, 2), 0.9)
    uv = torch.full((1, 2, 2, 2), 0.4)
    assert color.yuv_to_rgb(torch.cat([Y, uv], 1)).max() > 1
    out = color.merge(Y, uv, "yuv")
    assert out.min() >= 0 and out.max() <= 1
    out = color.merge(Y, torch.full((1, 3, 2, 2), 1.5), "rgb")
    assert out.max() == 1


def test_errors_are_specific():
    rgb = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="lab, yuv, rgb"):
        color.split(rgb, "hsv")
    with pytest.raises(ValueError, match="lab, yuv, rgb"):
        color.merge(rgb[:, :1], rgb[:, 1:], "Lab")
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\).*got \(1, 4, 4, 4\)"):
        color.rgb_to_lab(torch.rand(1, 4, 4, 4))
    with pytest.raises(ValueError, match=r"got \(4, 4\)"):
        color.rgb_to_gray(torch.rand(4, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2, H, W\)"):
        color.merge(rgb[:, :1], rgb, "lab")
    with pytest.raises(ValueError, match="same batch and spatial"):
        color.merge(rgb[:, :1, :2], rgb[:, 1:], "yuv")
    with pytest.raises(TypeError, match="255"):
        color.rgb_to_lab(torch.zeros(3, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        color.rgb_to_lab(np.zeros((3, 2, 2)))


# ---------------------------------------------------------------------------
# Gradients, precision, implementation paths
# ---------------------------------------------------------------------------

FUNCTIONS = {
    "rgb_to_lab": (color.rgb_to_lab, 1.0),
    "lab_to_rgb": (color.lab_to_rgb, 100.0),
    "rgb_to_yuv": (color.rgb_to_yuv, 1.0),
    "yuv_to_rgb": (color.yuv_to_rgb, 1.0),
    "rgb_to_gray": (color.rgb_to_gray, 1.0),
    "srgb_to_linear": (color.srgb_to_linear, 1.0),
    "linear_to_srgb": (color.linear_to_srgb, 1.0),
    "split_lab": (lambda t: torch.cat(color.split(t, "lab"), -3), 1.0),
    "merge_lab": (lambda t: color.merge(t[:, :1], t[:, 1:], "lab"), 100.0),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_are_finite_everywhere(name):
    fn, scale = FUNCTIONS[name]
    torch.manual_seed(11)
    knees = torch.tensor([0.04045, 0.0031308, 0.008856, 0.2068966]).view(1, 1, 1, 4)
    # Exactly 0 and 1, random values, the knees of the piecewise curves, the edge
    # colours, and values slightly outside [0, 1] such as a model may predict.
    inputs = [torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4), torch.rand(2, 3, 4, 4),
              knees.expand(2, 3, 4, 4), edge_rgb(), torch.rand(2, 3, 4, 4) * 1.4 - 0.2]
    if name in ("lab_to_rgb", "merge_lab"):  # Lab inputs, in and out of gamut
        inputs += [out_of_gamut_lab() / scale, torch.rand(2, 3, 4, 4) * 2 - 1]
    for x in inputs:
        x = (x * scale).clone().requires_grad_(True)
        out = fn(x)
        (grad,) = torch.autograd.grad((out * torch.randn_like(out)).sum(), x)
        assert torch.isfinite(out).all(), name
        assert torch.isfinite(grad).all(), f"{name}: non-finite gradient at {x.flatten()[:4]}"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_finite_differences(name):
    fn, scale = FUNCTIONS[name]
    torch.manual_seed(12)
    # Points well inside the smooth pieces (and inside the gamut for Lab).
    rgb = 0.1 + 0.8 * torch.rand(1, 3, 2, 3)
    x = color.rgb_to_lab(rgb) if scale == 100.0 else rgb
    x = x.clone().requires_grad_(True)
    out = fn(x)
    weights = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weights).sum(), x)
    for _ in range(3):
        v = torch.randn_like(x)
        h = 1e-2 * scale * 1e-1
        with torch.no_grad():
            numeric = ((fn(x + h * v) - fn(x - h * v)) * weights).sum() / (2 * h)
        analytic = (grad * v).sum()
        assert abs(numeric - analytic) <= 2e-2 * abs(analytic) + 1e-3, (name, numeric, analytic)


def test_float32_under_autocast():
    torch.manual_seed(13)
    rgb = torch.rand(2, 3, 8, 8)
    lab = color.rgb_to_lab(rgb)
    for fn, x in [(color.rgb_to_lab, rgb), (color.lab_to_rgb, lab), (color.rgb_to_yuv, rgb),
                  (color.yuv_to_rgb, rgb), (color.rgb_to_gray, rgb),
                  (color.srgb_to_linear, rgb)]:
        for inp in (x, x.clone().requires_grad_(True)):  # both implementation paths
            plain = fn(inp).detach()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                auto = fn(inp)
            assert auto.dtype == torch.float32
            torch.testing.assert_close(auto.detach(), plain, atol=1e-5, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x, y = color.split(rgb, "lab")
        back = color.merge(x, y, "lab")
    assert x.dtype == y.dtype == back.dtype == torch.float32
    torch.testing.assert_close(back, rgb, atol=1e-4, rtol=0)
    # Low-precision inputs are upcast, not kept.
    assert color.rgb_to_lab(rgb.to(torch.bfloat16)).dtype == torch.float32
    assert color.rgb_to_lab(rgb.double()).dtype == torch.float32


@pytest.mark.parametrize("shape", [(23, 3, 10, 10), (2, 3, 30, 40), (3, 40, 30)])
def test_fast_and_autograd_paths_agree(monkeypatch, shape, curves):
    """Without autograd, conversions run in place on blocks of pixels; same numbers."""
    torch.manual_seed(14)
    # Small blocks: 10 x 10 images are grouped 10 to a block (23 = 10 + 10 + 3),
    # 30 x 40 images are cut into ranges of 1000 + 200 pixels.
    monkeypatch.setattr(color, "_CHUNK", 1000)
    rgb = torch.rand(*shape)
    lab = color.rgb_to_lab(rgb)
    yuv = color.rgb_to_yuv(rgb)
    for fn, x in [(color.rgb_to_lab, rgb), (color.lab_to_rgb, lab), (color.rgb_to_gray, rgb),
                  (color.rgb_to_yuv, rgb), (color.yuv_to_rgb, yuv),
                  (color.srgb_to_linear, rgb), (color.linear_to_srgb, rgb),
                  (color.lab_to_rgb, out_of_gamut_lab())]:
        fast = fn(x)
        graph = fn(x.clone().requires_grad_(True))
        assert graph.requires_grad and not fast.requires_grad
        torch.testing.assert_close(fast, graph.detach(), atol=PATHS_TOL if curves else 1e-4,
                                   rtol=0)
    # Non-contiguous input (channels-last memory, a strided view) gives the same result.
    if len(shape) == 4:
        cl = rgb.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(color.rgb_to_lab(cl), lab, atol=1e-4, rtol=0)
    strided = color.rgb_to_lab(rgb[..., ::2, ::3])
    torch.testing.assert_close(strided, lab[..., ::2, ::3], atol=1e-4, rtol=0)
    # The input is never modified.
    copy = rgb.clone()
    color.rgb_to_lab(rgb)
    color.rgb_to_gray(rgb)
    assert torch.equal(rgb, copy)


def test_large_batch_matches_skimage():
    torch.manual_seed(15)
    rgb = torch.rand(3, 3, 256, 200)  # more pixels than one block of the fast path
    lab = color.rgb_to_lab(rgb)
    np.testing.assert_allclose(to_hwc(lab), skcolor.rgb2lab(to_hwc(rgb)), atol=TOL, rtol=0)
    np.testing.assert_allclose(to_hwc(color.lab_to_rgb(lab)), to_hwc(rgb), atol=1e-4, rtol=0)


def test_empty_batch():
    assert color.rgb_to_lab(torch.rand(0, 3, 4, 4)).shape == (0, 3, 4, 4)
    assert color.rgb_to_gray(torch.rand(2, 3, 0, 4)).shape == (2, 1, 0, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    torch.manual_seed(16)
    rgb = torch.rand(2, 3, 64, 64)
    lab = color.rgb_to_lab(rgb)
    gpu = color.rgb_to_lab(rgb.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), lab, atol=1e-4, rtol=0)
    torch.testing.assert_close(color.lab_to_rgb(lab.cuda()).cpu(), color.lab_to_rgb(lab),
                               atol=1e-5, rtol=0)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert color.rgb_to_lab(rgb.cuda()).dtype == torch.float32


def test_numpy_curves_only_on_the_cpu_with_few_torch_threads(monkeypatch):
    monkeypatch.setattr(color, "_NUMPY_LOG2_CBRT", True)
    monkeypatch.setattr(color, "_NUMPY_MAX_THREADS", 2)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert color._numpy_curves(torch.ones(3))
        assert not color._numpy_curves(torch.ones(3, device="meta"))
        torch.set_num_threads(4)  # torch's own log2 on 4+ threads: no NumPy
        assert not color._numpy_curves(torch.ones(3))
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(color, "_NUMPY_LOG2_CBRT", False)  # not AVX-512 Linux
    assert not color._numpy_curves(torch.ones(3))
