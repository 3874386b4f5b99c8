"""Tests for the GAN models: pix2pix (U-Net + PatchGAN) and the YUV conditional GAN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from colorlib.models import build, count_parameters
from colorlib.models.cgan import U_MAX, V_MAX, CGANDiscriminator, CGANGenerator
from colorlib.models.pix2pix import PatchDiscriminator, UNetGenerator, receptive_field


def _gray(b: int = 1, size: int = 64) -> torch.Tensor:
    """A smooth gray test image (B, 1, size, size) in [0, 1] with some texture."""
    ramp = torch.linspace(0, 1, size)
    img = 0.5 * ramp.view(1, -1) + 0.5 * ramp.view(-1, 1) * torch.sin(6 * ramp).view(1, -1).abs()
    return img.clamp(0, 1).expand(b, 1, size, size).contiguous()


def _conv(block: nn.Sequential) -> nn.Module:
    """The (transposed) convolution inside a U-Net block."""
    return next(m for m in block if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


# --------------------------------------------------------------------------- pix2pix


def test_unet_reference_parameter_count_and_forward_at_256():
    torch.manual_seed(0)
    model = UNetGenerator()  # depth 8, base 64: the pix2pix "unet_256"
    assert count_parameters(model) == 54_409_858
    assert model.stride == 256
    model.eval()
    with torch.no_grad():
        ab = model(100 * torch.rand(1, 1, 256, 256))
    assert ab.shape == (1, 2, 256, 256)
    assert ab.abs().max() <= 110


def test_unet_reference_layout():
    model = UNetGenerator(depth=8)
    down_channels = [_conv(down).out_channels for down in model.downs]
    assert down_channels == [64, 128, 256, 512, 512, 512, 512, 512]
    # BatchNorm after every down conv but the first and the innermost
    has_norm = [any(isinstance(m, nn.BatchNorm2d) for m in down) for down in model.downs]
    assert has_norm == [False] + [True] * 6 + [False]
    # skips: every up block but the innermost sees twice the matching down channels
    up_in = [_conv(up).in_channels for up in model.ups]
    assert up_in == [512] + [2 * c for c in reversed(down_channels[:-1])]
    assert _conv(model.ups[-1]).out_channels == 2
    # bias only where no BatchNorm follows: the first and innermost down convs are bias-free
    # too (as in the reference implementation), only the last transposed conv has one
    assert [_conv(b).bias is not None for b in [*model.downs, *model.ups]] == [False] * 15 + [True]
    # dropout in the three up blocks after the innermost, nowhere else
    dropout = [any(isinstance(m, nn.Dropout) for m in up) for up in model.ups]
    assert dropout == [False, True, True, True, False, False, False, False]


@pytest.mark.parametrize("depth, n_dropout", [(2, 0), (3, 1), (5, 3), (6, 3)])
def test_shallow_unet_dropout_never_in_outermost(depth, n_dropout):
    model = UNetGenerator(depth=depth, base=8)
    dropout = [any(isinstance(m, nn.Dropout) for m in up) for up in model.ups]
    assert sum(dropout) == n_dropout
    assert not dropout[0] and not dropout[-1]  # not innermost, not outermost


def test_shallow_unet_shapes_and_ab_range():
    torch.manual_seed(0)
    model = UNetGenerator(depth=6, base=16)
    assert model.stride == 64
    assert [_conv(down).out_channels for down in model.downs] == [16, 32, 64, 128, 256, 512]
    L = 100 * torch.rand(2, 1, 64, 64)
    ab = model(L)  # train mode, batch 2
    assert ab.shape == (2, 2, 64, 64)
    # saturate the tanh: the output must reach, but never exceed, 110
    with torch.no_grad():
        _conv(model.ups[-1]).weight.mul_(1e4)
        ab = model.eval()(L)
    assert ab.abs().max() <= 110
    assert ab.abs().max() > 109


def test_unet_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = UNetGenerator(depth=5, base=8)
    model(100 * torch.rand(2, 1, 32, 32)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_patchgan_reference_parameter_count_and_output():
    torch.manual_seed(0)
    model = PatchDiscriminator()
    assert count_parameters(model) == 2_765_633
    model.eval()
    with torch.no_grad():
        logits = model(100 * torch.rand(1, 1, 256, 256), 60 * torch.randn(1, 2, 256, 256))
    assert logits.shape == (1, 1, 30, 30)


def test_patchgan_rejects_mismatched_inputs():
    model = PatchDiscriminator()
    with pytest.raises(ValueError, match="ab"):
        model(torch.rand(1, 1, 64, 64), torch.rand(1, 3, 64, 64))


def test_receptive_field_analytic():
    # hand-computed: 1 -> 4 -> 7 (two stride-1 convs), then (r - 1) * 2 + 4 per stride-2 conv
    assert receptive_field(1) == 16
    assert receptive_field(2) == 34
    assert receptive_field(3) == 70
    assert receptive_field() == 70


@pytest.mark.parametrize("n_layers", [2, 3])
def test_receptive_field_empirical(n_layers):
    """One logit's gradient w.r.t. the input is non-zero exactly on a r x r window."""
    torch.manual_seed(0)
    model = PatchDiscriminator(base=8, n_layers=n_layers).eval()
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    out = model.net(x)
    i, j = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, 0, i, j].backward()
    support = x.grad[0].abs().sum(0) != 0
    rows = support.any(1).nonzero().flatten()
    cols = support.any(0).nonzero().flatten()
    r = receptive_field(n_layers)
    assert rows.max() - rows.min() + 1 == r
    assert cols.max() - cols.min() + 1 == r
    # the window starts at jump * i - (sum of padding * jump over the layers)
    jump = 2**n_layers
    offset = sum(2**k for k in range(n_layers)) + 2 * jump
    assert rows.min() == jump * i - offset
    assert cols.min() == jump * j - offset


