"""Benchmark colorlib's Lab conversions against scikit-image on the CPU.

Builds a random sRGB batch (B, 3, S, S), converts it to Lab and back with
``colorlib.color`` (the whole batch in one call) and with ``skimage.color``
(image by image, channel-last numpy float32, as one would call it), and prints
the best time of ``--repeats`` runs for each (the two taking turns, after a
warm-up run each), the speed-up and the largest absolute difference between the
two results.

Run it from the repository root::

    python bench/bench_color.py                  # B=32, S=256, best of 5
    python bench/bench_color.py --batch 8 --size 512

The timings use the CPU and torch's default number of threads.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_timing import best_times  # bench/bench_timing.py
from skimage import color as skcolor

try:
    from colorlib import color
except ImportError:  # run from a checkout where colorlib is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from colorlib import color


def run(batch: int = 32, size: int = 256, repeats: int = 5) -> list[dict]:
    """Time rgb -> Lab and Lab -> rgb in colorlib and scikit-image.

    Args:
        batch: number of images B.
        size: height and width S of each image.
        repeats: timed runs per implementation, taking turns after one warm-up
            run each; the best is reported.

    Returns:
        One dict per operation with keys ``operation``, ``skimage_s``,
        ``colorlib_s`` (best seconds), ``speedup`` (skimage / colorlib) and
        ``max_abs_diff`` (largest difference between the two outputs).
    """
    if batch < 1 or size < 1 or repeats < 1:
        raise ValueError(f"batch, size and repeats must be >= 1, got {batch}, {size}, {repeats}")
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(batch, 3, size, size, generator=generator)
    lab = color.rgb_to_lab(rgb)
    rows = []
    cases = [
        ("rgb_to_lab", color.rgb_to_lab, skcolor.rgb2lab, rgb),
        ("lab_to_rgb", color.lab_to_rgb, skcolor.lab2rgb, lab),
    ]
    for name, ours, theirs, tensor in cases:
        images = [np.ascontiguousarray(im) for im in tensor.permute(0, 2, 3, 1).numpy()]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # lab2rgb's "negative Z" warning
            (ours_s, ours_out), (theirs_s, theirs_out) = best_times(
                [lambda f=ours, t=tensor: f(t),
                 lambda f=theirs, ims=images: np.stack([f(im) for im in ims])],
                repeats,
            )
        diff = np.abs(ours_out.permute(0, 2, 3, 1).numpy() - theirs_out).max()
        rows.append({
            "operation": name,
            "skimage_s": theirs_s,
            "colorlib_s": ours_s,
            "speedup": theirs_s / ours_s,
            "max_abs_diff": float(diff),
        })
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows of :func:`run` as a plain-text table."""
    lines = [f"{'operation':<12} {'skimage s':>10} {'colorlib s':>11} {'speed-up':>9} "
             f"{'max |diff|':>11}"]
    for r in rows:
        lines.append(f"{r['operation']:<12} {r['skimage_s']:>10.4f} {r['colorlib_s']:>11.4f} "
                     f"{r['speedup']:>8.1f}x {r['max_abs_diff']:>11.2e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--size", type=int, default=256, help="image height and width")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs, best is kept")
    args = parser.parse_args(argv)
    rows = run(args.batch, args.size, args.repeats)
    print(f"batch {args.batch} x 3 x {args.size} x {args.size}, float32, CPU, "
          f"{torch.get_num_threads()} torch threads, best of {args.repeats}")
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
