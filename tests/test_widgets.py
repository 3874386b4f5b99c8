"""The A/B study and upload widgets, driven through their buttons and upload field."""

import datetime
import io

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib import color, models, study, widgets
from colorlib.evaluate import TRUTH


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(3, 3, 16, 16, generator=g)
    washed = 0.5 * truth + 0.5 * color.rgb_to_gray(truth)  # a "colorization": half saturated
    gray = color.rgb_to_gray(truth).expand(-1, 3, -1, -1)
    return truth, {"washed": washed, "gray": gray}


def decode(png):
    return torch.from_numpy(np.array(Image.open(io.BytesIO(png)).convert("RGB"))).float()


def shown_version(study_widget, side, sources):
    """Which version the widget's left/right image shows (decoded and matched)."""
    i = study_widget.current[0]
    shown = decode(getattr(study_widget, f"{side}_image").value)
    diffs = {name: (shown - decode(widgets.png_bytes(rgb[i], study_widget.display_size)))
             .abs().max().item() for name, rgb in sources.items()}
    return min(diffs, key=diffs.get)


def test_clicks_record_the_version_shown_on_that_side(tmp_path, images):
    truth, versions = images
    path = tmp_path / "ab.csv"
    ab = widgets.ABStudy(truth, versions, path=path, participant="ana", seed=1,
                         display_size=32)
    sources = {TRUTH: truth, **versions}
    assert len(ab.trials) == 3 * 2  # 3 images x (washed, gray) against the truth
    expected = []
    for k in range(4):
        side = "left" if k % 2 == 0 else "right"
        expected.append(shown_version(ab, side, sources))
        (ab.left_button if side == "left" else ab.right_button).click()
    rows = study.read_choices(path)
    assert [r["choice"] for r in rows] == expected
    assert [r["trial"] for r in rows] == ["0", "1", "2", "3"]
    assert len(ab.trials) == 2 and "trial 5 of 6" in ab.status.value
    assert "Wilson" in ab.results.value


def test_order_is_randomised(tmp_path, images):
    truth, versions = images
    ab = widgets.ABStudy(truth, versions, path=tmp_path / "ab.csv", seed=0)
    lefts = [left for _, left, _ in ab.trials]
    assert TRUTH in lefts and set(lefts) - {TRUTH}  # the truth is sometimes left, sometimes not


def test_restart_appends_and_skips_answered_trials(tmp_path, images):
    truth, versions = images
    path = tmp_path / "ab.csv"
    first = widgets.ABStudy(truth, versions, path=path, participant="ana", seed=0)
    for _ in range(2):
        first.left_button.click()
    answered = {(r["image"], frozenset((r["left"], r["right"])))
                for r in study.read_choices(path)}
    before = path.read_bytes()
    # "kernel restart": a new widget on the same file and participant
    again = widgets.ABStudy(truth, versions, path=path, participant="ana", seed=0)
    remaining = {(str(i), frozenset((a, b))) for i, a, b in again.trials}
    assert len(again.trials) == 4 and not remaining & answered
    again.right_button.click()
    assert path.read_bytes().startswith(before)
    rows = study.read_choices(path)
    assert len(rows) == 3 and rows[-1]["trial"] == "2"
    # another participant sees every trial
    assert len(widgets.ABStudy(truth, versions, path=path, participant="bo").trials) == 6


def test_finishing_disables_the_buttons(tmp_path, images):
    truth, versions = images
    ab = widgets.ABStudy(truth, {"washed": versions["washed"]}, path=tmp_path / "ab.csv",
                         images=[0])
    ab.left_button.click()
    assert ab.current is None and ab.left_button.disabled and ab.right_button.disabled
    assert "All trials done" in ab.status.value
    with pytest.raises(RuntimeError, match="all trials are done"):
        ab.choose("left")


def test_foreign_file_is_refused_untouched(tmp_path, images):
    truth, versions = images
    path = tmp_path / "notes.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(study.StudyFileError, match="notes.csv"):
        widgets.ABStudy(truth, versions, path=path)
    assert path.read_text() == "a,b\n1,2\n"


def test_bad_arguments(images):
    truth, versions = images
    with pytest.raises(ValueError, match="unknown version 'zhang'"):
        widgets.ABStudy(truth, versions, pairs=[("zhang", TRUTH)])
    with pytest.raises(ValueError, match="same images"):
        widgets.ABStudy(truth, {"small": truth[:, :, :8, :8]})


# --------------------------------------------------------------------------- upload


def png_file(array, mode=None):
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, format="PNG")
    return out.getvalue()


def upload(widget, content, name):
    widget.upload.value = ({"name": name, "type": "", "size": len(content),
                            "content": memoryview(content),
                            "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def colorizers():
    torch.manual_seed(0)
    return {"tiny": models.build("tiny", width=4), "alpha": models.build("wallner_alpha")}


def test_upload_colorizes_and_model_choice_recolorizes(colorizers):
    w = widgets.UploadColorizer(colorizers, display_size=64)
    rgb = (np.random.default_rng(0).random((20, 28, 3)) * 255).astype(np.uint8)
    upload(w, png_file(rgb), "photo.png")
    first = w.last_result
    assert first.shape == (3, 20, 28) and 0 <= first.min() and first.max() <= 1
    assert w.before.value and w.after.value and "photo.png" in w.message.value
    expected = colorizers["tiny"].eval().colorize(
        color.rgb_to_gray(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255))[0]
    assert torch.allclose(first, expected, atol=1e-5)
    w.model.value = "alpha"
    assert w.last_result is not None and not torch.allclose(w.last_result, first)


def test_non_image_upload_shows_a_message_not_a_traceback(colorizers):
    w = widgets.UploadColorizer(colorizers)
    upload(w, b"just some text", "notes.txt")
    assert w.last_result is None
    assert "notes.txt" in w.message.value and "not an image" in w.message.value
    assert w.after.value == b""


def test_sixteen_bit_gray_and_large_uploads(colorizers):
    w = widgets.UploadColorizer(colorizers, max_side=32)
    gray16 = (np.linspace(0, 65535, 40 * 64).reshape(40, 64)).astype(np.uint16)
    upload(w, png_file(gray16), "scan.png")
    assert w.last_result.shape == (3, 20, 32)  # shrunk to 32 on the long side
    assert "black-and-white" in w.message.value


def test_model_that_cannot_take_the_size_reports_it():
    w = widgets.UploadColorizer({"ae": models.build("autoencoder", image_size=32)})
    upload(w, png_file(np.zeros((24, 40, 3), np.uint8)), "odd.png")
    assert w.last_result is None and "ae cannot colorize odd.png" in w.message.value


TRUNCATED = png_file((np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3))[:300]


@pytest.mark.parametrize("content,match", [(b"", "empty"), (TRUNCATED, "damaged"),
                                           (b"%PDF-1.4 a document", "not an image")])
def test_read_image_bytes_errors(content, match):
    from colorlib.imageio import ImageFileError

    with pytest.raises(ImageFileError, match=rf"^odd.png: .*({match})"):
        widgets.read_image_bytes(content, "odd.png")
