"""Every colorizer of the course on one held-out set: metrics, pictures, a semantic test.

Every course model answers the same call, ``model.colorize(gray) -> rgb``
(:class:`colorlib.models.Colorizer`), so evaluating them is one loop:

====================================  ====================================================
:func:`load_checkpoint_colorizers`    every colorizer the earlier notebooks saved in
                                      :func:`colorlib.runs_dir`
:func:`load_or_train`                 one model from its checkpoint, or trained now
:func:`evaluate_colorizers`           colorize the held-out images with each model and
                                      score them: an :class:`EvaluationTable`
:func:`gray_baseline`                 the colorizer that adds no colour (the baseline)
:func:`plot_metrics`                  bar charts of the table
:func:`semantic_test`                 does an ImageNet classifier recognise the
                                      colorized images as well as the true-colour ones?
====================================  ====================================================

Images are float32 RGB tensors (N, 3, H, W) in [0, 1] throughout.

Example:
    >>> import torch
    >>> from colorlib import data, evaluate, models
    >>> truth = data.samples("val", size=32, n=4).images
    >>> table = evaluate.evaluate_colorizers({"tiny": models.build("tiny")}, truth)
    >>> table.names
    ['gray input', 'tiny', 'true colours']
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as ckpt
from . import color, data, metrics
from .models import Colorizer

#: row names of the baseline (gray input) and of the reference (the true colours)
GRAY = "gray input"
TRUTH = "true colours"

#: the metrics of an :class:`EvaluationTable`: name -> (label, higher is better?)
METRICS: dict[str, tuple[str, bool | None]] = {
    "psnr": ("PSNR (dB)", True),
    "ssim": ("SSIM", True),
    "ciede2000": ("CIEDE2000", False),
    "colourfulness": ("colourfulness", None),  # neither: compare with the true colours
}

#: Imagenette's ten classes (torchvision's label order) and their ImageNet-1k indices
IMAGENETTE_CLASSES = ("tench", "English springer", "cassette player", "chain saw", "church",
                      "French horn", "garbage truck", "gas pump", "golf ball", "parachute")
IMAGENETTE_TO_IMAGENET = (0, 217, 482, 491, 497, 566, 569, 571, 574, 701)

_CHECKPOINT_NAME = re.compile(r"^\d\d_.+\.pt$")


# --------------------------------------------------------------------------- inputs


def as_images(images) -> torch.Tensor:
    """A batch (N, 3, H, W) from a tensor, or from a dataset of (3, H, W) items.

    Datasets with an ``images`` attribute (:func:`colorlib.data.samples`,
    :func:`colorlib.data.synthetic`) are used as they are; others are stacked
    item by item (``(image, label)`` items lose their label).
    """
    if isinstance(images, torch.Tensor):
        batch = images
    elif isinstance(getattr(images, "images", None), torch.Tensor):
        batch = images.images
    else:
        items = [images[i] for i in range(len(images))]
        items = [it[0] if isinstance(it, (tuple, list)) else it for it in items]
        if not items:
            raise ValueError("the held-out set is empty")
        batch = torch.stack(items)
    if batch.dim() != 4 or batch.shape[1] != 3:
        raise ValueError(f"expected RGB images of shape (N, 3, H, W), got {tuple(batch.shape)}; "
                         "a single image needs a batch dimension: image[None]")
    return batch.float()


def gray_baseline(rgb: torch.Tensor) -> torch.Tensor:
    """The "colorizer" that adds no colour: the gray image as RGB.

    Args:
        rgb: (N, 3, H, W) in [0, 1].

    Returns:
        (N, 3, H, W) in [0, 1] with R = G = B = :func:`colorlib.color.rgb_to_gray`,
        i.e. the same lightness L as ``rgb`` and a = b = 0.
    """
    return color.rgb_to_gray(as_images(rgb)).expand(-1, 3, -1, -1).contiguous()


# --------------------------------------------------------------------------- models


def _is_colorizer(model) -> bool:
    return isinstance(model, Colorizer)


def find_checkpoints(folder: str | os.PathLike | None = None, quick: bool = False,
                     exclude: Sequence[str] = ()) -> list[Path]:
    """The notebooks' checkpoint files ``NN_name.pt`` (or ``NN_name_quick.pt``) in ``folder``.

    Args:
        folder: default :func:`colorlib.runs_dir`.
        quick: the quick-mode files (``*_quick.pt``) instead of the full-mode ones.
        exclude: file-name prefixes to leave out (e.g. ``("09_",)``).

    Returns:
        Sorted paths (a missing folder gives ``[]``).
    """
    from .runtime import runs_dir

    folder = Path(folder) if folder is not None else runs_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if not _CHECKPOINT_NAME.match(path.name) or path.name.startswith(tuple(exclude)):
            continue
        if path.stem.endswith("_quick") == bool(quick):
            found.append(path)
    return found


def label_of(path: str | os.PathLike) -> str:
    """A model's row name from its checkpoint file: ``runs/00_tiny_quick.pt`` -> ``00_tiny``."""
    stem = Path(path).stem
    return stem[: -len("_quick")] if stem.endswith("_quick") else stem


