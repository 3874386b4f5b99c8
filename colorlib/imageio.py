"""Reading a user's image file into a tensor, whatever its mode, with clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from . import color


class ImageFileError(ValueError):
    """A file that cannot be used as an image; the message says which and why."""


def read_image(path: str | Path) -> tuple[torch.Tensor, bool]:
    """Read an image file as float32 in [0, 1].

    Accepts RGB, RGBA / LA and palette files (transparent areas are composited on
    white), 8- and 16-bit grayscale, 16-bit and float images, CMYK.

    Returns:
        ``(image, is_gray)``: image (3, H, W) RGB or (1, H, W) gray in [0, 1].

    Raises:
        ImageFileError: missing, empty, unreadable or absurdly large file (message
            names the path).
    """
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageFileError(f"{path}: the file is empty (0 bytes)")
    return _decode(path, str(path))


def read_image_bytes(content: bytes, name: str = "upload") -> tuple[torch.Tensor, bool]:
    """Decode an image file's bytes (an upload, say) like :func:`read_image` reads a file.

    Args:
        content: the file's bytes (PNG, JPEG, ...; any mode :func:`read_image` accepts).
        name: the file's name, for error messages.

    Returns:
        ``(image, is_gray)``: (3, H, W) RGB or (1, H, W) gray, float32 in [0, 1].

    Raises:
        ImageFileError: empty, not an image, damaged, or absurdly large (the message
            names the file).
    """
    content = bytes(content)
    if not content:
        raise ImageFileError(f"{name}: the file is empty (0 bytes)")
    return _decode(io.BytesIO(content), name)


def _decode(source, name: str) -> tuple[torch.Tensor, bool]:
    """Open ``source`` (a path or a binary file) with Pillow; errors name ``name``."""
    try:
        with Image.open(source) as img:
            img.load()
            return _to_tensor(img)
    except UnidentifiedImageError as e:
        raise ImageFileError(f"{name}: not an image file that Pillow can read "
                             "(try a PNG or JPEG photo)") from e
    except Image.DecompressionBombError as e:
        raise ImageFileError(f"{name}: the image is too large to open safely ({e})") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"{name}: damaged or unsupported image ({e})") from e


def _to_tensor(img: Image.Image) -> tuple[torch.Tensor, bool]:
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3:4]
        rgb = rgba[..., :3] * alpha + (1.0 - alpha)
        gray = mode == "LA"
        t = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        return (t[:1] if gray else t), gray
    if mode in ("1", "L"):
        arr = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        return torch.from_numpy(arr)[None], True
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img).astype(np.float32)
        scale = 65535.0 if (mode.startswith("I;16") or arr.max() > 255) else 255.0
        if mode == "F" and arr.max() <= 1.0:
            scale = 1.0
        return torch.from_numpy(np.clip(arr / scale, 0, 1))[None], True
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))), False


def gray_of(image: torch.Tensor, is_gray: bool) -> torch.Tensor:
    """(1, H, W) gray in [0, 1] of an image from :func:`read_image`."""
    return image if is_gray else color.rgb_to_gray(image)


def write_image(path: str | Path, rgb: torch.Tensor) -> Path:
    """Save (3, H, W) RGB in [0, 1] as an 8-bit file; the format follows the extension."""
    path = Path(path)
    arr = (rgb.detach().float().cpu().clamp(0, 1).numpy().transpose(1, 2, 0) * 255).round()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(arr.astype(np.uint8), "RGB").save(path)
    except (KeyError, ValueError) as e:
        raise ImageFileError(
            f"{path}: cannot save in this format; use an extension like .png or .jpg") from e
    return path
