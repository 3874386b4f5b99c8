"""Colour-space conversions in pure torch: sRGB <-> CIE Lab, YUV and gray.

Every function works on any device, is differentiable (finite gradients
everywhere, including at exactly 0 and 1), and takes the channels on dimension
-3, so both a single image ``(3, H, W)`` and a batch ``(B, 3, H, W)`` work (any
number of leading dimensions, in fact).  Gray and lightness images have one
channel: ``(..., 1, H, W)``.

Conversions always compute in float32, even inside ``torch.autocast``: lower
precision would visibly shift colours (an L of 50 in bfloat16 has a step of 0.25).
The numbers agree with scikit-image (``skimage.color``) to better than 2e-3.
When no gradient is needed the work is done in place, in cache-sized blocks:
on a CPU that is several times faster than scikit-image
(``python bench/bench_color.py`` measures it).

=============  =====================  ===========================================
space          channels               range
=============  =====================  ===========================================
sRGB           R, G, B                [0, 1]
linear RGB     R, G, B                [0, 1] (light intensity, before the sRGB curve)
CIE Lab (D65)  L, a, b                L in [0, 100], a and b roughly [-128, 127]
YUV            Y, U, V                Y in [0, 1], U in +-0.436, V in +-0.615
gray           luminance-consistent   [0, 1] (see :func:`rgb_to_gray`)
=============  =====================  ===========================================

:func:`split` and :func:`merge` turn an RGB batch into the ``(input, target)``
pair a colorizer trains on, and back.

Example:
    >>> import torch
    >>> from colorlib import color
    >>> rgb = torch.rand(2, 3, 8, 8)
    >>> lab = color.rgb_to_lab(rgb)
    >>> lab.shape
    torch.Size([2, 3, 8, 8])
    >>> bool(torch.allclose(color.lab_to_rgb(lab), rgb, atol=1e-4))
    True
"""

from __future__ import annotations

import contextlib
import math
import sys

import numpy as np
import torch

__all__ = [
    "D65_WHITE",
    "LUMINANCE_WEIGHTS",
    "SPACES",
    "lab_to_rgb",
    "linear_to_srgb",
    "merge",
    "rgb_to_gray",
    "rgb_to_lab",
    "rgb_to_yuv",
    "split",
    "srgb_to_linear",
    "yuv_to_rgb",
]

#: The colour spaces :func:`split` and :func:`merge` accept.
SPACES = ("lab", "yuv", "rgb")

# ---------------------------------------------------------------------------
# Constants (the same numbers as scikit-image, so results agree with it)
# ---------------------------------------------------------------------------

# Linear sRGB -> CIE XYZ (D65).  Its middle row is the luminance Y; the rows sum
# to the white point (to within 1e-4), and the Y row to exactly 1.
_XYZ_FROM_RGB = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_RGB_FROM_XYZ = torch.linalg.inv(_XYZ_FROM_RGB)

#: CIE XYZ of the D65 reference white (2 degree observer).
D65_WHITE = (0.95047, 1.0, 1.08883)
_WHITE = torch.tensor(D65_WHITE, dtype=torch.float64)

#: Weights of linear R, G, B in the luminance Y (the Y row of the XYZ matrix).
LUMINANCE_WEIGHTS = tuple(float(w) for w in _XYZ_FROM_RGB[1])

# YUV as in scikit-image (Y is Rec.601 luma: 0.299 R + 0.587 G + 0.114 B).
_YUV_FROM_RGB = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [-0.14714119, -0.28886916, 0.43601035],
        [0.61497538, -0.51496512, -0.10001026],
    ],
    dtype=torch.float64,
)
_RGB_FROM_YUV = torch.linalg.inv(_YUV_FROM_RGB)

# sRGB transfer curve: linear segment near black, power 2.4 elsewhere.
_SRGB_KNEE = 0.04045  # in encoded sRGB
_LINEAR_KNEE = 0.0031308  # the same point in linear RGB

# Lab companding f(t): cube root above (6/29)^3, straight line below.
_LAB_EPS = 0.008856  # (6/29)^3, threshold on t = X / X_white
_LAB_F_EPS = 0.2068966  # 6/29, the same threshold on f(t)
_LAB_SLOPE = 7.787  # slope of the straight line
_LAB_OFFSET = 16.0 / 116.0  # its value at t = 0

