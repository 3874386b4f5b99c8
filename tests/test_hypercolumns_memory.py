"""The memory-saving efficient hypercolumn model: bands recomputed in the backward pass.

The tiled training forward must compute exactly the naive model's function, and give
the same gradients, for any band height and image size (including sizes that are not
multiples of the band height or of 8).
"""

import pytest
import torch
from torch import nn

from colorlib import memory
from colorlib.models import build
from colorlib.models import hypercolumns as hc
from colorlib.models.hypercolumns import HypercolumnColorizer, efficient_from_naive


def close(a, b):
    """Equal to float32 rounding (the efficient twin's weights are copied through float32)."""
    return (a - b).abs().max() <= 1e-5 * a.abs().max()


@pytest.fixture(scope="module")
def naive():
    torch.manual_seed(0)
    model = HypercolumnColorizer(efficient=False).double()
    for m in model.vgg:  # torchvision's initialisation: activations of a useful size
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    with torch.no_grad():
        model.reduce.bias.uniform_(-0.5, 0.5)
        model.head[-1].weight.mul_(20)  # UV well inside the tanh, not all near 0
    return model


@pytest.mark.parametrize("height, width, rows, chunk", [
    (32, 24, 8, 4),    # several bands, the last one full
    (40, 56, 7, 1),    # bands that do not divide the height; one VGG chunk per image
    (24, 32, 1, 4),    # one-row bands: the halo is larger than the band
    (50, 70, 16, 4),   # not a multiple of 8: the deep maps are rounded down
    (16, 16, 64, 4),   # one band larger than the image
])
def test_tiled_forward_and_gradients_equal_the_naive_model(naive, height, width, rows, chunk):
    fast = efficient_from_naive(naive).double()
    fast.tile_rows, fast.vgg_chunk = rows, chunk
    Y = torch.rand(2, 1, height, width, generator=torch.Generator().manual_seed(height),
                   dtype=torch.float64)
    naive.zero_grad()
    a, b = naive(Y), fast(Y)
    assert a.std() > 0.05
    assert close(a, b)
    weight = torch.randn_like(a)
    (a * weight).sum().backward()
    (b * weight).sum().backward()
    for p, q in zip(naive.head.parameters(), fast.head.parameters()):
        assert close(p.grad, q.grad)
    reduce_grad = torch.cat([conv.weight.grad for conv in fast.reduce], dim=1)
    assert close(naive.reduce.weight.grad, reduce_grad)
    assert close(naive.reduce.bias.grad, fast.reduce[0].bias.grad)
    assert all(p.grad is None for p in fast.vgg.parameters())


def test_upsample_rows_equals_interpolate():
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    full = torch.nn.functional.interpolate(x, size=(29, 23), mode="bilinear",
                                           align_corners=False)
    for lo, hi in [(0, 29), (0, 1), (3, 11), (28, 29), (10, 10 + 7)]:
        assert torch.allclose(hc._upsample_rows(x, (lo, hi), (29, 23)), full[:, :, lo:hi],
                              atol=1e-12)
    conv = nn.Conv2d(3, 4, 1, bias=False).double()
    with torch.no_grad():
        reduced = hc._upsample_rows(x, (5, 20), (29, 23), conv)
        expected = torch.nn.functional.interpolate(conv(x), size=(29, 23), mode="bilinear",
                                                   align_corners=False)[:, :, 5:20]
    assert torch.allclose(reduced, expected, atol=1e-12)


def test_tiles_only_in_training_with_gradients(monkeypatch):
    model = HypercolumnColorizer(efficient=True, tile_rows=8)
    calls = []
    monkeypatch.setattr(model, "_forward_tiled", lambda Y: calls.append(1) or torch.zeros(1))
    with torch.no_grad():
        model(torch.rand(1, 1, 16, 16))
    assert calls == []
    model(torch.rand(1, 1, 16, 16))
    assert calls == [1]
    assert HypercolumnColorizer(efficient=False, tile_rows=8).tile_rows is None
    assert HypercolumnColorizer(efficient=True, tile_rows=None).tile_rows is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="tile_rows"):
        HypercolumnColorizer(efficient=True, tile_rows=0)
    with pytest.raises(ValueError, match="vgg_chunk"):
        HypercolumnColorizer(efficient=True, vgg_chunk=0)
    with pytest.raises(ValueError, match="'cpu' and 'cuda'"):
        memory.peak_counter("meta")


def test_builder_records_the_new_arguments():
    model = build("hypercolumns", efficient=True, tile_rows=16, vgg_chunk=2)
    assert model.tile_rows == 16 and model.vgg_chunk == 2
    assert model.config == {"name": "hypercolumns",
                            "kwargs": {"efficient": True, "tile_rows": 16, "vgg_chunk": 2}}


def test_measure_training_step_reports_a_step():
    torch.manual_seed(0)
    model = HypercolumnColorizer(efficient=True)
    sizes = [p.numel() * p.element_size() for p in model.parameters() if p.requires_grad]
    r = memory.measure_training_step(model, batch=2, size=16, steps=1, warmup=False)
    assert {"batch", "size", "device", "peak_mb", "mb_per_image", "step_s", "baseline_mb",
            "method"} <= set(r)
    assert r["batch"] == 2 and r["size"] == 16 and r["device"] == "cpu"
    assert r["step_s"] > 0 and r["mb_per_image"] == pytest.approx(r["peak_mb"] / 2)
    # Without warm-up the measured step makes, and keeps, a gradient and Adam's two moment
    # buffers for every trainable parameter: three times its size.  On the CPU only tensors
    # of 128 KiB or more surely count (they get fresh memory, see memory.CpuPeak; smaller
    # ones may reuse memory already resident).
    large = sum(n for n in sizes if n >= 128 * 1024)
    assert large > 0.5 * memory.MB  # reduce.2, reduce.3 and head.1: 0.69 MB
    assert r["peak_mb"] >= 3 * large / memory.MB