def load_checkpoint_colorizers(folder: str | os.PathLike | None = None, quick: bool = False,
                               exclude: Sequence[str] = (), device: torch.device | str = "cpu",
                               verbose: bool = True) -> dict[str, Colorizer]:
    """Every colorizer the notebooks saved in ``folder``, rebuilt from its checkpoint.

    Files from :func:`colorlib.train.fit` and :func:`colorlib.train.fit_gan` (the
    GAN's generator) and from :func:`colorlib.checkpoint.save_model` all work: they
    store the model's name and arguments.  Files that are not colorizers (the
    MNIST classifier, a discriminator) or cannot be read are skipped, with a note
    when ``verbose``.

    Returns:
        ``{label: model}`` (label as in :func:`label_of`), models in eval mode on ``device``.
    """
    found: dict[str, Colorizer] = {}
    for path in find_checkpoints(folder, quick, exclude):
        try:
            model = ckpt.load_model(path, map_location=device)
        except ckpt.CheckpointError as e:
            if verbose:
                print(f"skipped {path.name}: {str(e).split('. ')[0]}")
            continue
        if not _is_colorizer(model):
            if verbose:
                print(f"skipped {path.name}: {type(model).__name__} is not a colorizer")
            continue
        found[label_of(path)] = model
        if verbose:
            print(f"loaded {label_of(path)} ({model.config['name']}) from {path}")
    return found


def load_or_train(name: str, checkpoint: str | os.PathLike, train_set, val_set=None, *,
                  kwargs: Mapping | None = None, epochs: int = 5, batch_size: int = 16,
                  lr: float = 1e-3, device: torch.device | str | None = None, seed: int = 0,
                  verbose: bool = True, **fit_kwargs) -> Colorizer:
    """The course model ``name`` from ``checkpoint``, or trained now (and saved there).

    When ``checkpoint`` exists it is loaded (through :func:`colorlib.train.fit` with
    ``resume=True``: a finished run returns at once, an interrupted one continues);
    otherwise the model is built with ``kwargs`` and trained for ``epochs`` epochs on
    ``train_set`` with :func:`colorlib.train.fit` (mean squared error in the
    model's own colour space), saying so.

    Args:
        name: a registry name (:func:`colorlib.models.available`).
        checkpoint: the ``.pt`` file to load, or to write while training.
        train_set, val_set: datasets of RGB images (3, H, W) in [0, 1]; H and W
            must suit the model (multiples of its stride).
        kwargs: the model's arguments, as for :func:`colorlib.models.build`.
        epochs, batch_size, lr, device, seed: training settings.
        fit_kwargs: passed on to :func:`colorlib.train.fit` (``loss_fn``, ...).

    Returns:
        The model, in eval mode, on the CPU.

    Raises:
        colorlib.checkpoint.CheckpointError: ``checkpoint`` was made for another
            model or other arguments.
    """
    from . import models
    from .train import fit

    path = Path(checkpoint)
    torch.manual_seed(seed)
    model = models.build(name, **dict(kwargs or {}))
    if not _is_colorizer(model):
        raise ValueError(f"{name!r} is not a colorizer (it has no .colorize); choose one of the "
                         "course's colorizers")
    if verbose and not path.exists():
        print(f"{name}: no checkpoint at {path}, so training it now: {epochs} epochs "
              f"on {len(train_set)} images")
    train_loader, val_loader = data.loaders(train_set, val_set, batch_size=batch_size,
                                            space=model.space, seed=seed)
    trained = []  # the epochs fit trains in this call (none for a finished checkpoint)
    user_hook = fit_kwargs.pop("on_epoch_end", None)

    def count(epoch: int, record: dict) -> None:
        trained.append(epoch)
        if user_hook is not None:
            user_hook(epoch, record)

    t0 = time.perf_counter()
    # fit reads the checkpoint (once) and refuses (CheckpointError) one holding another
    # model or other arguments before it loads or trains anything, file untouched
    history = fit(model, train_loader, val_loader, epochs=epochs, lr=lr, device=device,
                  seed=seed, checkpoint=path, resume=True, verbose=False,
                  on_epoch_end=count, **fit_kwargs)
    if verbose and not trained:
        print(f"{name}: loaded {path} ({len(history)} epochs trained)")
    elif verbose:
        print(f"{name}: trained epochs {trained[0]}-{trained[-1]} in "
              f"{time.perf_counter() - t0:.0f} s, saved to {path}")
    return model.cpu().eval()


