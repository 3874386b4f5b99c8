"""The GAN exercise checks (weeks 7 and 8) pass on colorlib's answers and catch typical mistakes."""

import pytest
import torch
from torch import nn

from colorlib import checks
from colorlib.checks import CheckFailed
from colorlib.models.pix2pix import PatchDiscriminator

# --------------------------------------------------------------------------- PatchGAN


class Reference(nn.Module):
    """colorlib's own answer: the layers of PatchDiscriminator."""

    def __init__(self, in_channels=3, base=64, n_layers=3):
        super().__init__()
        self.net = PatchDiscriminator(in_channels, base, n_layers).net

    def forward(self, x):
        return self.net(x)


def student(bias=False, first_norm=False, act=lambda: nn.LeakyReLU(0.2), last_stride=1,
            padding=1, extra_stride1=True):
    """A hand-written PatchGAN with one switchable mistake."""

    class PatchGAN(nn.Module):
        def __init__(self, in_channels=3, base=64, n_layers=3):
            super().__init__()
            layers = [nn.Conv2d(in_channels, base, 4, 2, padding)]
            if first_norm:
                layers.append(nn.BatchNorm2d(base))
            layers.append(act())
            c = base
            for i in range(1, n_layers + (1 if extra_stride1 else 0)):
                out = base * min(2**i, 8)
                stride = 2 if i < n_layers else last_stride
                layers += [nn.Conv2d(c, out, 4, stride, padding, bias=bias),
                           nn.BatchNorm2d(out), act()]
                c = out
            layers.append(nn.Conv2d(c, 1, 4, 1, padding))
            self.layers = nn.Sequential(*layers)

        def forward(self, x):
            return self.layers(x)

    return PatchGAN


def test_patchgan_passes_on_colorlib_and_on_a_hand_written_one(capsys):
    checks.patchgan(Reference)
    checks.patchgan(student())
    assert capsys.readouterr().out.count("Well done") == 2


@pytest.mark.parametrize("wrong, hint", [
    (student(bias=True), "no bias"),
    (student(first_norm=True), "first convolution has no BatchNorm"),
    (student(last_stride=2), "should give logits (1, 1, 30, 30)"),
    (student(padding=0), "should give logits"),
    (student(extra_stride1=False), "parameters"),
    (student(act=nn.ReLU), "LeakyReLU(0.2)"),
    (student(act=lambda: nn.LeakyReLU(0.1)), "LeakyReLU(0.2)"),
])
def test_patchgan_catches_typical_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match="PatchGAN") as info:
        checks.patchgan(wrong)
    assert hint in str(info.value)


def test_patchgan_wants_the_class():
    with pytest.raises(CheckFailed, match="nn.Module"):
        checks.patchgan(lambda *args: "not a module")


def test_patchgan_receptive_field_is_measured():
    class Blurred(nn.Module):
        """Right layers, right shapes, but a 3x3 blur in front widens the window to 72."""

        def __init__(self, in_channels=3, base=64, n_layers=3):
            super().__init__()
            self.net = PatchDiscriminator(in_channels, base, n_layers).net

        def forward(self, x):
            return self.net(nn.functional.avg_pool2d(x, 3, stride=1, padding=1))

    with pytest.raises(CheckFailed, match="72 x 72 window of the input, expected 70 x 70"):
        checks.patchgan(Blurred)


# --------------------------------------------------------------------------- cGAN forward


def reference_forward(G, Y, z):
    """A correct hand-written forward (the notebook's solution)."""
    b = Y.shape[0]
    y = 2 * Y - 1
    noise = G.project(z).view(b, 1, G.size, G.size)
    x = None
    for i, layer in enumerate(G.layers):
        inputs = [y] if x is None else [x, y]
        if i < G.noise_layers:
            inputs.append(noise)
        x = layer(torch.cat(inputs, dim=1))
    s = torch.sigmoid(G.out(torch.cat([x, y], dim=1)))
    return (s - 0.5) * 2 * G.uv_range


def test_cgan_forward_passes(capsys):
    checks.cgan_forward(reference_forward)
    assert "Well done" in capsys.readouterr().out


def _mistake(**kw):
    def forward(G, Y, z):
        b = Y.shape[0]
        y = Y if kw.get("raw_y") else 2 * Y - 1
        noise = G.project(z).view(b, 1, G.size, G.size)
        x = None
        for i, layer in enumerate(G.layers):
            inputs = [y] if x is None else ([y, x] if kw.get("y_first") else [x, y])
            if i < G.noise_layers or kw.get("noise_everywhere"):
                inputs.append(noise)
            x = layer(torch.cat(inputs, dim=1))
        last = x if kw.get("no_y_at_output") else torch.cat([x, y], dim=1)
        s = torch.sigmoid(G.out(last))
        return s if kw.get("raw_sigmoid") else (s - 0.5) * 2 * G.uv_range
    return forward


@pytest.mark.parametrize("kw, hint", [
    ({"raw_y": True}, "2 Y - 1"),
    ({"raw_sigmoid": True}, "(s - 0.5) * 2 * G.uv_range"),
    ({"y_first": True}, "order [features, Y, noise]"),
    ({"noise_everywhere": True}, "only the first G.noise_layers"),
    ({"no_y_at_output": True}, "the output conv too"),
])
def test_cgan_forward_catches_typical_mistakes(kw, hint):
    with pytest.raises(CheckFailed, match="generator_forward") as info:
        checks.cgan_forward(_mistake(**kw))
    assert hint in str(info.value)


def test_cgan_forward_refuses_calling_the_generator_itself():
    with pytest.raises(CheckFailed, match="do not call G"):
        checks.cgan_forward(lambda G, Y, z: G(Y, z))
