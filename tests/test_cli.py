"""python -m colorlib colorize: any image mode in, a colour image out, clean errors."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib import checkpoint, models
from colorlib.__main__ import main
from colorlib.imageio import ImageFileError, read_image, read_image_bytes


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "tiny.pt"
    checkpoint.save_model(path, models.build("tiny", width=4))
    return path


def gradient(h=37, w=53):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x / w, y / h, (x + y) / (h + w)], -1)


def write(path, mode):
    rgb = gradient()
    if mode == "RGB":
        Image.fromarray((rgb * 255).astype(np.uint8)).save(path)
    elif mode == "RGBA":
        a = np.full(rgb.shape[:2] + (1,), 200.0)
        Image.fromarray(np.concatenate([rgb * 255, a], -1).astype(np.uint8), "RGBA").save(path)
    elif mode == "P":
        Image.fromarray((rgb * 255).astype(np.uint8)).convert("P").save(path)
    elif mode == "L":
        Image.fromarray((rgb[..., 0] * 255).astype(np.uint8)).save(path)
    elif mode == "I;16":
        Image.fromarray((rgb[..., 1] * 65535).astype(np.uint16)).save(path)
    return path


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "I;16"])
def test_colorize_accepts_every_image_mode(tmp_path, model_file, mode, capsys):
    src = write(tmp_path / f"in_{mode.replace(';', '')}.png", mode)
    out = tmp_path / "out.png"
    assert main(["colorize", str(src), str(out), "--model", str(model_file)]) == 0
    result = Image.open(out)
    # 37 x 53 is not a multiple of the model's stride (8): padded, then cropped back
    assert result.mode == "RGB" and result.size == (53, 37)


def test_read_image_ranges_and_gray_detection(tmp_path):
    img, gray = read_image(write(tmp_path / "a.png", "I;16"))
    assert gray and img.shape == (1, 37, 53)
    assert abs(float(img[0, 36, 0]) - 36 / 37) < 1e-3  # 16-bit precision kept, scaled to [0, 1]
    img, gray = read_image(write(tmp_path / "b.png", "RGBA"))
    assert not gray and img.shape == (3, 37, 53) and 0 <= img.min() and img.max() <= 1
    # alpha 200/255 composited on white: black would become 1 - 200/255
    assert abs(float(img[0, 0, 0]) - (1 - 200 / 255)) < 1e-2


def test_colorized_output_keeps_the_input_lightness(tmp_path, model_file):
    src = write(tmp_path / "g.png", "L")
    out = tmp_path / "o.png"
    main(["colorize", str(src), str(out), "--model", str(model_file)])
    from colorlib import color

    rgb = torch.from_numpy(np.asarray(Image.open(out), dtype=np.float32) / 255).permute(2, 0, 1)
    gray_in = torch.from_numpy(np.asarray(Image.open(src), dtype=np.float32) / 255)
    L_in = color.rgb_to_lab(gray_in.expand(3, -1, -1))[0]
    L_out = color.rgb_to_lab(rgb)[0]
    # lightness survives colorization up to gamut clipping and 8-bit rounding
    assert (L_in - L_out).abs().median() < 2.0


@pytest.mark.parametrize("case", ["text", "empty", "missing_input", "missing_model", "bad_model"])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, model_file, case):
    src, model = write(tmp_path / "in.png", "RGB"), model_file
    if case == "text":
        src = tmp_path / "notes.png"
        src.write_text("this is not an image")
    elif case == "empty":
        src = tmp_path / "empty.jpg"
        src.write_bytes(b"")
    elif case == "missing_input":
        src = tmp_path / "nope.png"
    elif case == "missing_model":
        model = tmp_path / "nope.pt"
    elif case == "bad_model":
        model = tmp_path / "bad.pt"
        model.write_bytes(b"\x00" * 100)
    proc = subprocess.run([sys.executable, "-m", "colorlib", "colorize", str(src),
                           str(tmp_path / "out.png"), "--model", str(model)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "I;16"])
def test_bytes_decode_like_the_file(tmp_path, mode):
    path = write(tmp_path / "a.png", mode)
    from_file, gray_file = read_image(path)
    from_bytes, gray_bytes = read_image_bytes(path.read_bytes(), "a.png")
    assert gray_bytes == gray_file == (mode in ("L", "I;16"))
    assert torch.equal(from_bytes, from_file)


def test_too_large_images_are_refused_by_both_readers(tmp_path, monkeypatch):
    path = write(tmp_path / "big.png", "RGB")  # 37 x 53 = 1961 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 900)  # Pillow refuses over 2 x 900
    with pytest.raises(ImageFileError, match=r"big\.png: the image is too large to open safely"):
        read_image(path)
    with pytest.raises(ImageFileError, match=r"^up\.png: the image is too large to open safely"):
        read_image_bytes(path.read_bytes(), "up.png")


def test_read_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageFileError, match="bad.jpg"):
        read_image(bad)