# g = f - 16/116 -> (L, a, b):  L = 116 gy, a = 500 (gx - gy), b = 200 (gy - gz).
# (With f itself, L = 116 fy - 16; working with g saves adding that constant.)
# These two sparse 3 x 3 maps are written out channel by channel below: on CPU
# that is several times faster than a matrix product.

# The fast curves below return linear RGB multiplied by this constant (see
# _srgb_decode_scaled); the matrices that follow them divide it out.
_SCALE = 1.055**2.4


def _cut(power_at_knee: float, line_at_knee: float) -> float:
    """Where the relu of a piecewise curve starts (see "Piecewise curves" below)."""
    return max(power_at_knee, line_at_knee) * (1 + 1e-6)


_LAB_G_KNEE = _LAB_F_EPS - _LAB_OFFSET  # the knee 6/29 in g = f - 16/116
# The power branch of each curve in the units the code below computes it in.
_DECODE_CUT = _cut(_SCALE * ((_SRGB_KNEE + 0.055) / 1.055) ** 2.4, _SCALE * _SRGB_KNEE / 12.92)
_ENCODE_CUT = _cut((_SCALE * _LINEAR_KNEE) ** (1 / 2.4), 0.055 + 12.92 * _LINEAR_KNEE)
_LAB_G_CUT = _cut(_LAB_EPS ** (1 / 3), _LAB_SLOPE * _LAB_EPS + _LAB_OFFSET)
_LAB_G_INVERSE_CUT = _cut(_LAB_F_EPS**3, _LAB_G_KNEE / _LAB_SLOPE)

# The constants the conversions use, in float32, keyed by name.
_MATRICES = {
    "t_from_scaled_linear": _XYZ_FROM_RGB / _WHITE[:, None] / _SCALE,  # t = XYZ / white
    "scaled_linear_from_t": _RGB_FROM_XYZ * _WHITE[None, :] * _SCALE,
    "scaled_luminance_from_scaled_linear": _XYZ_FROM_RGB[1:2],
    "yuv_from_rgb": _YUV_FROM_RGB,
    "rgb_from_yuv": _RGB_FROM_YUV,
}
_MATRICES = {name: m.to(torch.float32) for name, m in _MATRICES.items()}
_ON_DEVICE: dict[tuple[str, torch.device], torch.Tensor] = {}


def _matrix(name: str, like: torch.Tensor) -> torch.Tensor:
    """The float32 constant ``name`` on the device of ``like`` (copied there once)."""
    if like.device.type == "cpu":
        return _MATRICES[name]
    key = (name, like.device)
    if key not in _ON_DEVICE:
        _ON_DEVICE[key] = _MATRICES[name].to(like.device)
    return _ON_DEVICE[key]


# ---------------------------------------------------------------------------
# Piecewise curves, written for speed and safe gradients
# ---------------------------------------------------------------------------
#
# Each curve is "power law above a knee k, straight line below".  Instead of
# torch.where (which evaluates both branches and, on CPU, is slow), we write
#
#     line(min(x, k)) + relu(power(max(x, k)) - cut),   cut = line(k)
#
# Above the knee this is line(k) + power(x) - line(k) = power(x).  Below it the
# relu is relu(power(k) - cut) = 0, so the result is exactly line(x): black maps
# to exactly 0.  (The two pieces of each standard curve meet only to within
# 1e-6, so ``cut`` is the larger of power(k) and line(k), plus one part in a
# million: the relu is then 0 below the knee for sure, and above it the
# result is off by less than 1e-6.)  The power law only ever sees x >= k > 0,
# so neither its value nor its gradient can be NaN or infinite.  Powers are
# computed as exp2(p * log2(x)): on CPU torch.pow(x, p) takes about twice as
# long, and exp2 several times less than exp.  Constant factors are moved
# into the neighbouring matrices: every operation saved is one pass less over
# the pixels.


