"""Checks for the GAN exercises: the PatchGAN (week 7) and the cGAN generator's forward (week 8).

* :func:`patchgan` builds the student's discriminator class and compares it with
  :class:`colorlib.models.pix2pix.PatchDiscriminator`: parameter count, output
  shape, receptive field (measured with gradients), and finally the values, with
  colorlib's weights copied into the student's layers.
* :func:`cgan_forward` runs the student's ``forward(G, Y, z)`` on a small random
  :class:`colorlib.models.cgan.CGANGenerator` and compares it with ``G(Y, z)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import count_parameters
from ..models.cgan import CGANGenerator
from ..models.pix2pix import PatchDiscriminator, receptive_field
from .core import (
    CheckFailed,
    call,
    close,
    copy_weights,
    expect_tensor,
    fail,
    parameter_shapes,
    passed,
)

# --------------------------------------------------------------------------- PatchGAN

REFERENCE = (3, 64, 3)  # in_channels, base, n_layers of the pix2pix discriminator
REFERENCE_PARAMETERS = 2_765_633
_PATCHGAN = "PatchGAN"


def _build(cls, in_channels: int, base: int, n_layers: int) -> nn.Module:
    model = call(cls, in_channels, base, n_layers, what=f"{_PATCHGAN}({in_channels}, {base}, "
                                                        f"{n_layers})")
    if not isinstance(model, nn.Module):
        fail(_PATCHGAN, f"calling the class should give an nn.Module, got {type(model).__name__}; "
                        "pass the class itself (checks.patchgan(PatchGAN)), not an instance")
    return model


def _parameter_hint(got: nn.Module, ref: nn.Module) -> str:
    """Say which layer differs first, and why it probably does."""
    got_shapes, ref_shapes = parameter_shapes(got), parameter_shapes(ref)
    ref_names = [name for name, _ in ref.named_parameters()]
    for i, (g, r) in enumerate(zip(got_shapes, ref_shapes)):
        if g != r:
            where = f"parameter {i} has shape {g}, colorlib's ({ref_names[i]}) has {r}"
            if len(g) == 1 and len(r) == 4 and i == 2:
                return (f"{where}: the first convolution has no BatchNorm after it (only "
                        "LeakyReLU)")
            if len(g) == 1 and len(r) == 4:
                return (f"{where}: a convolution followed by BatchNorm should have no bias "
                        "(bias=False); BatchNorm's shift does that job")
            if len(g) == 4 and len(r) == 1 and i == 1:
                return (f"{where}: the first convolution keeps its bias (no BatchNorm "
                        "follows it)")
            if len(g) == 4 and len(r) == 4 and g[2:] != r[2:]:
                return f"{where}: every convolution is 4 x 4"
            if len(g) == 4 and len(r) == 4:
                return (f"{where}: channels are base, 2 base, 4 base, ... (at most 8 base) for "
                        "the stride-2 convs, then one more stride-1 conv, then 1 output channel")
            return where
    if len(got_shapes) < len(ref_shapes):
        return (f"it has {len(got_shapes)} parameter tensors, colorlib's has {len(ref_shapes)}: "
                "a layer (or the bias of the first or the last convolution) is missing")
    return (f"it has {len(got_shapes)} parameter tensors, colorlib's has {len(ref_shapes)}: "
            "there is an extra layer, or a bias where BatchNorm follows")


def _measured_receptive_field(model: nn.Module, in_channels: int, size: int = 160) -> int:
    """Side of the input window that one central output logit depends on (eval mode)."""
    model.eval()
    x = torch.randn(1, in_channels, size, size, requires_grad=True)
    out = model(x)
    i, j = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, 0, i, j].backward()
    support = x.grad[0].abs().sum(0) != 0
    rows = support.any(1).nonzero().flatten()
    if len(rows) == 0:
        return 0
    return int(rows.max() - rows.min() + 1)


def patchgan(cls) -> None:
    """Check a PatchGAN class: ``cls(in_channels, base, n_layers)`` -> module, ``m(x)`` -> logits.

    ``x`` is the normalised (B, in_channels, H, W) input; the module must equal
    ``PatchDiscriminator(in_channels, base, n_layers).net``: 4x4 convs with padding 1,
    ``base`` channels (stride 2, bias, no BatchNorm), ``n_layers - 1`` more stride-2
    convs doubling the channels (at most 8 base), one stride-1 conv, a stride-1 conv
    to 1 channel (with bias); BatchNorm + LeakyReLU(0.2) between.
    """
    # 1. the reference configuration: exactly pix2pix's parameter count
    model = _build(cls, *REFERENCE)
    got = count_parameters(model)
    if got != REFERENCE_PARAMETERS:
        ref = PatchDiscriminator(*REFERENCE).net
        fail(_PATCHGAN, f"{_PATCHGAN}(3, 64, 3) has {got:,} parameters, pix2pix's 70 x 70 "
                        f"PatchGAN has {REFERENCE_PARAMETERS:,}; {_parameter_hint(model, ref)}")

    # 2. output shapes: 30 x 30 logits for 256 x 256, and non-square inputs (small base: fast)
    small = _build(cls, 3, 8, 3).eval()
    for shape, expected in [((1, 3, 256, 256), (1, 1, 30, 30)), ((2, 3, 64, 96), (2, 1, 6, 10))]:
        with torch.no_grad():
            out = call(small, torch.randn(*shape), what=f"{_PATCHGAN}(3, 8, 3) on {shape}")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            got_shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            fail(_PATCHGAN, f"an input {shape} should give logits {expected}, got {got_shape}: "
                            "4x4 kernels with padding=1, stride 2 for the first n_layers convs "
                            "and stride 1 for the last two, and 1 output channel (no sigmoid, "
                            "no flatten: one logit per patch)")

    # 3. the receptive field, measured: one logit sees a 70 x 70 (n_layers=3) window
    for n_layers in (3, 2):
        m = _build(cls, 3, 8, n_layers)
        r = _measured_receptive_field(m, 3)
        if r != receptive_field(n_layers):
            fail(_PATCHGAN, f"with n_layers={n_layers} one output logit depends on a {r} x {r} "
                            f"window of the input, expected {receptive_field(n_layers)} x "
                            f"{receptive_field(n_layers)}: use n_layers stride-2 convs, then "
                            "exactly two stride-1 convs, all 4 x 4")

    # 4. the values, with colorlib's weights in the student's layers (other shapes too)
    for config in [(3, 8, 3), (5, 4, 2)]:
        torch.manual_seed(sum(config))
        ref = PatchDiscriminator(*config).net
        mine = _build(cls, *config)
        if parameter_shapes(mine) != parameter_shapes(ref):
            fail(_PATCHGAN, f"{_PATCHGAN}{config}: {_parameter_hint(mine, ref)}")
        copy_weights(ref, mine)
        x = torch.randn(2, config[0], 48, 64, generator=torch.Generator().manual_seed(1))
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            mine.train(mode == "train")
            with torch.no_grad():
                expected = ref(x)
                got = call(mine, x.clone(), what=f"{_PATCHGAN}{config}")
            try:
                expect_tensor(got, expected, f"{_PATCHGAN}{config} ({mode} mode)", atol=1e-4,
                              rtol=1e-4, names="image channel y x")
            except CheckFailed as e:
                raise CheckFailed(f"{e}. The layers have the right shapes (colorlib's weights "
                                  "were copied into yours), so look at the order and the "
                                  "activations: conv -> [BatchNorm] -> LeakyReLU(0.2) for every "
                                  "conv but the last, no BatchNorm after the first and the "
                                  "last conv, no activation at the end") from None
    passed(f"your {_PATCHGAN} (2,765,633 parameters, 30 x 30 logits at 256 px, "
           f"{receptive_field(3)} x {receptive_field(3)} receptive field)")


# --------------------------------------------------------------------------- cGAN forward

_FORWARD = "generator_forward"


def _test_generator(seed: int) -> CGANGenerator:
    """A small random cGAN generator in eval mode, with non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    G = CGANGenerator(noise_dim=12, size=16, channels=(8, 6, 6, 6, 6, 4),
                      kernels=(7, 5, 5, 5, 5, 5))
    with torch.no_grad():
        for m in G.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
        G.out.weight.mul_(3)  # spread the sigmoid's output over (0, 1)
    return G.eval()