# --------------------------------------------------------------------------- evaluation


def _row(rows: list[dict], key: str, name: str) -> dict:
    """The row whose ``key`` is ``name``; a KeyError that lists the rows otherwise."""
    for r in rows:
        if r[key] == name:
            return r
    raise KeyError(f"no row {name!r}; rows: {', '.join(r[key] for r in rows)}")


def colorize_all(models: Mapping[str, nn.Module], gray: torch.Tensor, batch_size: int = 16,
                 device: torch.device | str | None = None,
                 on_error: str = "raise") -> dict[str, torch.Tensor]:
    """Colorize ``gray`` with every model through the common call ``model.colorize``.

    Args:
        models: ``{name: colorizer}``; each is put in eval mode (and on ``device``).
        gray: (N, 1, H, W) in [0, 1].
        batch_size: images per call.
        device: where the models run (default: where each model already is).
        on_error: ``"raise"``, or ``"skip"`` to leave out (with a printed note) a model
            that cannot colorize these images (e.g. one built for another size).

    Returns:
        ``{name: rgb}`` with rgb (N, 3, H, W) float32 in [0, 1] on the CPU.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if gray.dim() != 4 or gray.shape[1] != 1:
        raise ValueError(f"gray must have shape (N, 1, H, W), got {tuple(gray.shape)}")
    out = {}
    for name, model in models.items():
        if not hasattr(model, "colorize"):
            raise TypeError(f"model {name!r} ({type(model).__name__}) has no .colorize(gray); "
                            "every course colorizer subclasses colorlib.models.Colorizer")
        if device is not None:
            model.to(device)
        model.eval()
        try:
            out[name] = torch.cat([model.colorize(g).float().cpu()
                                   for g in gray.split(batch_size)])
        except (ValueError, RuntimeError) as e:
            if on_error == "raise":
                raise
            print(f"skipped {name}: it cannot colorize {tuple(gray.shape[-2:])} images "
                  f"({str(e).splitlines()[0][:160]})")
    return out


def score(pred: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image metrics of RGB predictions: ``{metric: (N,) tensor}`` for :data:`METRICS`."""
    return {
        "psnr": metrics.psnr(pred, truth),
        "ssim": metrics.ssim(pred, truth),
        "ciede2000": metrics.ciede2000(pred, truth),
        "colourfulness": metrics.colourfulness(pred),
    }