def test_unet_colorize_any_size():
    torch.manual_seed(0)
    model = UNetGenerator(depth=6, base=8).eval()
    for shape in [(1, 1, 64, 64), (1, 1, 50, 70)]:
        rgb = model.colorize(_gray(1, 80)[..., : shape[2], : shape[3]])
        assert rgb.shape == (1, 3, *shape[2:])
        assert rgb.min() >= 0 and rgb.max() <= 1


def test_pix2pix_builders():
    g = build("pix2pix_unet", depth=6, base=16)
    assert isinstance(g, UNetGenerator) and g.depth == 6
    assert count_parameters(g) == count_parameters(UNetGenerator(depth=6, base=16))
    d = build("patchgan")
    assert isinstance(d, PatchDiscriminator)
    assert count_parameters(d) == 2_765_633


# --------------------------------------------------------------------------- cGAN


def test_cgan_generator_shapes_and_uv_range():
    torch.manual_seed(0)
    model = CGANGenerator()
    uv = model(_gray(3))
    assert uv.shape == (3, 2, 64, 64)
    # saturate the sigmoid: U and V reach, but never exceed, their YUV ranges
    with torch.no_grad():
        model.out.weight.mul_(1e4)
        uv = model.eval()(_gray(3))
    assert uv[:, 0].abs().max() <= U_MAX and uv[:, 0].abs().max() > 0.99 * U_MAX
    assert uv[:, 1].abs().max() <= V_MAX and uv[:, 1].abs().max() > 0.99 * V_MAX


def test_cgan_gray_goes_to_every_layer_and_noise_to_the_first_three():
    model = CGANGenerator(size=32)
    in_channels = [layer[0].in_channels for layer in model.layers] + [model.out.in_channels]
    # previous features + Y (+ the noise plane in layers 1-3)
    assert in_channels == [0 + 1 + 1, 128 + 1 + 1, 64 + 1 + 1, 64 + 1, 64 + 1, 64 + 1, 32 + 1]
    assert [layer[0].kernel_size for layer in model.layers] == [(7, 7)] + [(5, 5)] * 5

    # and functionally: record what each conv receives
    torch.manual_seed(0)
    seen = []
    convs = [layer[0] for layer in model.layers] + [model.out]
    hooks = [c.register_forward_hook(lambda m, inp, out: seen.append(inp[0])) for c in convs]
    Y, z = _gray(2, 32), model.sample_noise(2)
    model.eval()(Y, z)
    for h in hooks:
        h.remove()
    noise_plane = model.project(z).view(2, 1, 32, 32)
    previous = [0, 128, 64, 64, 64, 64, 32]
    for i, (inp, c_prev) in enumerate(zip(seen, previous)):
        torch.testing.assert_close(inp[:, c_prev : c_prev + 1], 2 * Y - 1)
        if i < 3:
            torch.testing.assert_close(inp[:, c_prev + 1 : c_prev + 2], noise_plane)


