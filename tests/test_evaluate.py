"""evaluate: every colorizer on one held-out set, checkpoints found and loaded, semantic test."""

import math

import pytest
import torch
from torch import nn

from colorlib import checkpoint, color, data, evaluate, models
from colorlib.data.synthetic import SyntheticColors
from colorlib.evaluate import GRAY, TRUTH
from colorlib.models import Colorizer


class Oracle(Colorizer):
    """Knows the synthetic set's rule: predicts the exact ab of every lightness."""

    space, stride = "lab", 1

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, L):
        return SyntheticColors.ab_from_L(L) + 0 * self.dummy


class NoColour(Oracle):
    def forward(self, L):
        return torch.zeros(L.shape[0], 2, *L.shape[-2:]) + 0 * self.dummy


@pytest.fixture(scope="module")
def truth():
    return data.synthetic(n=6, size=16, seed=3).images


def test_gray_baseline_is_lightness_without_colour(truth):
    L, _ = color.split(truth, "lab")
    reference = color.lab_to_rgb(torch.cat([L, torch.zeros_like(L).expand(-1, 2, -1, -1)], 1))
    got = evaluate.gray_baseline(truth)
    assert got.shape == truth.shape
    assert (got - reference).abs().max() < 2e-3
    assert torch.equal(got[:, 0], got[:, 2])


def test_table_scores_oracle_baseline_and_truth(truth):
    table = evaluate.evaluate_colorizers({"oracle": Oracle(), "no colour": NoColour()}, truth)
    assert table.names == [GRAY, "oracle", "no colour", TRUTH]
    oracle, gray, none = table["oracle"], table[GRAY], table["no colour"]
    assert oracle["psnr"] > 40 and oracle["ciede2000"] < 0.5 and oracle["ssim"] > 0.99
    # ab = 0 is exactly the gray baseline, up to colour-conversion rounding
    assert none["psnr"] == pytest.approx(gray["psnr"], abs=0.05)
    assert gray["colourfulness"] == pytest.approx(0, abs=1e-3)
    # PSNR of the baseline from its definition
    mse = (evaluate.gray_baseline(truth) - truth).pow(2).mean(dim=(1, 2, 3))
    assert gray["psnr"] == pytest.approx(float((10 * torch.log10(1 / mse)).mean()), rel=1e-5)
    assert table[TRUTH]["psnr"] is None and table[TRUTH]["colourfulness"] > 10
    assert table.best("ciede2000") == "oracle" and table.best("psnr") == "oracle"
    assert table.models == ["oracle", "no colour"]
    md = table.to_markdown()
    assert md.count("\n") == 5 and "| oracle | **" in md
    html = table.to_html()
    assert html.count("<tr>") == 5 and '<td style="text-align:left">oracle</td>' in html
    assert html.count("<b>") == 3  # the oracle is best in PSNR, SSIM and CIEDE2000
    assert set(table.outputs) == {GRAY, "oracle", "no colour", TRUTH}


def test_models_that_cannot_take_the_size_are_skipped_or_raise(truth, capsys):
    wrong_size = {"ae": models.build("autoencoder", image_size=8), "oracle": Oracle()}
    table = evaluate.evaluate_colorizers(wrong_size, truth, on_error="skip")
    assert table.models == ["oracle"] and "skipped ae" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"Autoencoder\(image_size=8\) takes gray images of shape "
                                         r"\(B, 1, 8, 8\), got \(6, 1, 16, 16\)"):
        evaluate.evaluate_colorizers(wrong_size, truth)


def test_bad_inputs(truth):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        evaluate.evaluate_colorizers({}, truth[0])
    with pytest.raises(TypeError, match="no .colorize"):
        evaluate.evaluate_colorizers({"linear": nn.Linear(2, 2)}, truth)
    with pytest.raises(ValueError, match="best"):
        evaluate.evaluate_colorizers({"o": Oracle()}, truth).best("colourfulness")


def test_plots(truth):
    table = evaluate.evaluate_colorizers({"oracle": Oracle()}, truth)
    fig = evaluate.plot_metrics(table)
    assert len(fig.axes) == 4
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([table[GRAY]["psnr"], table["oracle"]["psnr"]])
    grid = evaluate.show_grid(table, max_images=3)
    assert len(grid.axes) == 3 * 3


# --------------------------------------------------------------------------- checkpoints