@dataclass
class EvaluationTable:
    """The scores of several colorizers on one held-out set.

    Attributes:
        rows: one dict per version: ``{"model": name, "psnr", "ssim", "ciede2000",
            "colourfulness"}`` (means over the images); the first row is the
            gray baseline (:data:`GRAY`), the last the true colours (:data:`TRUTH`,
            whose only meaningful score is colourfulness; the others are None).
        per_image: ``{name: {metric: (N,) tensor}}``.
        outputs: ``{name: (N, 3, H, W)}`` every version's images, truth included.
    """

    rows: list[dict] = field(default_factory=list)
    per_image: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [r["model"] for r in self.rows]

    @property
    def models(self) -> list[str]:
        """The rows that are colorizers (neither the gray baseline nor the truth)."""
        return [n for n in self.names if n not in (GRAY, TRUTH)]

    def __getitem__(self, name: str) -> dict:
        return _row(self.rows, "model", name)

    def __len__(self) -> int:
        return len(self.rows)

    def best(self, metric: str) -> str:
        """The colorizer with the best mean ``metric`` (psnr, ssim or ciede2000)."""
        if metric not in METRICS or METRICS[metric][1] is None:
            raise ValueError(f"'best' needs a metric with a direction: psnr, ssim or ciede2000; "
                             f"got {metric!r}")
        if not self.models:
            raise ValueError("the table has no colorizers, only the baseline")
        sign = 1 if METRICS[metric][1] else -1
        return max(self.models, key=lambda n: sign * self[n][metric])

    def to_markdown(self, digits: int = 2) -> str:
        """The table as Markdown, one row per version; best value per column in bold."""
        head = "| model | " + " | ".join(label for label, _ in METRICS.values()) + " |"
        lines = [head, "|---|" + "---:|" * len(METRICS)]
        best = {m: self[self.best(m)][m] for m, (_, up) in METRICS.items()
                if up is not None and self.models}
        for r in self.rows:
            cells = []
            for m in METRICS:
                v = r[m]
                text = "-" if v is None else f"{v:.{digits}f}"
                if v is not None and r["model"] not in (GRAY, TRUTH) and best.get(m) == v:
                    text = f"**{text}**"
                cells.append(text)
            lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_html(self, digits: int = 2) -> str:
        """The table as an HTML ``<table>`` (what Jupyter and the course book show)."""
        return _markdown_table_to_html(self.to_markdown(digits))

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        width = max(len(n) for n in self.names) if self.rows else 5
        head = f"{'model':{width}s}" + "".join(f"{label:>15s}" for label, _ in METRICS.values())
        lines = [head]
        for r in self.rows:
            cells = "".join(f"{'-':>15s}" if r[m] is None else f"{r[m]:15.2f}" for m in METRICS)
            lines.append(f"{r['model']:{width}s}{cells}")
        return "\n".join(lines)


def evaluate_colorizers(models: Mapping[str, nn.Module], rgb, batch_size: int = 16,
                        device: torch.device | str | None = None,
                        on_error: str = "raise") -> EvaluationTable:
    """Colorize one held-out set with every model and score each against the true colours.

    Each image's gray version (:func:`colorlib.color.rgb_to_gray`) goes through
    ``model.colorize``; the result is compared with the true image by PSNR,
    SSIM and mean CIEDE2000 (:mod:`colorlib.metrics`), and its colourfulness is
    measured.  The gray input itself is scored as the baseline.

    Args:
        models: ``{name: colorizer}``.
        rgb: the held-out images, (N, 3, H, W) in [0, 1] (or a dataset of them);
            H and W at least 7 (SSIM's window).
        batch_size, device, on_error: as in :func:`colorize_all`.

    Returns:
        :class:`EvaluationTable` with rows gray input, the models (in the given order),
        true colours.
    """
    truth = as_images(rgb).cpu()
    gray = color.rgb_to_gray(truth)
    outputs = {GRAY: gray.expand(-1, 3, -1, -1).contiguous()}
    outputs.update(colorize_all(models, gray, batch_size, device, on_error))
    table = EvaluationTable()
    for name, pred in outputs.items():
        scores = score(pred, truth)
        table.per_image[name] = scores
        table.rows.append({"model": name, **{m: float(v.mean()) for m, v in scores.items()}})
    truth_colour = metrics.colourfulness(truth)
    table.per_image[TRUTH] = {"colourfulness": truth_colour}
    table.rows.append({"model": TRUTH, "psnr": None, "ssim": None, "ciede2000": None,
                       "colourfulness": float(truth_colour.mean())})
    table.outputs = {**outputs, TRUTH: truth}
    return table


def show_grid(table: EvaluationTable, max_images: int = 6, size: float = 1.5,
              title: str | None = None):
    """The same images across every version: one row each (gray, the models, truth)."""
    from . import viz

    return viz.show_images(table.outputs, max_images=max_images, size=size, title=title)


