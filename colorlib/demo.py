"""The end-to-end demo behind ``make course``: train a tiny colorizer on the bundled
photographs for about a minute and write a before/after figure.

It is the whole course in miniature: data (:func:`colorlib.data.samples`), a
model (:mod:`colorlib.models.tiny`), the training loop (:func:`colorlib.train.fit`),
metrics against the gray baseline, and a figure.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from . import checkpoint, color, data, metrics, models, viz
from .runtime import device as pick_device
from .train import fit

DEFAULT_EPOCHS = 12


def gray_baseline_scores(val_rgb: torch.Tensor) -> dict[str, float]:
    """Scores of the trivial colorizer that returns the gray input unchanged."""
    gray = color.rgb_to_gray(val_rgb).expand(-1, 3, -1, -1)
    return score(gray, val_rgb)


def score(pred: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """PSNR (dB), mean CIEDE2000 and colourfulness of RGB predictions (B, 3, H, W)."""
    return {
        "psnr": float(metrics.psnr(pred, truth).mean()),
        "ciede2000": float(metrics.ciede2000(pred, truth).mean()),
        "colourfulness": float(metrics.colourfulness(pred).mean()),
    }


def run_demo(out_dir: str | Path = "build/demo", epochs: int | None = None, size: int = 64,
             seed: int = 0) -> dict[str, dict[str, float]]:
    """Train the tiny colorizer on ``samples("train")``, evaluate on ``samples("val")``.

    Writes ``before_after.png``, ``history.png`` and ``tiny.pt`` into ``out_dir``
    and returns ``{"gray": scores, "model": scores, "truth": {...}}``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device()
    epochs = DEFAULT_EPOCHS if epochs is None else epochs
    train_set, val_set = data.samples("train", size=size, seed=seed), data.samples("val", size=size)
    train_loader, val_loader = data.loaders(train_set, val_set, batch_size=16, space="lab",
                                            seed=seed)
    torch.manual_seed(seed)
    model = models.build("tiny", width=16)
    print(f"training {type(model).__name__} ({models.count_parameters(model):,} parameters) "
          f"on {len(train_set)} crops for {epochs} epochs")
    history = fit(model, train_loader, val_loader, epochs=epochs, lr=2e-3, device=dev,
                  seed=seed, progress=False)

    val_rgb = torch.stack([val_set[i] for i in range(len(val_set))])
    gray = color.rgb_to_gray(val_rgb)
    pred = torch.cat([model.colorize(g.to(dev)).cpu() for g in gray.split(32)])
    results = {"gray": gray_baseline_scores(val_rgb), "model": score(pred, val_rgb),
               "truth": {"colourfulness": float(metrics.colourfulness(val_rgb).mean())}}

    viz.compare(gray, pred, val_rgb, max_images=8,
                title="validation photos the model never saw").savefig(out / "before_after.png",
                                                                        dpi=90)
    viz.plot_history(history).savefig(out / "history.png", dpi=90)
    checkpoint.save_model(out / "tiny.pt", model.cpu())

    print(f"\n{'':14s}{'PSNR dB':>9s}{'CIEDE2000':>11s}{'colourful':>11s}")
    for name in ("gray", "model"):
        r = results[name]
        print(f"{name + ' input' if name == 'gray' else 'tiny model':14s}{r['psnr']:9.2f}"
              f"{r['ciede2000']:11.2f}{r['colourfulness']:11.1f}")
    print(f"{'truth':14s}{'':9s}{'':11s}{results['truth']['colourfulness']:11.1f}")
    print(f"\nwrote {out / 'before_after.png'}, {out / 'history.png'}, {out / 'tiny.pt'} "
          f"in {time.perf_counter() - t0:.0f} s")
    print(f"try it on your own photo: python -m colorlib colorize photo.jpg out.png "
          f"--model {out / 'tiny.pt'}")
    return results
