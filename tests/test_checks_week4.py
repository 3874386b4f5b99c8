"""The week-4 exercise checks: parameter counts by formula, and the autoencoder's encoder."""

import pytest
import torch
from torch import nn

from colorlib import checks
from colorlib.checks import CheckFailed
from colorlib.models import count_parameters
from colorlib.models.autoencoder import Autoencoder, layer_channels

# ---------------------------------------------------------------------------
# conv_parameters
# ---------------------------------------------------------------------------


def good_count(c_in, c_out, kernel_size):
    return c_out * (c_in * kernel_size * kernel_size + 1)


def test_conv_parameters_passes_a_correct_answer(capsys):
    checks.conv_parameters(good_count)
    assert "Well done" in capsys.readouterr().out


def test_conv_parameters_accepts_a_tensor_or_float_result(capsys):
    checks.conv_parameters(lambda i, o, k: torch.tensor(good_count(i, o, k)))
    checks.conv_parameters(lambda i, o, k: float(good_count(i, o, k)))
    assert capsys.readouterr().out.count("Well done") == 2


@pytest.mark.parametrize("wrong, hint", [
    (lambda i, o, k: i * o * k * k, "biases are missing"),
    (lambda i, o, k: i * o * k * k + i, "per \\*output\\* channel"),
    (lambda i, o, k: i * o * k + o, "k \\* k weights"),
    (lambda i, o, k: i * o + o, "kernel_size \\*\\* 2"),
    (lambda i, o, k: good_count(i, o, k) + 1, "got 641, expected 640"),
    (lambda i, o, k: str(good_count(i, o, k)), "expected a number"),
    (lambda i, o, k: None, "expected a number"),
])
def test_conv_parameters_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.conv_parameters(wrong)


# ---------------------------------------------------------------------------
# make_encoder
# ---------------------------------------------------------------------------


def good_encoder(image_size, latent_dim, stride=2, padding=1, relu=True, latent_relu=False):
    layers, c_in = [], 1
    for c_out in layer_channels(image_size):
        layers.append(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=padding))
        if relu:
            layers.append(nn.ReLU())
        c_in = c_out
    side = image_size
    for _ in layer_channels(image_size):
        side = (side + 2 * padding - 3) // stride + 1
    layers += [nn.Flatten(), nn.Linear(c_in * side * side, latent_dim)]
    if latent_relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def test_make_encoder_passes_a_correct_answer(capsys):
    checks.make_encoder(good_encoder)
    assert "Well done" in capsys.readouterr().out


def test_make_encoder_passes_colorlibs_own_encoder(capsys):
    checks.make_encoder(lambda size, latent: Autoencoder(size, latent).encoder)
    assert "Well done" in capsys.readouterr().out


def test_make_encoder_leaves_the_students_module_and_random_numbers_alone():
    built, before = [], []

    def keep(size, latent):
        built.append(good_encoder(size, latent))
        before.append(built[-1][0].weight.detach().clone())
        return built[-1]

    torch.manual_seed(5)
    checks.make_encoder(keep)
    after_check = torch.rand(3)
    assert torch.equal(built[0][0].weight, before[0])  # colorlib's weights went into a copy
    torch.manual_seed(5)
    good_encoder(64, 512)
    good_encoder(32, 96)
    assert torch.equal(torch.rand(3), after_check)


def without_flatten(size, latent):
    return nn.Sequential(*[m for m in good_encoder(size, latent) if not isinstance(m, nn.Flatten)])


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, n: good_encoder(s, n, padding=0), "flattened"),
    (lambda s, n: good_encoder(s, n, relu=False), "latent vectors differ"),
    (lambda s, n: good_encoder(s, n, latent_relu=True), "went through a ReLU"),
    (lambda s, n: good_encoder(s, n, stride=1, padding=1)[:-1], "weight and bias tensors"),
    (lambda s, n: nn.Sequential(*good_encoder(s, n)[:-2]), "weight and bias tensors"),
    (lambda s, n: [good_encoder(s, n)], "should return an nn.Module"),
    (without_flatten, "raised RuntimeError"),
])
def test_make_encoder_explains_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.make_encoder(wrong)


def test_make_encoder_checks_both_report_sizes():
    asked = []

    def record(size, latent):
        asked.append((size, latent))
        return good_encoder(size, latent)

    checks.make_encoder(record)
    assert [s for s, _ in asked] == [64, 32]
    assert count_parameters(good_encoder(64, 512)) == 5_744_640