def test_find_and_load_checkpoint_colorizers(tmp_path, capsys):
    torch.manual_seed(0)
    tiny = models.build("tiny", width=4)
    checkpoint.save_model(tmp_path / "00_tiny_quick.pt", tiny)
    checkpoint.save_model(tmp_path / "00_tiny.pt", models.build("tiny", width=4))
    checkpoint.save_model(tmp_path / "01_mnist_quick.pt", models.build("mnist_cnn"))
    (tmp_path / "02_broken_quick.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "notes_quick.pt").write_bytes(b"")
    found = evaluate.find_checkpoints(tmp_path, quick=True)
    assert [p.name for p in found] == ["00_tiny_quick.pt", "01_mnist_quick.pt",
                                       "02_broken_quick.pt"]
    assert [p.name for p in evaluate.find_checkpoints(tmp_path, quick=False)] == ["00_tiny.pt"]
    loaded = evaluate.load_checkpoint_colorizers(tmp_path, quick=True)
    out = capsys.readouterr().out
    assert list(loaded) == ["00_tiny"]
    assert "skipped 01_mnist_quick.pt" in out and "skipped 02_broken_quick.pt" in out
    gray = torch.rand(2, 1, 16, 16)
    assert torch.equal(loaded["00_tiny"].colorize(gray), tiny.eval().colorize(gray))


def test_load_or_train_trains_once_then_loads(tmp_path, capsys):
    train, val = data.synthetic(n=16, size=16), data.synthetic(n=4, size=16, seed=1)
    path = tmp_path / "09_tiny_quick.pt"
    kwargs = {"width": 4}
    first = evaluate.load_or_train("tiny", path, train, val, kwargs=kwargs, epochs=1,
                                   device="cpu")
    assert "no checkpoint" in capsys.readouterr().out and path.exists()
    again = evaluate.load_or_train("tiny", path, train, val, kwargs=kwargs, epochs=1,
                                   device="cpu")
    assert "loaded" in capsys.readouterr().out
    for (k, a), b in zip(first.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(checkpoint.CheckpointError, match="not 'tiny' with"):
        evaluate.load_or_train("tiny", path, train, val, kwargs={"width": 8}, epochs=1)


# --------------------------------------------------------------------------- semantic test


class ColourClassifier(nn.Module):
    """A stand-in classifier: the class is the channel (R, G or B) with the largest mean."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1000, 3))
        with torch.no_grad():
            self.w[:3] = torch.eye(3) * 100

    def forward(self, x):
        return x.mean(dim=(2, 3)) @ self.w.T


def test_semantic_test_accuracy_agreement_and_control():
    red, green, blue = (torch.zeros(1, 3, 8, 8) for _ in range(3))
    red[:, 0], green[:, 1], blue[:, 2] = 1, 1, 1
    truth = torch.cat([red, green, blue, red])
    swapped = torch.cat([red, blue, blue, green])  # right, wrong, right, wrong
    labels = torch.tensor([0, 1, 2, 0])
    table = evaluate.semantic_test(ColourClassifier(), {TRUTH: truth, "swapped": swapped},
                                   labels=labels, size=None)
    assert table[TRUTH]["accuracy"] == 1.0 and table[TRUTH]["agreement"] == 1.0
    assert table["swapped"]["accuracy"] == 0.5 and table["swapped"]["agreement"] == 0.5
    # control: image i against image i-1's prediction: classes [0,1,2,0] vs [0,0,1,2]
    assert table[evaluate.CONTROL]["agreement"] == 0.25
    assert "| swapped | 50.0 % | 50.0 % |" in table.to_markdown()


def test_semantic_test_checks_its_inputs():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="reference"):
        evaluate.semantic_test(ColourClassifier(), {"a": x})
    with pytest.raises(ValueError, match="same 2 images"):
        evaluate.semantic_test(ColourClassifier(), {TRUTH: x, "b": x[:1]})


def test_imagenette_classes_are_the_imagenet_indices():
    from torchvision.models import VGG16_Weights

    categories = VGG16_Weights.IMAGENET1K_V1.meta["categories"]  # no download: metadata only
    names = [categories[i] for i in evaluate.IMAGENETTE_TO_IMAGENET]
    assert names == list(evaluate.IMAGENETTE_CLASSES)


def test_imagenet_classifier_is_frozen_vgg16():
    net = evaluate.imagenet_classifier(pretrained=False)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert sum(p.numel() for p in net.parameters()) == 138_357_544
    logits = evaluate.classify(net, torch.rand(2, 3, 16, 16), size=32)
    assert logits.shape == (2, 1000) and math.isfinite(float(logits.sum()))
