"""Command line: ``python -m colorlib colorize IN OUT --model CHECKPOINT``, ``demo``, ``train``.

Errors a user can fix (a missing file, a non-image, a bad checkpoint) print one
line starting with ``error:`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


def _colorize(args) -> int:
    import torch

    from .checkpoint import CheckpointError, load_model
    from .imageio import ImageFileError, gray_of, read_image, write_image

    try:
        image, is_gray = read_image(args.input)
    except ImageFileError as e:
        raise UsageError(str(e)) from e
    try:
        model = load_model(args.model)
    except (CheckpointError, FileNotFoundError, ValueError, KeyError) as e:
        raise UsageError(f"cannot load model {args.model}: {e}") from e
    dev = torch.device(args.device) if args.device else torch.device("cpu")
    model.to(dev)
    rgb = model.colorize(gray_of(image, is_gray)[None].to(dev))[0]
    try:
        out = write_image(args.output, rgb)
    except (ImageFileError, OSError) as e:
        raise UsageError(str(e)) from e
    print(f"wrote {out} ({rgb.shape[-1]}x{rgb.shape[-2]})")
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=args.out, epochs=args.epochs)
    return 0


def _train(args) -> int:
    from .cli_train import TrainUsageError, run_train

    try:
        return run_train(args)
    except TrainUsageError as e:
        raise UsageError(str(e)) from e


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m colorlib", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("colorize", help="colorize an image file with a trained model")
    p.add_argument("input", help="image file (RGB, RGBA, palette, gray or 16-bit)")
    p.add_argument("output", help="where to write the colorized image (.png, .jpg, ...)")
    p.add_argument("--model", required=True, help="model file written by colorlib (.pt)")
    p.add_argument("--device", default=None, help="cpu (default), cuda or mps")
    p.set_defaults(func=_colorize)
    p = sub.add_parser("demo", help="train a tiny colorizer on the bundled photos (a minute)")
    p.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: a minute's worth)")
    p.set_defaults(func=_demo)
    from .cli_train import add_train_arguments

    p = sub.add_parser("train", help="train a course model (with torchrun: on several GPUs)")
    add_train_arguments(p).set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