def _srgb_decode_scaled(x: torch.Tensor) -> torch.Tensor:
    """``_SCALE * srgb_to_linear(x)``; ``_SCALE = 1.055 ** 2.4`` saves a division."""
    power = torch.exp2(torch.log2(x.clamp_min(_SRGB_KNEE) + 0.055) * 2.4)
    relu = (power - _DECODE_CUT).clamp_min(0.0)
    return torch.add(relu, x.clamp_max(_SRGB_KNEE), alpha=_SCALE / 12.92)


def _srgb_encode_scaled(x: torch.Tensor) -> torch.Tensor:
    """``linear_to_srgb(x / _SCALE)``: the inverse of :func:`_srgb_decode_scaled`."""
    # 1.055 * (x / _SCALE) ** (1/2.4) = x ** (1/2.4)
    power = torch.exp2(torch.log2(x.clamp_min(_SCALE * _LINEAR_KNEE)) * (1 / 2.4))
    relu = (power - _ENCODE_CUT).clamp_min(0.0)
    return torch.add(relu, x.clamp_max(_SCALE * _LINEAR_KNEE), alpha=12.92 / _SCALE)


def _lab_g(t: torch.Tensor) -> torch.Tensor:
    """``f(t) - 16/116`` for the Lab companding f: cube root above 0.008856, a line below."""
    power = torch.exp2(torch.log2(t.clamp_min(_LAB_EPS)) * (1 / 3))
    relu = (power - _LAB_G_CUT).clamp_min(0.0)
    return torch.add(relu, t.clamp_max(_LAB_EPS), alpha=_LAB_SLOPE)


