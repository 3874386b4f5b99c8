"""The week-2 exercise checks: RGB -> Lab, and Wallner's alpha written as an nn.Sequential."""

import pytest
import torch
from torch import nn

from colorlib import checks, color
from colorlib.checks import CheckFailed
from colorlib.models import build
from colorlib.models.wallner import ALPHA_LAYERS, conv_stack

# ---------------------------------------------------------------------------
# RGB -> Lab (the check lives in colorlib/checks/color.py)
# ---------------------------------------------------------------------------

WHITE = torch.tensor([0.95047, 1.0, 1.08883])
M = torch.tensor([[0.412453, 0.357580, 0.180423],
                  [0.212671, 0.715160, 0.072169],
                  [0.019334, 0.119193, 0.950227]])


def lab_by_hand(rgb, linearise=True, white=WHITE):
    lin = color.srgb_to_linear(rgb) if linearise else rgb
    xyz = torch.einsum("ij,bjhw->bihw", M, lin) / white.view(1, 3, 1, 1)
    eps = (6 / 29) ** 3
    f = torch.where(xyz > eps, xyz.clamp_min(eps) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    L = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([L, a, b], dim=1)


def test_rgb_to_lab_check_passes_colorlib_and_a_hand_written_version(capsys):
    checks.rgb_to_lab(color.rgb_to_lab)
    checks.rgb_to_lab(lab_by_hand)
    assert capsys.readouterr().out.count("Well done") == 2


@pytest.mark.parametrize("wrong", [
    lambda rgb: lab_by_hand(rgb, linearise=False),  # forgot the sRGB gamma
    lambda rgb: lab_by_hand(rgb, white=torch.ones(3)),  # forgot the D65 white point
    lambda rgb: lab_by_hand(rgb)[:, [1, 0, 2]],  # channels swapped
])
def test_rgb_to_lab_check_fails_typical_mistakes(wrong):
    with pytest.raises(CheckFailed, match="rgb_to_lab: wrong value"):
        checks.rgb_to_lab(wrong)


# ---------------------------------------------------------------------------
# Wallner's alpha as an nn.Sequential (colorlib/checks/wallner.py)
# ---------------------------------------------------------------------------


def conv(c_in, c_out, stride=1, **kw):
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=kw.pop("padding", 1), **kw)


def alpha_layers(last=nn.Tanh, up=lambda: nn.Upsample(scale_factor=2), relu=nn.ReLU,
                 conv=conv):
    return [
        conv(1, 8, 2), relu(), conv(8, 8), relu(), conv(8, 16), relu(),
        conv(16, 16, 2), relu(), conv(16, 32), relu(), conv(32, 32, 2), relu(),
        up(), conv(32, 32), relu(), up(), conv(32, 16), relu(), up(), conv(16, 2), last(),
    ]


def test_alpha_check_passes_a_flat_and_a_nested_network(capsys):
    checks.alpha_network(lambda: nn.Sequential(*alpha_layers()))
    layers = alpha_layers()
    checks.alpha_network(lambda: nn.Sequential(nn.Sequential(*layers[:12]),
                                               nn.Sequential(*layers[12:])))
    checks.alpha_network(lambda: conv_stack(ALPHA_LAYERS))
    out = capsys.readouterr().out
    assert out.count("Well done") == 3 and "(32,202 parameters)" in out


def test_alpha_check_matches_colorlib_alpha_parameter_count():
    assert sum(p.numel() for p in nn.Sequential(*alpha_layers()).parameters()) == 32_202
    assert sum(p.numel() for p in build("wallner_alpha").parameters()) == 32_202


def without(layers, index):
    return layers[:index] + layers[index + 1:]


@pytest.mark.parametrize("make, hint", [
    (lambda: nn.Sequential(*alpha_layers(last=nn.ReLU)), "nn.Tanh() (not ReLU)"),
    (lambda: nn.Sequential(*alpha_layers(last=nn.Identity)), "leaves [-1, 1]"),
    (lambda: nn.Sequential(*alpha_layers(
        conv=lambda i, o, s=1: conv(i, o, s, padding=0))), "padding=1"),
    (lambda: nn.Sequential(*alpha_layers(conv=lambda i, o, s=1: conv(i, o, 1))), "stride 1"),
    (lambda: nn.Sequential(*alpha_layers(
        conv=lambda i, o, s=1: conv(i, o, s, bias=False))), "keep the bias"),
    (lambda: nn.Sequential(*alpha_layers(
        up=lambda: nn.Upsample(scale_factor=2, mode="bilinear"))), "mode='nearest'"),
    (lambda: nn.Sequential(*without(alpha_layers(), 12)), "2 nn.Upsample layers"),
    (lambda: nn.Sequential(*without(alpha_layers(), 2)), "8 Conv2d layers"),
    (lambda: nn.Sequential(*without(alpha_layers(), 1)), "activation is missing"),
    (lambda: nn.Sequential(*alpha_layers(), nn.BatchNorm2d(2)), "32,206 parameters"),
    (lambda: "not a network", "got str"),
])
def test_alpha_check_gives_specific_hints(make, hint):
    with pytest.raises(CheckFailed, match="build_alpha") as info:
        checks.alpha_network(make)
    assert hint in str(info.value)


def test_alpha_check_reports_wrong_channels_and_order():
    layers = alpha_layers()
    layers[2] = conv(8, 16)  # 8 -> 16 where alpha has 8 -> 8
    with pytest.raises(CheckFailed, match="expected 8 -> 8"):
        checks.alpha_network(lambda: nn.Sequential(*layers))
    moved = alpha_layers()
    moved = moved[:12] + [moved[13], moved[14], moved[12]] + moved[15:]  # upsample after conv
    with pytest.raises(CheckFailed, match="activation is missing or misplaced|gave"):
        checks.alpha_network(lambda: nn.Sequential(*moved))