def _variant(G: CGANGenerator, Y, z, y_scale: bool = True, order: str = "xyn",
             scale_out: bool = True, noise_everywhere: bool = False) -> torch.Tensor | None:
    """G's forward with one typical mistake (None when that mistake cannot run)."""
    try:
        y = 2 * Y - 1 if y_scale else Y
        b = Y.shape[0]
        noise = G.project(z).view(b, 1, G.size, G.size)
        x = None
        for i, layer in enumerate(G.layers):
            parts = {"x": x, "y": y, "n": noise if (i < G.noise_layers or noise_everywhere)
                     else None}
            x = layer(torch.cat([parts[k] for k in order if parts[k] is not None], dim=1))
        s = torch.sigmoid(G.out(torch.cat([x, y], dim=1)))
        return (s - 0.5) * 2 * G.uv_range if scale_out else s
    except RuntimeError:
        return None


class _NoDirectCall(RuntimeError):
    pass


def cgan_forward(fn) -> None:
    """Check ``fn(G, Y, z) -> UV``: the cGAN generator's forward pass, written by hand.

    ``G`` is a :class:`~colorlib.models.cgan.CGANGenerator` (use ``G.project``,
    ``G.layers``, ``G.noise_layers``, ``G.out``, ``G.uv_range``, ``G.size``, not
    ``G(Y, z)``), ``Y`` (B, 1, H, W) in [0, 1], ``z`` (B, noise_dim).  The answer
    must equal ``G(Y, z)``.
    """
    for seed in (0, 1):
        G = _test_generator(seed)
        gen = torch.Generator().manual_seed(seed + 10)
        Y = torch.rand(3, 1, G.size, G.size, generator=gen)
        z = G.sample_noise(3, generator=gen)
        with torch.no_grad():
            expected = G(Y, z)

        def refuse(*args, **kwargs):
            raise _NoDirectCall("do not call G(Y, z) itself: the exercise is to write its "
                                "forward pass from G.project, G.layers and G.out")

        G.forward = refuse
        try:
            with torch.no_grad():
                got = call(fn, G, Y.clone(), z.clone(), what=_FORWARD)
        except CheckFailed as e:
            cause = e.__cause__
            if isinstance(cause, _NoDirectCall):
                fail(_FORWARD, str(cause))
            if isinstance(cause, RuntimeError) and "channels" in str(cause):
                raise CheckFailed(f"{e}. Count the channels each conv expects: the previous "
                                  "layer's maps, plus Y (every layer, the output conv too), "
                                  "plus the noise plane (only the first G.noise_layers "
                                  "layers)") from None
            raise
        finally:
            del G.forward
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            expect_tensor(got, expected, _FORWARD, atol=1e-5)  # type / shape message
        with torch.no_grad():
            mistakes = [
                (_variant(G, Y, z, y_scale=False),
                 "Y enters the network as 2 Y - 1 (range [-1, 1]), not as Y"),
                (_variant(G, Y, z, scale_out=False),
                 "the sigmoid gives s in (0, 1); return UV = (s - 0.5) * 2 * G.uv_range"),
                (_variant(G, Y, z, order="yxn"),
                 "concatenate in the order [features, Y, noise] (the weights of each conv "
                 "expect that order)"),
                (_variant(G, Y, z, order="xny"),
                 "concatenate in the order [features, Y, noise]: Y before the noise plane"),
            ]
        for variant, hint in mistakes:
            if close(got, variant, atol=1e-5):
                fail(_FORWARD, hint)
        expect_tensor(got, expected, _FORWARD, atol=1e-5, rtol=1e-4,
                      value_range=(-0.615, 0.615), names="image channel y x")
    passed("your generator_forward (Y to every layer, noise to the first three)")