def _lab_g_inverse(g: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_lab_g`: t = f ** 3 above f = 6/29, (f - 16/116) / 7.787 below."""
    power = (g.clamp_min(_LAB_G_KNEE) + _LAB_OFFSET).pow(3)
    relu = (power - _LAB_G_INVERSE_CUT).clamp_min(0.0)
    return torch.add(relu, g.clamp_max(_LAB_G_KNEE), alpha=1 / _LAB_SLOPE)


# ---------------------------------------------------------------------------
# The same curves in place, for the fast path (no autograd)
# ---------------------------------------------------------------------------
#
# ``_x_into(out, x, tmp)`` writes the curve of ``x`` into ``out`` using the
# buffer ``tmp``; ``tmp`` may be ``x`` itself (``x`` is then overwritten),
# ``out`` must not be.  In-place operations on preallocated buffers avoid
# allocating (and, on CPU, page-faulting) a new tensor for every step.


# On CPUs with AVX-512 under Linux, NumPy's float32 log2 and cbrt (Intel's SVML
# routines, one thread) take 0.24 and 0.31 ns per value; torch's log2 takes 1.2 ns on
# one thread and 0.73 ns on two (torch's exp2 is as fast as NumPy's).  So there, with
# torch on at most two threads (measured; more threads would close the gap), the fast
# path runs those two in place on NumPy views of its own buffers (no copies).
# Elsewhere, and on GPUs, everything is torch.  (Both round differently: they agree to
# ~1e-6 of the value.)
_NUMPY_LOG2_CBRT = sys.platform == "linux" and torch.backends.cpu.get_cpu_capability() == "AVX512"
_NUMPY_MAX_THREADS = 2


def _numpy_curves(x: torch.Tensor) -> bool:
    """Whether the fast path takes log2 and cbrt of ``x`` from NumPy (see above)."""
    return (_NUMPY_LOG2_CBRT and x.device.type == "cpu"
            and torch.get_num_threads() <= _NUMPY_MAX_THREADS)


def _log2_(x: torch.Tensor) -> torch.Tensor:
    """``x.log2_()``, for the fast path's buffers (positive float32, no autograd)."""
    if _numpy_curves(x):
        a = x.numpy()
        np.log2(a, out=a)
        return x
    return x.log2_()


def _cbrt_(x: torch.Tensor) -> torch.Tensor:
    """``x ** (1/3)`` in place, for the fast path's buffers (positive float32)."""
    if _numpy_curves(x):
        a = x.numpy()
        np.cbrt(a, out=a)
        return x
    return x.log2_().mul_(1 / 3).exp2_()


def _srgb_decode_scaled_into(out, x, tmp):
    torch.clamp_min(x, _SRGB_KNEE, out=out)
    torch.clamp_max(x, _SRGB_KNEE, out=tmp)
    _log2_(out.add_(0.055)).mul_(2.4).exp2_()
    out.sub_(_DECODE_CUT).clamp_(min=0.0)
    return out.add_(tmp, alpha=_SCALE / 12.92)


def _srgb_encode_scaled_into(out, x, tmp):
    torch.clamp_min(x, _SCALE * _LINEAR_KNEE, out=out)
    torch.clamp_max(x, _SCALE * _LINEAR_KNEE, out=tmp)
    _log2_(out).mul_(1 / 2.4).exp2_()
    out.sub_(_ENCODE_CUT).clamp_(min=0.0)
    return out.add_(tmp, alpha=12.92 / _SCALE)


def _lab_g_into(out, t, tmp):
    torch.clamp_min(t, _LAB_EPS, out=out)
    torch.clamp_max(t, _LAB_EPS, out=tmp)
    _cbrt_(out)
    out.sub_(_LAB_G_CUT).clamp_(min=0.0)
    return out.add_(tmp, alpha=_LAB_SLOPE)


def _lab_g_inverse_into(out, g, tmp):
    torch.clamp_min(g, _LAB_G_KNEE, out=out)
    torch.clamp_max(g, _LAB_G_KNEE, out=tmp)
    out.add_(_LAB_OFFSET).pow_(3)
    out.sub_(_LAB_G_INVERSE_CUT).clamp_(min=0.0)
    return out.add_(tmp, alpha=1 / _LAB_SLOPE)


# ---------------------------------------------------------------------------
# Conversions on flattened pixels: (..., C, P), channels on dimension -2
# ---------------------------------------------------------------------------
# Each conversion has two implementations of the same formulas:
#   _name_pixels(x) -> y           plain out-of-place torch, used with autograd;
#   _name_fast(x, out, a, b)       in place into ``out``, with scratch buffers a, b
#                                  of the shape of x, (m, C, n).


# g <-> Lab, channel by channel.  Both paths use the very same operations, so
# they give the same numbers.  Going back, gz is clipped at -16/116, i.e.
# f(Z) >= 0: scikit-image's gamut clipping.


def _lab_from_g(g: torch.Tensor) -> torch.Tensor:
    gx, gy, gz = g.unbind(-2)
    lab = (gy * 116.0, torch.add(gx * 500.0, gy, alpha=-500.0),
           torch.add(gy * 200.0, gz, alpha=-200.0))
    return torch.stack(lab, dim=-2)


def _lab_from_g_into(out, g, tmp):
    gx, gy, gz = g.unbind(-2)
    torch.mul(gy, 116.0, out=out[:, 0])
    torch.add(torch.mul(gx, 500.0, out=tmp[:, 0]), gy, alpha=-500.0, out=out[:, 1])
    torch.add(torch.mul(gy, 200.0, out=tmp[:, 1]), gz, alpha=-200.0, out=out[:, 2])


def _g_from_lab(lab: torch.Tensor) -> torch.Tensor:
    lightness, green_red, blue_yellow = lab.unbind(-2)
    gy = lightness * (1 / 116)
    gx = torch.add(gy, green_red, alpha=1 / 500)
    gz = torch.add(gy, blue_yellow, alpha=-1 / 200).clamp_min(-_LAB_OFFSET)
    return torch.stack((gx, gy, gz), dim=-2)


def _g_from_lab_into(out, lab):
    lightness, green_red, blue_yellow = lab.unbind(-2)
    gx, gy, gz = out.unbind(-2)
    torch.mul(lightness, 1 / 116, out=gy)
    torch.add(gy, green_red, alpha=1 / 500, out=gx)
    torch.add(gy, blue_yellow, alpha=-1 / 200, out=gz).clamp_(min=-_LAB_OFFSET)


def _rgb_to_lab_pixels(rgb: torch.Tensor) -> torch.Tensor:
    t = _matrix("t_from_scaled_linear", rgb) @ _srgb_decode_scaled(rgb)  # XYZ / white
    return _lab_from_g(_lab_g(t))


def _rgb_to_lab_fast(rgb, out, a, b):
    _srgb_decode_scaled_into(a, rgb, b)
    torch.matmul(_matrix("t_from_scaled_linear", a), a, out=b)
    _lab_g_into(a, b, b)
    _lab_from_g_into(out, a, b)


def _lab_to_rgb_pixels(lab: torch.Tensor) -> torch.Tensor:
    g = _g_from_lab(lab)
    linear = _matrix("scaled_linear_from_t", g) @ _lab_g_inverse(g)
    return _srgb_encode_scaled(linear).clamp(0.0, 1.0)


def _lab_to_rgb_fast(lab, out, a, b):
    _g_from_lab_into(a, lab)
    _lab_g_inverse_into(b, a, a)
    torch.matmul(_matrix("scaled_linear_from_t", a), b, out=a)
    _srgb_encode_scaled_into(b, a, a)
    torch.clamp(b, 0.0, 1.0, out=out)


def _rgb_to_gray_pixels(rgb: torch.Tensor) -> torch.Tensor:
    luminance = _matrix("scaled_luminance_from_scaled_linear", rgb) @ _srgb_decode_scaled(rgb)
    return _srgb_encode_scaled(luminance)


def _rgb_to_gray_fast(rgb, out, a, b):
    _srgb_decode_scaled_into(a, rgb, b)
    luminance = b.view(-1)[: out.numel()].view(out.shape)  # a one-channel view of b
    torch.matmul(_matrix("scaled_luminance_from_scaled_linear", a), a, out=luminance)
    _srgb_encode_scaled_into(out, luminance, luminance)


def _rgb_to_yuv_pixels(rgb: torch.Tensor) -> torch.Tensor:
    return _matrix("yuv_from_rgb", rgb) @ rgb


def _rgb_to_yuv_fast(rgb, out, a, b):
    torch.matmul(_matrix("yuv_from_rgb", a), rgb, out=out)


def _yuv_to_rgb_pixels(yuv: torch.Tensor) -> torch.Tensor:
    return _matrix("rgb_from_yuv", yuv) @ yuv


def _yuv_to_rgb_fast(yuv, out, a, b):
    torch.matmul(_matrix("rgb_from_yuv", a), yuv, out=out)


def _srgb_to_linear_pixels(x: torch.Tensor) -> torch.Tensor:
    return _srgb_decode_scaled(x) * (1 / _SCALE)


def _srgb_to_linear_fast(x, out, a, b):
    _srgb_decode_scaled_into(out, x, a).mul_(1 / _SCALE)


def _linear_to_srgb_pixels(x: torch.Tensor) -> torch.Tensor:
    return _srgb_encode_scaled(x * _SCALE)


def _linear_to_srgb_fast(x, out, a, b):
    torch.mul(x, _SCALE, out=a)
    _srgb_encode_scaled_into(out, a, a)


# Pixels converted at a time on the fast path (about 1.5 MB per float32 buffer).
_CHUNK = 131072


def _blocks(images: int, pixels: int, chunk: int):
    """(image slice, pixel slice) pairs covering ``images`` x ``pixels`` in blocks.

    Images smaller than ``chunk`` pixels go whole, several to a block; larger
    ones are cut into ranges of ``chunk`` pixels.  Every block holds at most
    ``chunk`` pixels.
    """
    if pixels >= chunk:
        for i in range(images):
            for start in range(0, pixels, chunk):
                yield slice(i, i + 1), slice(start, min(start + chunk, pixels))
    else:
        per_block = chunk // pixels
        for i in range(0, images, per_block):
            yield slice(i, min(i + per_block, images)), slice(0, pixels)


def _autocast_off(device_type: str):
    """A context that disables autocast on ``device_type`` (a no-op where unsupported)."""
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except RuntimeError:  # a device type without autocast support
        return contextlib.nullcontext()


def _per_pixel(pixels_fn, fast_fn, image, channels_in: int, channels_out: int, what: str):
    """Apply a conversion to an image (..., C, H, W): float32, autocast off.

    When autograd needs the result (``image.requires_grad`` and grad mode on),
    ``pixels_fn`` converts the whole tensor out of place.  Otherwise ``fast_fn``
    converts it in place on scratch buffers, on CPU in blocks of about
    ``_CHUNK`` pixels that stay in cache: the same formulas, several times
    faster, and no memory beyond the output and two buffers.
    """
    _check_tensor(image, what)
    _check_channels(image, channels_in, what)
    *lead, _, h, w = image.shape
    with _autocast_off(image.device.type):
        if torch.is_grad_enabled() and image.requires_grad:
            pixels = image.float().reshape(*lead, channels_in, h * w)
            return pixels_fn(pixels).reshape(*lead, channels_out, h, w)
        pixels = image.detach().reshape(math.prod(lead), channels_in, h * w)
        out = torch.empty(pixels.shape[0], channels_out, h * w, device=image.device)
        if out.numel() == 0:
            return out.reshape(*lead, channels_out, h, w)
        chunk = _CHUNK if image.device.type == "cpu" else pixels.shape[0] * h * w
        scratch: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        for image_slice, pixel_slice in _blocks(pixels.shape[0], h * w, chunk):
            src = pixels[image_slice, :, pixel_slice].float()
            shape = (src.shape[0], channels_in, src.shape[2])
            if shape not in scratch:
                scratch[shape] = (torch.empty(shape, device=src.device),
                                  torch.empty(shape, device=src.device))
            fast_fn(src, out[image_slice, :, pixel_slice], *scratch[shape])
        return out.reshape(*lead, channels_out, h, w)


def _check_tensor(image, what: str) -> None:
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            f"expected {what} as a torch.Tensor, got {type(image).__name__}; "
            "use torch.as_tensor(array) first"
        )
    if not image.is_floating_point():
        raise TypeError(
            f"expected {what} as a floating-point tensor, got {image.dtype}; "
            "convert 8-bit images with image.float() / 255"
        )


def _check_channels(image: torch.Tensor, channels: int, what: str) -> None:
    if image.dim() < 3 or image.shape[-3] != channels:
        raise ValueError(
            f"expected {what} of shape (..., {channels}, H, W) (channels on dimension -3), "
            f"got {tuple(image.shape)}"
        )


# ---------------------------------------------------------------------------
# The sRGB transfer curve
# ---------------------------------------------------------------------------


def _elementwise(pixels_fn, fast_fn, x: torch.Tensor, what: str) -> torch.Tensor:
    """Apply a conversion to every element of ``x`` (any shape), as one-channel pixels."""
    _check_tensor(x, what)
    flat = x.reshape(1, 1, 1, -1)
    return _per_pixel(pixels_fn, fast_fn, flat, 1, 1, what).reshape(x.shape)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve ("gamma"): encoded sRGB -> linear light.

    ``x / 12.92`` for ``x <= 0.04045``, else ``((x + 0.055) / 1.055) ** 2.4``.

    Args:
        x: tensor of any shape, float in [0, 1] (encoded sRGB values).

    Returns:
        float32 tensor of the same shape, in [0, 1], proportional to light intensity.

    Example:
        >>> srgb_to_linear(torch.tensor([0.0, 0.5, 1.0]))
        tensor([0.0000, 0.2140, 1.0000])
    """
    return _elementwise(_srgb_to_linear_pixels, _srgb_to_linear_fast, x, "sRGB values")


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve: linear light -> encoded sRGB.

    ``12.92 x`` for ``x <= 0.0031308``, else ``1.055 x ** (1 / 2.4) - 0.055``.
    The inverse of :func:`srgb_to_linear`; does not clip.

    Args:
        x: tensor of any shape, float, linear RGB (normally in [0, 1]).

    Returns:
        float32 tensor of the same shape (in [0, 1] for inputs in [0, 1]).

    Example:
        >>> linear_to_srgb(torch.tensor([0.0, 0.2140, 1.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _elementwise(_linear_to_srgb_pixels, _linear_to_srgb_fast, x, "linear RGB values")


# ---------------------------------------------------------------------------
# CIE Lab
# ---------------------------------------------------------------------------


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB to CIE Lab (D65 white, 2 degree observer).

    sRGB is linearised (:func:`srgb_to_linear`), mapped to XYZ, divided by the
    D65 white (0.95047, 1, 1.08883) and companded with f(t) = t ** (1/3)
    (a straight line for t <= 0.008856); then L = 116 f(Y) - 16,
    a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z)).  Matches
    ``skimage.color.rgb2lab`` to better than 2e-3.

    Args:
        rgb: (..., 3, H, W) float in [0, 1].

    Returns:
        (..., 3, H, W) float32 Lab: L in [0, 100], a and b roughly in [-128, 127]
        (sRGB colours reach about a in [-86, 98], b in [-108, 94]).

    Example:
        >>> red = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
        >>> rgb_to_lab(red).flatten().round()
        tensor([53., 80., 67.])
    """
    return _per_pixel(_rgb_to_lab_pixels, _rgb_to_lab_fast, rgb, 3, 3, "an RGB image")


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIE Lab (D65) to sRGB in [0, 1], clipping colours outside the gamut.

    The inverse of :func:`rgb_to_lab`; matches ``skimage.color.lab2rgb`` to
    better than 2e-3, also outside the gamut.

    Clipping rule: like scikit-image, negative Z after the Lab -> XYZ step is
    set to 0, then linear RGB is converted to sRGB and the result clipped to
    [0, 1].  (Precisely, as scikit-image does it: the companded
    f(Z) = (L + 16) / 116 - b / 200 is set to 0 where it is negative, before
    the cube / straight-line inverse; XYZ then goes to linear RGB, negative
    linear values stay on the straight part of the sRGB curve, and the final
    sRGB is clipped to [0, 1].)  Many Lab triples (e.g. L = 50, a = b = 127)
    have no sRGB colour; they come back clipped.

    Args:
        lab: (..., 3, H, W) float: L in [0, 100], a and b roughly in [-128, 127].

    Returns:
        (..., 3, H, W) float32 sRGB in [0, 1].
    """
    return _per_pixel(_lab_to_rgb_pixels, _lab_to_rgb_fast, lab, 3, 3, "a Lab image")


# ---------------------------------------------------------------------------
# YUV
# ---------------------------------------------------------------------------


def rgb_to_yuv(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB to YUV (the matrix of ``skimage.color.rgb2yuv``).

    Y = 0.299 R + 0.587 G + 0.114 B is Rec.601 luma, computed directly on the
    encoded sRGB values (no linearisation); U and V are blue- and
    red-difference chroma.

    Args:
        rgb: (..., 3, H, W) float in [0, 1].

    Returns:
        (..., 3, H, W) float32 YUV: Y in [0, 1], U in +-0.436, V in +-0.615.
    """
    return _per_pixel(_rgb_to_yuv_pixels, _rgb_to_yuv_fast, rgb, 3, 3, "an RGB image")


def yuv_to_rgb(yuv: torch.Tensor) -> torch.Tensor:
    """Convert YUV to sRGB (the inverse matrix, as ``skimage.color.yuv2rgb``).

    Does **not** clip: a YUV triple outside the RGB cube (easy to produce with a
    model's predicted U, V) gives values below 0 or above 1.  Clip with
    ``.clamp(0, 1)`` before display; :func:`merge` does.

    Args:
        yuv: (..., 3, H, W) float: Y in [0, 1], U in +-0.436, V in +-0.615.

    Returns:
        (..., 3, H, W) float32 RGB, in [0, 1] for YUV that came from valid RGB.
    """
    return _per_pixel(_yuv_to_rgb_pixels, _yuv_to_rgb_fast, yuv, 3, 3, "a YUV image")


# ---------------------------------------------------------------------------
# Gray
# ---------------------------------------------------------------------------


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """Luminance-consistent gray: the sRGB gray with the same CIE luminance.

    sRGB is linearised, the luminance
    Y = 0.212671 R + 0.715160 G + 0.072169 B is taken -- the Y row of the very
    sRGB -> XYZ matrix :func:`rgb_to_lab` uses, i.e. the Rec.709 weights
    0.2126, 0.7152, 0.0722 -- and Y is re-encoded with the sRGB curve.

    Why: a gray pixel g has Lab lightness L = L(Y), so
    ``rgb_to_lab(gray.expand(..., 3, H, W))`` has exactly the L of
    ``rgb_to_lab(rgb)`` and a = b = 0.  A Lab colorizer trained on L from colour
    photographs therefore sees, at test time, exactly its training input.

    This differs slightly from Rec.601 luma, 0.299 R + 0.587 G + 0.114 B on the
    encoded values (what PIL's ``Image.convert("L")`` computes, and the Y of
    :func:`rgb_to_yuv`): mostly by less than 0.02, but more for saturated
    colours (pure blue: 0.30 here, 0.11 as luma).

    Args:
        rgb: (..., 3, H, W) float in [0, 1].

    Returns:
        (..., 1, H, W) float32 gray in [0, 1].
    """
    return _per_pixel(_rgb_to_gray_pixels, _rgb_to_gray_fast, rgb, 3, 1, "an RGB image")


# ---------------------------------------------------------------------------
# Training pairs
# ---------------------------------------------------------------------------


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"unknown colour space {space!r}; choose one of {', '.join(SPACES)}")


def split(rgb: torch.Tensor, space: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Split an RGB image into a colorizer's ``(input, target)`` pair.

    ========  ================================  ==================================
    space     x (input)                          y (target)
    ========  ================================  ==================================
    ``lab``   L, (..., 1, H, W) in [0, 100]      ab, (..., 2, H, W), about [-128, 127]
    ``yuv``   Y, (..., 1, H, W) in [0, 1]        UV, (..., 2, H, W), +-0.436, +-0.615
    ``rgb``   :func:`rgb_to_gray`, [0, 1]        the RGB itself, (..., 3, H, W)
    ========  ================================  ==================================

    Args:
        rgb: (..., 3, H, W) float in [0, 1].
        space: ``"lab"``, ``"yuv"`` or ``"rgb"``.

    Returns:
        ``(x, y)``, float32; :func:`merge` turns them back into RGB.
    """
    _check_space(space)
    _check_tensor(rgb, "an RGB image")
    _check_channels(rgb, 3, "an RGB image")
    if space == "lab":
        lab = rgb_to_lab(rgb)
        return lab[..., :1, :, :], lab[..., 1:, :, :]
    if space == "yuv":
        yuv = rgb_to_yuv(rgb)
        return yuv[..., :1, :, :], yuv[..., 1:, :, :]
    return rgb_to_gray(rgb), rgb.float()


def merge(x: torch.Tensor, y: torch.Tensor, space: str) -> torch.Tensor:
    """Inverse of :func:`split`: ``(input, target)`` in ``space`` -> sRGB.

    ``lab``: :func:`lab_to_rgb` of L and ab (clipped to [0, 1] by it);
    ``yuv``: :func:`yuv_to_rgb` of Y and UV, clipped to [0, 1];
    ``rgb``: ``y`` clipped to [0, 1] (``x`` is ignored).

    Args:
        x: (..., 1, H, W) input of the pair (L, Y or gray).
        y: (..., 2, H, W) for ``lab`` and ``yuv``, (..., 3, H, W) for ``rgb``.
        space: ``"lab"``, ``"yuv"`` or ``"rgb"``.

    Returns:
        (..., 3, H, W) float32 sRGB in [0, 1].
    """
    _check_space(space)
    _check_tensor(x, f"the {space} input x")
    _check_tensor(y, f"the {space} target y")
    if space == "rgb":
        _check_channels(y, 3, "an RGB target y")
        return y.float().clamp(0.0, 1.0)
    _check_channels(x, 1, f"a one-channel {space} input x")
    _check_channels(y, 2, f"a two-channel {space} target y")
    if x.shape[:-3] != y.shape[:-3] or x.shape[-2:] != y.shape[-2:]:
        raise ValueError(
            f"x and y must have the same batch and spatial sizes, got x {tuple(x.shape)} "
            f"and y {tuple(y.shape)}"
        )
    both = torch.cat([x.float(), y.float()], dim=-3)
    if space == "lab":
        return lab_to_rgb(both)
    return yuv_to_rgb(both).clamp(0.0, 1.0)
