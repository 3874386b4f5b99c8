"""colorlib.device, quick mode, and the figures (headless)."""

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure

import colorlib
from colorlib import viz
from colorlib.train import History


def test_device_falls_back_to_cpu_and_advises_a_gpu(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    dev = colorlib.device()
    out = capsys.readouterr().out
    assert dev == torch.device("cpu")
    assert "cpu" in out and "Change runtime type" in out


def test_device_prefers_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    assert colorlib.device().type == "cuda"
    assert "Fake GPU" in capsys.readouterr().out


def test_quick_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("COLORLIB_QUICK", "1")
    assert colorlib.quick_mode()
    monkeypatch.setenv("COLORLIB_QUICK", "0")
    assert not colorlib.quick_mode()


def test_figures_are_headless_and_returned():
    assert matplotlib.get_backend().lower() == "agg"
    rgb = torch.rand(3, 3, 16, 16)
    fig = viz.compare(rgb[:, :1], rgb, rgb)
    assert isinstance(fig, Figure) and len(fig.axes) == 9
    hist = History([{"epoch": 1, "train_loss": 2.0, "val_loss": 3.0},
                    {"epoch": 2, "train_loss": 1.0, "val_loss": 2.5}])
    fig = viz.plot_history(hist)
    assert [line.get_label() for line in fig.axes[0].lines] == ["train_loss", "val_loss"]


def test_ab_gamut_marks_out_of_gamut_white():
    fig = viz.ab_gamut(L=50, resolution=64)
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (64, 64, 3)
    assert (img[0, 0] == 1).all()  # a = -128, b = +128 at L = 50 is outside sRGB
    assert not (img[32, 32] == 1).all()  # the neutral centre is a gray, not white
    with pytest.raises(ValueError, match="L must be"):
        viz.ab_gamut(L=120)


def test_show_images_rejects_bad_shapes():
    with pytest.raises(ValueError, match="expected one image"):
        viz.show_images({"x": torch.rand(2, 4, 8, 8)})
