"""Notebook widgets (ipywidgets): a blind A/B study, and colorizing your own photos.

=========================  ==========================================================
:class:`ABStudy`           two versions of the same image in random order; a click
                           records which looks more realistic (see :mod:`colorlib.study`)
:class:`UploadColorizer`   upload a photo, choose a model, see before and after
:func:`read_image_bytes`   decode an uploaded file (any mode) into a tensor (from
                           :mod:`colorlib.imageio`, which also reads files)
=========================  ==========================================================

Display a widget by making it the last expression of a cell (``study``) or with
``IPython.display.display(study)``.  Both work without a browser too: tests and
scripts drive them through their buttons (``study.left_button.click()``) and
:meth:`UploadColorizer.colorize_bytes`.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import ipywidgets as W
import numpy as np
import torch
from PIL import Image

from . import study
from .evaluate import TRUTH
from .imageio import ImageFileError, gray_of, read_image_bytes

#: where :class:`ABStudy` records choices unless told otherwise (the working folder)
DEFAULT_STUDY_FILE = "ab_study.csv"


# --------------------------------------------------------------------------- images


def png_bytes(image: torch.Tensor, size: int | None = None) -> bytes:
    """PNG file bytes of one image (3, H, W) or (1, H, W) in [0, 1], scaled to ``size`` wide."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected one image (1 or 3, H, W), got {tuple(image.shape)}")
    arr = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    arr = arr.expand(3, -1, -1).permute(1, 2, 0).numpy()
    img = Image.fromarray(np.ascontiguousarray(arr), "RGB")
    if size is not None and img.width != size:
        height = max(1, round(img.height * size / img.width))
        img = img.resize((size, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


# --------------------------------------------------------------------------- A/B study


class ABStudy:
    """A blind A/B test: which of two versions of the same image looks more realistic?

    Every trial shows one image in two versions (two colorizations, or one and the
    true colours), left and right in random order, without names.  A click on
    "left" or "right" appends the choice to the CSV file ``path``
    (:func:`colorlib.study.append_choice`: header only for a new file, flushed to
    disk at once, never overwritten), and the next trial appears.  The results
    below the images are preference rates with 95 % Wilson intervals over *all*
    choices in the file, earlier sessions included.

    After a kernel restart, create the study again with the same ``path`` and
    ``participant``: the trials this participant already answered are skipped.

    Args:
        truth: (N, 3, H, W) the true colours, in [0, 1].
        versions: ``{name: (N, 3, H, W)}`` colorizations of the same N images.
        pairs: the comparisons, as pairs of names (``evaluate.TRUTH`` stands for the
            true colours); default every colorization against the truth.
        path: the CSV file (default ``ab_study.csv`` in the working folder).
        participant: a name or code for whoever is clicking.
        images: which image indices to use (default all).
        seed: seed of the trial order and of the left/right placement.
        display_size: width in pixels each image is shown at.

    Attributes:
        left_button, right_button: the choice buttons (``.click()`` to drive them).
        left_image, right_image: the two ``ipywidgets.Image``.
        status, results: ``ipywidgets.HTML`` (progress; preference rates).
        trials: the remaining trials, ``(image index, left name, right name)``.
        sources: ``{name: (N, 3, H, W)}`` every version shown, the truth included.
        widget: the whole widget (a ``VBox``).
    """

    def __init__(self, truth: torch.Tensor, versions: Mapping[str, torch.Tensor],
                 pairs: Sequence[tuple[str, str]] | None = None,
                 path: str | os.PathLike = DEFAULT_STUDY_FILE, participant: str = "anonymous",
                 images: Sequence[int] | None = None, seed: int | None = None,
                 display_size: int = 256):
        if truth.dim() != 4 or truth.shape[1] != 3:
            raise ValueError(f"truth must be RGB images (N, 3, H, W), got {tuple(truth.shape)}")
        self.sources = {TRUTH: truth, **dict(versions)}
        n = len(truth)
        for name, rgb in self.sources.items():
            if tuple(rgb.shape) != tuple(truth.shape):
                raise ValueError(f"version {name!r} has shape {tuple(rgb.shape)}; every version "
                                 f"must show the same images as truth, {tuple(truth.shape)}")
        if pairs is None:
            pairs = [(name, TRUTH) for name in versions]
        pairs = [tuple(p) for p in pairs]
        for a, b in pairs:
            for name in (a, b):
                if name not in self.sources:
                    raise ValueError(f"unknown version {name!r} in pairs; choose from "
                                     f"{', '.join(self.sources)}")
            if a == b:
                raise ValueError(f"a pair must show two different versions, got ({a!r}, {b!r})")
        if not pairs:
            raise ValueError("no pairs to compare: give at least one colorization")
        if "," in participant or not participant.strip():
            raise ValueError(f"participant must be a non-empty name without commas, "
                             f"got {participant!r}")
        self.path = Path(path)
        self.participant = participant
        self.display_size = display_size
        earlier = study.read_choices(self.path)  # a foreign file fails here, untouched
        mine = [r for r in earlier if r["participant"] == participant]
        done = {(r["image"], frozenset((r["left"], r["right"]))) for r in mine}
        self._first_trial = len(mine)  # trial numbers continue across sessions
        rng = random.Random(seed)
        indices = list(range(n)) if images is None else [int(i) for i in images]
        trials = []
        for i in indices:
            if not 0 <= i < n:
                raise ValueError(f"image index {i} is out of range for {n} images")
            for a, b in pairs:
                left, right = (a, b) if rng.random() < 0.5 else (b, a)
                if (str(i), frozenset((a, b))) not in done:
                    trials.append((i, left, right))
        rng.shuffle(trials)
        self.trials = trials
        self.answered = 0
        self._build()
        self._show()

    # -- widget layout
    def _build(self) -> None:
        size = f"{self.display_size}px"
        self.left_image = W.Image(format="png", layout=W.Layout(width=size))
        self.right_image = W.Image(format="png", layout=W.Layout(width=size))
        self.left_button = W.Button(description="left is more realistic",
                                    layout=W.Layout(width=size))
        self.right_button = W.Button(description="right is more realistic",
                                     layout=W.Layout(width=size))
        self.left_button.on_click(lambda _: self.choose("left"))
        self.right_button.on_click(lambda _: self.choose("right"))
        self.status = W.HTML()
        self.results = W.HTML()
        self.widget = W.VBox([
            W.HTML("<b>Which image looks more like a real colour photograph?</b>"),
            W.HBox([W.VBox([self.left_image, self.left_button]),
                    W.VBox([self.right_image, self.right_button])]),
            self.status, self.results,
        ])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def current(self) -> tuple[int, str, str] | None:
        """The trial on screen: ``(image index, left name, right name)``, or None when done."""
        return self.trials[0] if self.trials else None

    def _show(self) -> None:
        trial = self.current
        if trial is None:
            self.left_button.disabled = self.right_button.disabled = True
            self.left_image.value = self.right_image.value = b""
            self.status.value = (f"All trials done ({self.answered} in this session). "
                                 f"Thank you! The choices are in {self.path}.")
        else:
            i, left, right = trial
            self.left_image.value = png_bytes(self.sources[left][i], self.display_size)
            self.right_image.value = png_bytes(self.sources[right][i], self.display_size)
            self.status.value = (f"trial {self.answered + 1} of {self.answered + len(self.trials)}"
                                 f" &mdash; choices are saved to {self.path}")
        self.results.value = "<br>".join(self.summary().splitlines())

    def choose(self, side: str) -> dict:
        """Record that the ``side`` (``"left"`` / ``"right"``) version looks more realistic.

        Returns the record written; then shows the next trial.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        if self.current is None:
            raise RuntimeError("all trials are done; create a new ABStudy for more")
        i, left, right = self.current
        record = {"participant": self.participant, "trial": self._first_trial + self.answered,
                  "image": i,
                  "left": left, "right": right, "side": side,
                  "choice": left if side == "left" else right}
        study.append_choice(self.path, record)
        self.trials.pop(0)
        self.answered += 1
        self._show()
        return record

    def summary(self) -> str:
        """Preference rates (95 % Wilson intervals) over every choice in the file."""
        return study.summary(self.path)


# --------------------------------------------------------------------------- upload


class UploadColorizer:
    """Upload a photo, pick a model, see it colorized: before (gray) and after.

    A colour photo is first turned gray (what the model sees); a non-image or a
    damaged file shows a message in the widget, never a traceback.  Changing the
    model re-colorizes the last upload.

    Args:
        models: ``{name: colorizer}``, each with ``.colorize(gray) -> rgb``.
        max_side: larger photos are shrunk so their longer side is this many pixels.
        display_size: width in pixels each image is shown at.

    Attributes:
        upload (``FileUpload``), model (``Dropdown``), before / after (``Image``),
        message (``HTML``), widget (the whole ``VBox``), last_result (the last
        colorized RGB (3, H, W), or None).
    """

    def __init__(self, models: Mapping[str, torch.nn.Module], max_side: int = 512,
                 display_size: int = 256):
        if not models:
            raise ValueError("UploadColorizer needs at least one model: {'name': model}")
        for name, m in models.items():
            if not hasattr(m, "colorize"):
                raise TypeError(f"model {name!r} ({type(m).__name__}) has no .colorize(gray)")
        self.models = dict(models)
        self.max_side = max_side
        self.display_size = display_size
        self.upload = W.FileUpload(accept="image/*", multiple=False,
                                   description="upload a photo")
        self.model = W.Dropdown(options=list(self.models), description="model")
        size = f"{display_size}px"
        self.before = W.Image(format="png", layout=W.Layout(width=size))
        self.after = W.Image(format="png", layout=W.Layout(width=size))
        self.message = W.HTML("Upload a photo (colour or black-and-white) to colorize it.")
        self.last_result: torch.Tensor | None = None
        self._last_upload: tuple[bytes, str] | None = None
        self.upload.observe(self._on_upload, names="value")
        self.model.observe(self._on_model, names="value")
        self.widget = W.VBox([
            W.HBox([self.upload, self.model]), self.message,
            W.HBox([W.VBox([W.HTML("before (the gray input)"), self.before]),
                    W.VBox([W.HTML("after"), self.after])]),
        ])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        self.colorize_bytes(item["content"], item.get("name", "upload"))

    def _on_model(self, change) -> None:
        if self._last_upload is not None:
            self.colorize_bytes(*self._last_upload)

    def colorize_bytes(self, content: bytes, name: str = "upload") -> torch.Tensor | None:
        """Colorize an image file's bytes with the chosen model and show before / after.

        Returns:
            The colorized RGB (3, H, W) in [0, 1], or None when the file could not
            be used (the reason is shown in :attr:`message`).
        """
        content = bytes(content)
        self._last_upload = (content, name)
        self.last_result = None
        try:
            image, is_gray = read_image_bytes(content, name)
        except ImageFileError as e:
            self._fail(str(e))
            return None
        gray = self._shrink(gray_of(image, is_gray))
        model_name = self.model.value
        model = self.models[model_name].eval()
        try:
            rgb = model.colorize(gray[None])[0].cpu()
        except (ValueError, RuntimeError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            self._fail(f"{model_name} cannot colorize {name} "
                       f"({gray.shape[-1]}x{gray.shape[-2]} pixels): {first}")
            return None
        self.before.value = png_bytes(gray, self.display_size)
        self.after.value = png_bytes(rgb, self.display_size)
        kind = "black-and-white" if is_gray else "colour (shown here in gray)"
        self.message.value = (f"{_html(name)}: {gray.shape[-1]}x{gray.shape[-2]} pixels, "
                              f"{kind}, colorized by {_html(model_name)}")
        self.last_result = rgb
        return rgb

    def _shrink(self, gray: torch.Tensor) -> torch.Tensor:
        h, w = gray.shape[-2:]
        if max(h, w) <= self.max_side:
            return gray
        scale = self.max_side / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        return torch.nn.functional.interpolate(gray[None], size=size, mode="bilinear",
                                               align_corners=False, antialias=True)[0]

    def _fail(self, text: str) -> None:
        self.before.value = self.after.value = b""
        self.message.value = f"<span style='color:#b00'>{_html(text)}</span>"


def _html(text: str) -> str:
    import html

    return html.escape(str(text))


__all__ = ["ABStudy", "DEFAULT_STUDY_FILE", "UploadColorizer", "png_bytes", "read_image_bytes"]