def plot_metrics(table: EvaluationTable, metrics_shown: Sequence[str] = tuple(METRICS)):
    """Bar charts, one panel per metric, one bar per version, with 95 % error bars.

    Error bars are 1.96 standard errors of the mean over the images (they show
    how much of a difference is noise from this particular set of images).  The
    colourfulness panel has the true colours as a dashed line.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics_shown), figsize=(3.3 * len(metrics_shown), 3.2),
                             squeeze=False)
    names = [n for n in table.names if n != TRUTH]
    for ax, m in zip(axes[0], metrics_shown):
        label, up = METRICS[m]
        means, errors = [], []
        for n in names:
            v = table.per_image[n][m].float()
            means.append(float(v.mean()))
            errors.append(1.96 * float(v.std()) / math.sqrt(len(v)) if len(v) > 1 else 0.0)
        colours = ["0.6" if n == GRAY else f"C{i}" for i, n in enumerate(names)]
        ax.bar(range(len(names)), means, yerr=errors, color=colours, capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
        direction = {True: " (higher is better)", False: " (lower is better)", None: ""}[up]
        ax.set_title(label + direction, fontsize=9)
        if m == "colourfulness":
            ax.axhline(table[TRUTH]["colourfulness"], color="k", ls="--", lw=1,
                       label=TRUTH)
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- semantic test


def imagenet_classifier(pretrained: bool = False) -> nn.Module:
    """torchvision's VGG16 for the semantic test, frozen, in eval mode.

    Args:
        pretrained: load the ImageNet weights ``"vgg16_imagenet"`` through
            :mod:`colorlib.pretrained` (downloaded once, SHA-256 checked); otherwise
            random weights (quick mode: the numbers then say nothing about objects).

    Returns:
        a module mapping ImageNet-normalised RGB (B, 3, H, W) to logits (B, 1000).
    """
    import torchvision

    net = torchvision.models.vgg16(weights=None)
    if pretrained:
        from . import pretrained as weights

        ckpt.load_weights(net, weights.load_state_dict("vgg16_imagenet"))
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def classify(classifier: nn.Module, rgb: torch.Tensor, size: int | None = 224,
             batch_size: int = 32, device: torch.device | str | None = None) -> torch.Tensor:
    """ImageNet logits of RGB images: resized to ``size`` and ImageNet-normalised.

    Args:
        classifier: e.g. :func:`imagenet_classifier`.
        rgb: (N, 3, H, W) in [0, 1].
        size: side the images are resized to (bilinear, antialiased); None keeps them.
        batch_size: images per forward pass.
        device: where to run (default: the classifier's device).

    Returns:
        (N, 1000) float32 logits on the CPU.
    """
    from .pretrained import IMAGENET_MEAN, IMAGENET_STD

    param = next(classifier.parameters())
    dev = torch.device(device) if device is not None else param.device
    classifier.to(dev).eval()
    mean = torch.tensor(IMAGENET_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=dev).view(1, 3, 1, 1)
    out = []
    with torch.no_grad():
        for batch in as_images(rgb).split(batch_size):
            x = batch.to(dev)
            if size is not None and tuple(x.shape[-2:]) != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                  antialias=True)
            out.append(classifier((x - mean) / std).float().cpu())
    return torch.cat(out)


#: row name of the control in :func:`semantic_test`: each image against *another* image
CONTROL = "control: another image"


@dataclass
class SemanticTable:
    """Results of :func:`semantic_test`: one row per version of the images.

    Rows: ``{"version", "accuracy" (None without labels), "agreement"}``;
    ``agreement`` is the fraction of images whose top-1 class equals the
    true-colour image's.  The last row is the control (:data:`CONTROL`): each
    true-colour image compared with the *next* image's prediction, which shows
    how much agreement there is by chance.
    """

    rows: list[dict] = field(default_factory=list)
    predictions: dict[str, torch.Tensor] = field(default_factory=dict)

    def __getitem__(self, version: str) -> dict:
        return _row(self.rows, "version", version)

    def to_markdown(self) -> str:
        lines = ["| version | top-1 accuracy | agreement with true colours |", "|---|---:|---:|"]
        for r in self.rows:
            acc = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f} %"
            lines.append(f"| {r['version']} | {acc} | {100 * r['agreement']:.1f} % |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_html(self) -> str:
        return _markdown_table_to_html(self.to_markdown())

    def _repr_html_(self) -> str:
        return self.to_html()


def _markdown_table_to_html(markdown: str) -> str:
    """A simple Markdown table (header, alignment row, rows; ``**bold**`` cells) as HTML."""
    import html

    lines = [line.strip().strip("|").split("|") for line in markdown.splitlines()]
    header, align, rows = lines[0], lines[1], lines[2:]
    sides = ["right" if a.strip().endswith(":") else "left" for a in align]

    def cell(tag: str, text: str, side: str) -> str:
        text = text.strip()
        bold = text.startswith("**") and text.endswith("**")
        body = html.escape(text.strip("*"))
        return f'<{tag} style="text-align:{side}">{f"<b>{body}</b>" if bold else body}</{tag}>'

    out = ["<table>", "<thead><tr>" + "".join(cell("th", h, s) for h, s in zip(header, sides))
           + "</tr></thead>", "<tbody>"]
    out += ["<tr>" + "".join(cell("td", c, s) for c, s in zip(r, sides)) + "</tr>" for r in rows]
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def semantic_test(classifier: nn.Module, versions: Mapping[str, torch.Tensor],
                  labels: torch.Tensor | None = None, reference: str = TRUTH,
                  size: int | None = 224, batch_size: int = 32,
                  device: torch.device | str | None = None) -> SemanticTable:
    """Zhang et al.'s "semantic interpretability" test of colorizations.

    A classifier trained on colour photographs looks at several versions of the
    same images (gray, each model's colorization, the true colours).  If a
    colorization is good, the classifier recognises the objects about as well as
    in the true-colour image.  Zhang et al. report VGG16 top-1 accuracies on
    ImageNet of 52.7 % (gray), 56.0 % (their colorizations) and 68.3 % (true colour).

    Args:
        classifier: maps ImageNet-normalised RGB to (B, 1000) logits.
        versions: ``{name: rgb (N, 3, H, W)}``, every entry the same N images;
            must include ``reference``.
        labels: (N,) ImageNet class indices, or None (then only agreement).
        reference: the version the others are compared with (default the truth).
        size, batch_size, device: as in :func:`classify`.

    Returns:
        :class:`SemanticTable`.
    """
    if reference not in versions:
        raise ValueError(f"versions must include the reference {reference!r}; got "
                         f"{', '.join(versions)}")
    n = len(versions[reference])
    for name, rgb in versions.items():
        if len(rgb) != n:
            raise ValueError(f"every version needs the same {n} images; {name!r} has {len(rgb)}")
    if labels is not None and tuple(labels.shape) != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    predictions = {name: classify(classifier, rgb, size, batch_size, device).argmax(1)
                   for name, rgb in versions.items()}
    ref = predictions[reference]
    table = SemanticTable(predictions=predictions)
    for name, pred in predictions.items():
        acc = None if labels is None else float((pred == labels.cpu()).float().mean())
        table.rows.append({"version": name, "accuracy": acc,
                           "agreement": float((pred == ref).float().mean())})
    if n > 1:
        other = ref.roll(1)  # image i against image i - 1's prediction
        acc = None if labels is None else float((other == labels.cpu()).float().mean())
        table.rows.append({"version": CONTROL, "accuracy": acc,
                           "agreement": float((other == ref).float().mean())})
    return table


def imagenette_with_labels(split: str = "val", size: int = 224, n: int | None = 500,
                           seed: int = 0, root=None,
                           download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A random subset of Imagenette with ImageNet-1k labels, for :func:`semantic_test`.

    Args:
        split: ``"train"`` or ``"val"``.
        size: side of the square images (shorter side resized, centre crop).
        n: how many images (a seeded random subset), None for all.
        seed, root, download: see :func:`colorlib.data.imagenette`.

    Returns:
        ``(images (n, 3, size, size) in [0, 1], labels (n,) int64 ImageNet indices)``
        (Imagenette label i becomes :data:`IMAGENETTE_TO_IMAGENET` [i]).
    """
    from .data.datasets import pil_to_rgb

    dataset = data.imagenette(root=root, split=split, size=size, download=download)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    chosen = order[:n].tolist() if n is not None else list(range(len(dataset)))
    images, labels = [], []
    for i in chosen:
        pil, label = dataset.base[i]
        images.append(pil_to_rgb(pil, size))
        labels.append(IMAGENETTE_TO_IMAGENET[int(label)])
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)


__all__ = [
    "CONTROL", "GRAY", "IMAGENETTE_CLASSES", "IMAGENETTE_TO_IMAGENET", "METRICS", "TRUTH",
    "EvaluationTable", "SemanticTable", "as_images", "classify", "colorize_all",
    "evaluate_colorizers", "find_checkpoints", "gray_baseline", "imagenet_classifier",
    "imagenette_with_labels", "label_of", "load_checkpoint_colorizers", "load_or_train",
    "plot_metrics", "score", "semantic_test", "show_grid",
]