def test_cgan_noise_gives_diversity_and_fixed_noise_determinism():
    torch.manual_seed(0)
    model = CGANGenerator(size=16).eval()
    Y = _gray(2, 16)
    z1, z2 = model.sample_noise(2), model.sample_noise(2)
    assert z1.min() >= -1 and z1.max() <= 1
    with torch.no_grad():
        a, b, a_again = model(Y, z1), model(Y, z2), model(Y, z1)
    assert torch.equal(a, a_again)
    assert (a - b).abs().mean() > 1e-4 * (a.abs().mean() + 1e-8)
    assert not torch.allclose(a, b, atol=1e-5)

    samples = model.sample(Y, 3, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (3, 2, 2, 16, 16)
    assert all(not torch.allclose(samples[0], s, atol=1e-5) for s in samples[1:])
    again = model.sample(Y, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(samples, again)


def test_cgan_predict_seed():
    torch.manual_seed(0)
    model = CGANGenerator(size=16).eval()
    Y = _gray(1, 16)
    with torch.no_grad():
        assert not torch.allclose(model.predict(Y), model.predict(Y), atol=1e-5)
        model.seed = 7
        torch.testing.assert_close(model.predict(Y), model.predict(Y), rtol=0, atol=0)


def test_cgan_wrong_sizes_raise():
    model = CGANGenerator(size=64)
    with pytest.raises(ValueError, match="64x64"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="z must have shape"):
        model(torch.rand(2, 1, 64, 64), torch.rand(2, 50))
    disc = CGANDiscriminator(size=64)
    with pytest.raises(ValueError, match="size=64"):
        disc(torch.rand(1, 1, 32, 32), torch.rand(1, 2, 32, 32))
    with pytest.raises(ValueError, match="multiple of 16"):
        CGANDiscriminator(size=40)


def test_cgan_discriminator_layout_and_output():
    torch.manual_seed(0)
    model = CGANDiscriminator()
    convs = [m for m in model.convs if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.stride == (2, 2) and c.kernel_size == (5, 5) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.convs) == 4  # "everywhere"
    linears = [m for m in model.dense if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(512 * 4 * 4, 64), (64, 1)]
    Y = _gray(3)
    uv = torch.stack([U_MAX * torch.rand(3, 64, 64), V_MAX * torch.rand(3, 64, 64)], 1)
    logits = model(Y, uv)
    assert logits.shape == (3, 1)
    assert not torch.allclose(logits[0], logits[1])  # train-mode BatchNorm, still per image


def test_cgan_gradients_reach_every_parameter():
    torch.manual_seed(0)
    G, D = CGANGenerator(size=16), CGANDiscriminator(size=16)
    Y = _gray(2, 16)
    D(Y, G(Y)).sum().backward()
    for model in (G, D):
        missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
        assert missing == []


def test_cgan_colorize_any_size_through_a_resize():
    torch.manual_seed(0)
    G = CGANGenerator(size=16).eval()
    G.seed = 3
    gray = _gray(2, 40)[..., :24, :40]  # not the generator's size, not square
    rgb = G.colorize(gray)
    assert rgb.shape == (2, 3, 24, 40)
    # the brightness is the full-resolution input's, only the colour was resized
    from colorlib import color

    torch.testing.assert_close(color.rgb_to_gray(rgb), gray, atol=0.02, rtol=0)
    # at its own size nothing is resized: colorize equals the forward pass
    Y = _gray(1, 16)
    with torch.no_grad():
        uv = G(Y, G.sample_noise(1, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(G.colorize(Y), color.merge(Y, uv, "yuv").clamp(0, 1))


def test_cgan_width_scales_the_builders():
    G = build("cgan_generator", size=32, width=0.25)
    assert [layer[0].out_channels for layer in G.layers] == [32, 16, 16, 16, 16, 8]
    D = build("cgan_discriminator", size=32, width=0.25)
    assert [m.out_channels for m in D.convs if isinstance(m, nn.Conv2d)] == [16, 32, 64, 128]
    assert count_parameters(build("cgan_generator")) == count_parameters(CGANGenerator())
    with pytest.raises(ValueError, match="width"):
        build("cgan_generator", width=0)


def test_gan_generators_reconstruction_losses_are_on_the_normalised_scale():
    ab = 110 * torch.rand(2, 2, 8, 8) - 55
    assert torch.isclose(UNetGenerator.reconstruction_loss(ab + 11, ab), torch.tensor(0.1))
    G = CGANGenerator(size=8)
    uv = torch.zeros(2, 2, 8, 8)
    shifted = uv + torch.tensor([U_MAX, V_MAX]).view(1, 2, 1, 1) / 2
    assert torch.isclose(G.reconstruction_loss(shifted, uv), torch.tensor(0.5))


def test_cgan_colorize_and_builders():
    torch.manual_seed(0)
    G = build("cgan_generator")
    assert isinstance(G, CGANGenerator) and G.size == 64
    G.eval()
    G.seed = 0
    rgb = G.colorize(_gray(1))
    assert rgb.shape == (1, 3, 64, 64)
    assert rgb.min() >= 0 and rgb.max() <= 1
    torch.testing.assert_close(G.colorize(_gray(1)), rgb, rtol=0, atol=0)
    D = build("cgan_discriminator", size=32)
    assert isinstance(D, CGANDiscriminator) and D.dense[1].in_features == 512 * 2 * 2
