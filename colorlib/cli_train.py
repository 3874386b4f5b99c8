"""``python -m colorlib train MODEL``: train a course model outside the notebooks.

The same code the notebooks run (:func:`colorlib.train.fit`, or
:func:`colorlib.train.fit_gan` for the GAN generators), from a terminal, so an
instructor can produce the notebooks' checkpoints on a GPU box::

    python -m colorlib train tiny --data samples --epochs 20 --out runs/tiny
    python -m colorlib train zhang --data imagenette --size 128 --batch-size 64 \\
        --epochs 30 --out runs/zhang
    python -m colorlib train fusion --model-kwargs tiny_embedding=true --out runs/fusion
    torchrun --nproc_per_node=4 -m colorlib train zhang --data imagenette --out runs/z4

Datasets (``--data``): ``samples`` (the bundled photographs, offline),
``synthetic`` (colours that are a function of lightness, offline), ``cifar10``,
``imagenette``, ``lfw`` (downloaded on first use into ``--data-root``), or
``folder:PATH`` (your own images; 10 % of them, at least one, are held out).

The output folder ``--out DIR`` receives

* ``checkpoint.pt``: the full training state after every epoch (model,
  optimizer, RNG states, history), written atomically;
* ``history.csv``: one row per epoch, appended as training goes;
* ``run.json``: the settings of the run (model, data, size, batch, lr, seed);
* ``model.pt``: the trained model at the end
  (:func:`colorlib.checkpoint.save_model`), for ``python -m colorlib colorize``
  and :func:`colorlib.checkpoint.load_model`.

**Resuming.**  A folder that already holds a run is never overwritten: without
``--resume`` the command stops with an error.  With ``--resume`` it continues the
run in ``DIR`` (after a crash, or with a larger ``--epochs`` to train longer); the
settings must be the same as the first time, and the final weights equal those
of an uninterrupted run.  ``--resume`` on an empty folder simply starts, so a job
script can always pass it.

**Several GPUs.**  Started by ``torchrun --nproc_per_node=N -m colorlib train
...`` the command trains with DistributedDataParallel (:mod:`colorlib.distributed`):
each of the N processes sees ``--batch-size / N`` images per step (the global
batch stays ``--batch-size``), only rank 0 writes files and prints.  The GAN
models (``pix2pix_unet``, ``cgan_generator``) train in one process only.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

from .files import append_csv_row, atomic_write

#: ``--data`` choices (``folder:PATH`` takes a path after the colon)
DATASETS = ("samples", "synthetic", "cifar10", "imagenette", "lfw", "folder:PATH")
#: GAN generators and the discriminator each is trained against
GAN_PARTNERS = {"pix2pix_unet": "patchgan", "cgan_generator": "cgan_discriminator"}
#: registry names that are not colorizers, with what to do instead
NOT_COLORIZERS = {
    "patchgan": "it is pix2pix's discriminator; train pix2pix_unet, which trains both",
    "cgan_discriminator": "it is the cGAN's discriminator; train cgan_generator, which trains "
                          "both",
    "mnist_cnn": "it is the MNIST digit classifier of notebook 01, not a colorizer",
}
#: keyword arguments filled in from ``--size`` when the builder takes them
SIZE_ARGUMENTS = ("image_size", "size")
CHECKPOINT, MODEL, HISTORY, RUN = "checkpoint.pt", "model.pt", "history.csv", "run.json"
#: settings that must not change when a run is resumed
RESUME_SETTINGS = ("model", "model_kwargs", "data", "size", "batch_size", "lr", "seed", "limit")


class TrainUsageError(Exception):
    """A mistake in the command line or the output folder; printed as one ``error:`` line."""


def _one_line(error: Exception) -> str:
    """An error's message on one line, for the command line's one-line errors."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


# --------------------------------------------------------------------------- arguments


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``train`` options to ``parser`` (the subparser of ``python -m colorlib``)."""
    parser.description = re.sub(r":\w+:`([^`]+)`", r"\1", __doc__.replace("``", ""))
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("model", help="registry name of the model, e.g. tiny, wallner_beta, "
                                      "zhang, pix2pix_unet (colorlib.models.available())")
    parser.add_argument("--data", default="samples",
                        help=f"dataset: {', '.join(DATASETS)} (default samples)")
    parser.add_argument("--epochs", type=int, default=10, help="total epochs (default 10)")
    parser.add_argument("--out", required=True, help="output folder for checkpoint.pt, "
                                                     "model.pt and history.csv")
    parser.add_argument("--model-kwargs", nargs="+", default=[], metavar="KWARGS",
                        help="model arguments: a JSON object or key=value items "
                             "(values read as JSON: width=32 efficient=true name='\"x\"')")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="global batch size, split over the processes (default 32)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default 1e-3; 2e-4 for GANs)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out (needed when it already has one)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default=None,
                        help="cuda, cpu or mps (default: the best available)")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only this many training images (quick checks)")
    parser.add_argument("--data-root", default=None,
                        help="where datasets are kept (default $COLORLIB_DATA or "
                             "~/.cache/colorlib/data)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download a dataset; fail if it is not on disk")
    parser.add_argument("--num-workers", type=int, default=0,
                        help="data-loading processes per training process (default 0)")
    parser.add_argument("--sync-batchnorm", action="store_true",
                        help="with torchrun on GPUs: BatchNorm statistics over all processes")
    return parser


def parse_model_kwargs(items: list[str]) -> dict:
    """``["width=32", "efficient=true"]`` or ``['{"width": 32}']`` -> ``{"width": 32, ...}``.

    Values are read as JSON when they parse (numbers, true/false, null, lists),
    otherwise kept as strings.
    """
    kwargs: dict = {}
    for item in items:
        text = item.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise TrainUsageError(f"--model-kwargs {item!r} is not valid JSON ({e.msg} at "
                                      f"character {e.pos})") from e
            if not isinstance(value, dict):
                raise TrainUsageError(f"--model-kwargs {item!r} must be a JSON object")
            kwargs.update(value)
            continue
        key, sep, raw = text.partition("=")
        if not sep or not key.strip().isidentifier():
            raise TrainUsageError(f"--model-kwargs {item!r} is neither key=value nor a JSON "
                                  "object; e.g. --model-kwargs width=32")
        try:
            kwargs[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            kwargs[key.strip()] = raw
    return kwargs


# --------------------------------------------------------------------------- data


def open_datasets(spec: str, size: int, root: str | None = None, limit: int | None = None,
                  download: bool = True):
    """``(train, val)`` RGB datasets for a ``--data`` value (items (3, size, size) in [0, 1])."""
    from torch.utils.data import Subset

    from . import data

    if spec == "samples":
        train = data.samples("train", size=size, n=limit)
        val = data.samples("val", size=size)
    elif spec == "synthetic":
        n = limit or 1024
        train = data.synthetic(n=n, size=size, seed=0)
        val = data.synthetic(n=max(16, n // 4), size=size, seed=1)
    elif spec == "cifar10":
        train = data.cifar10(root, train=True, download=download, size=size)
        val = data.cifar10(root, train=False, download=download, size=size)
    elif spec == "imagenette":
        train = data.imagenette(root, "train", size=size, download=download)
        val = data.imagenette(root, "val", size=size, download=download)
    elif spec == "lfw":
        train = data.lfw_people(root, "train", size=size, download=download)
        val = data.lfw_people(root, "test", size=size, download=download)
    elif spec.startswith("folder:"):
        import torch

        images = data.image_folder(spec[len("folder:"):], size=size)
        if len(images) < 2:
            raise TrainUsageError(f"{spec}: needs at least 2 images (one is held out for "
                                  f"validation), found {len(images)}")
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0)).tolist()
        n_val = max(1, len(images) // 10)
        train, val = Subset(images, order[n_val:]), Subset(images, order[:n_val])
    else:
        raise TrainUsageError(f"unknown dataset {spec!r}; choose one of {', '.join(DATASETS)}")
    if limit is not None and spec not in ("samples", "synthetic"):
        train = Subset(train, range(min(limit, len(train))))
        val = Subset(val, range(min(len(val), max(1, limit // 4))))
    return train, val


# --------------------------------------------------------------------------- model and loss


def build_model(name: str, kwargs: dict, size: int):
    """Build the registry model ``name``; fills ``image_size`` / ``size`` from ``--size``."""
    from . import models
    from .models import Colorizer

    choices = models.available()
    if name not in choices:
        raise TrainUsageError(f"unknown model {name!r}; choose one of {', '.join(choices)}")
    if name in NOT_COLORIZERS:
        raise TrainUsageError(f"{name} cannot be trained here: {NOT_COLORIZERS[name]}")
    kwargs = _with_size(name, kwargs, size)
    try:
        model = models.build(name, **kwargs)
    except TypeError as e:
        raise TrainUsageError(f"cannot build {name} with {kwargs}: {e}; it takes "
                              f"{', '.join(models.arguments(name)) or 'no arguments'}") from e
    except ValueError as e:
        raise TrainUsageError(f"cannot build {name} with {kwargs}: {e}") from e
    if not isinstance(model, Colorizer):
        raise TrainUsageError(f"{name} is not a colorizer, so it cannot be trained here")
    stride = getattr(model, "stride", 1)
    if size % stride:
        raise TrainUsageError(f"--size {size} is not a multiple of {stride}, which {name} "
                              f"needs; try --size {max(stride, round(size / stride) * stride)}")
    return model


def _with_size(name: str, kwargs: dict, size: int) -> dict:
    """``kwargs`` with ``--size`` filled in for the builder's ``image_size`` / ``size``."""
    from . import models

    params = models.arguments(name)
    for arg in SIZE_ARGUMENTS:
        if arg in params and arg not in kwargs:
            kwargs = {**kwargs, arg: size}
        elif arg in params and kwargs[arg] != size:
            raise TrainUsageError(f"{name} is built for {arg}={kwargs[arg]} but --size is "
                                  f"{size}; give the same value to both")
    return kwargs


def loss_for(model, train_pairs):
    """The training loss of ``model``: Zhang's rebalanced CE for ``zhang``, else MSE."""
    import torch.nn.functional as F

    if model.config["name"] == "zhang":
        from . import losses, quantize

        # class weights from the colour prior of (up to 512) training images, lambda = 0.5
        n = min(len(train_pairs), 512)
        prior = quantize.empirical_prior((train_pairs[i][1] for i in range(n)), model.bins)
        weights = quantize.rebalance_weights(prior, lam=0.5)
        return losses.RebalancedCrossEntropyLoss(model.bins, weights)
    return F.mse_loss


# --------------------------------------------------------------------------- output folder


class HistoryCSV:
    """``history.csv``: one row per epoch, appended (header only when the file is new)."""

    def __init__(self, path: Path):
        self.path = path

    def epochs(self) -> set[int]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return set()
        with open(self.path, newline="") as f:
            return {int(float(r["epoch"])) for r in csv.DictReader(f) if r.get("epoch")}

    def append(self, record: dict) -> None:
        fields = list(record)  # a new file's columns; an existing file keeps its own
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, newline="") as f:
                fields = next(csv.reader(f))
        append_csv_row(self.path, fields, [record.get(k, "") for k in fields])


def check_output_folder(out: Path, resume: bool, settings: dict) -> tuple[int, dict]:
    """Decide what to do with ``out``; returns ``(epochs done, the run's checkpoint)``.

    For a new run: ``(0, {})``.  Otherwise the checkpoint is the dict read from
    ``out/checkpoint.pt`` (read once here and passed along).

    Raises:
        TrainUsageError: ``out`` holds a run and ``--resume`` was not given, the
            run's settings differ from ``settings``, or the folder is inconsistent.
    """
    from . import checkpoint as ckpt

    if out.exists() and not out.is_dir():
        raise TrainUsageError(f"--out {out} is a file; give a folder")
    state_file = out / CHECKPOINT
    present = [name for name in (CHECKPOINT, MODEL, HISTORY) if (out / name).exists()]
    if not state_file.exists():  # a run.json alone: a run that stopped before its first epoch
        if present:
            raise TrainUsageError(
                f"{out} holds {', '.join(present)} but no {CHECKPOINT}, so it cannot be "
                "resumed and will not be overwritten; choose another --out")
        return 0, {}
    try:
        state = ckpt.load(state_file)
    except ckpt.CheckpointError as e:
        raise TrainUsageError(_one_line(e)) from e
    done = int(state.get("epoch", 0))
    if not resume:
        raise TrainUsageError(
            f"{out} already holds a training run ({done} epochs done); pass --resume to "
            "continue it, or choose another --out. Nothing was overwritten.")
    run_file = out / RUN
    if run_file.exists():
        saved = json.loads(run_file.read_text())
        changed = [f"{k}: {saved.get(k)!r} then, {settings.get(k)!r} now"
                   for k in RESUME_SETTINGS if saved.get(k) != settings.get(k)]
        if changed:
            raise TrainUsageError(
                f"cannot resume {out} with other settings ({'; '.join(changed)}); use the "
                "same ones, or choose another --out")
    config = state.get("config") or {}
    if config.get("name") != settings["model"]:
        raise TrainUsageError(f"{out} holds a {config.get('name')!r} run, not "
                              f"{settings['model']!r}; choose another --out")
    return done, state


# --------------------------------------------------------------------------- the command


def run_train(args: argparse.Namespace) -> int:
    """Run ``python -m colorlib train`` with parsed ``args``; returns the exit status (0)."""
    from . import distributed

    for name, value, low in (("--epochs", args.epochs, 0), ("--batch-size", args.batch_size, 1),
                             ("--size", args.size, 8), ("--num-workers", args.num_workers, 0)):
        if value < low:
            raise TrainUsageError(f"{name} must be at least {low}, got {value}")
    if args.limit is not None and args.limit < 1:
        raise TrainUsageError(f"--limit must be a positive number of images, got {args.limit}")
    if args.lr is not None and not args.lr > 0:
        raise TrainUsageError(f"--lr must be positive, got {args.lr}")
    kwargs = parse_model_kwargs(args.model_kwargs)
    try:
        env = distributed.setup(args.device)
    except (distributed.DistributedSetupError, RuntimeError) as e:
        raise TrainUsageError(str(e)) from e
    try:
        return _train(args, kwargs, env)
    finally:
        distributed.cleanup(env)


def _train(args, kwargs: dict, env) -> int:
    from torch.utils.data import DataLoader

    from . import checkpoint as ckpt
    from . import data, distributed, models
    from .runtime import seed_everything
    from .train import fit, fit_gan

    gan = args.model in GAN_PARTNERS
    if gan and env.distributed:
        raise TrainUsageError(f"{args.model} is a GAN generator, and GAN training runs in one "
                              "process; start it with python -m colorlib train (no torchrun)")
    try:
        distributed.per_rank_batch(args.batch_size, env.world_size)
    except ValueError as e:
        raise TrainUsageError(str(e)) from e
    lr = args.lr if args.lr is not None else (2e-4 if gan else 1e-3)
    out = Path(args.out)
    seed_everything(args.seed)
    model = build_model(args.model, kwargs, args.size)
    discriminator = _build_discriminator(args.model, args.size, model.space) if gan else None
    settings = {"model": args.model, "model_kwargs": model.config["kwargs"], "data": args.data,
                "size": args.size, "batch_size": args.batch_size, "lr": lr, "seed": args.seed,
                "limit": args.limit}
    done, state = check_output_folder(out, args.resume, settings)
    if not done and args.epochs == 0:
        raise TrainUsageError(f"--epochs 0 trains nothing and {out} holds no run to export; "
                              "give --epochs 1 or more")

    with distributed.main_first(env):  # rank 0 downloads, the others then read from disk
        try:
            train_set, val_set = open_datasets(args.data, args.size, args.data_root,
                                               args.limit, not args.no_download)
        except data.DataError as e:
            raise TrainUsageError(" ".join(str(e).split())) from e
    train_pairs = data.ColorizationPairs(train_set, model.space)
    val_pairs = data.ColorizationPairs(val_set, model.space)
    loader = distributed.train_loader(train_pairs, args.batch_size, env, seed=args.seed,
                                      start_epoch=done, num_workers=args.num_workers)
    val_loader = DataLoader(val_pairs, batch_size=distributed.per_rank_batch(
        args.batch_size, env.world_size), num_workers=args.num_workers)
    loss_fn = loss_for(model, train_pairs)
    try:
        net = model if gan else distributed.wrap(model, env, args.sync_batchnorm)
    except distributed.DistributedSetupError as e:
        raise TrainUsageError(str(e)) from e

    # everything is checked: only now is anything written (by rank 0, once all ranks got here)
    distributed.barrier(env)
    history_csv = HistoryCSV(out / HISTORY)
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not done:
            with atomic_write(out / RUN) as f:
                f.write(json.dumps(settings, indent=2) + "\n")
        n_params = models.count_parameters(model, trainable_only=True)
        share = (f" ({args.batch_size // env.world_size} per process x {env.world_size} "
                 "processes)" if env.distributed else "")
        print(f"training {args.model} ({n_params:,} trainable parameters) on {args.data}: "
              f"{len(train_set)} training / {len(val_set)} validation images at {args.size} px, "
              f"batch {args.batch_size}{share}, lr {lr:g}, {args.epochs} epochs on "
              f"{env.device} -> {out}", flush=True)
        _sync_history(history_csv, state.get("history", []))

    def log(epoch: int, record: dict) -> None:
        if env.is_main:
            history_csv.append(record)

    common = dict(epochs=args.epochs, device=env.device, checkpoint=out / CHECKPOINT,
                  resume=True, seed=args.seed, on_epoch_end=log, verbose=env.is_main,
                  progress=None if env.is_main else False)
    try:
        if gan:
            history = fit_gan(model, discriminator, loader, val_loader, lr=lr, **common)
        else:
            history = fit(net, loader, val_loader, loss_fn=loss_fn, lr=lr,
                          is_main=env.is_main, **common)
    except ckpt.CheckpointError as e:  # e.g. checkpoint.pt is from another configuration
        raise TrainUsageError(_one_line(e)) from e
    if env.is_main:  # fit's history is the one in the checkpoint it wrote last
        ckpt.save_model(out / MODEL, model, epochs=len(history), history=history.records,
                        settings=settings)
        print(f"wrote {out / MODEL} (model), {out / CHECKPOINT} (training state), "
              f"{out / HISTORY}", flush=True)
    if env.distributed:
        print(f"rank {env.rank} of {env.world_size} finished", flush=True)
    return 0


def _build_discriminator(name: str, size: int, space: str):
    """The GAN partner of generator ``name``, checked on one dummy (x, y) pair of ``size``."""
    import torch

    from . import models

    partner = GAN_PARTNERS[name]
    net = models.build(partner, **_with_size(partner, {}, size))
    x, y = torch.zeros(2, 1, size, size), torch.zeros(2, 3 if space == "rgb" else 2, size, size)
    try:
        with torch.no_grad():
            net.eval()(x, y)
    except (RuntimeError, ValueError) as e:
        raise TrainUsageError(f"{partner} (the discriminator {name} trains against) cannot "
                              f"judge {size} px images ({str(e).splitlines()[0]}); use a larger "
                              "--size") from e
    return net.train()


def _sync_history(history_csv: HistoryCSV, records: list[dict]) -> None:
    """Append the checkpoint's epoch ``records`` history.csv lacks (a crash between the two)."""
    have = history_csv.epochs() if records else set()
    for record in records:
        if int(record["epoch"]) not in have:
            history_csv.append(dict(record))


__all__ = ["DATASETS", "TrainUsageError", "add_train_arguments", "build_model",
           "check_output_folder", "loss_for", "open_datasets", "parse_model_kwargs",
           "run_train"]
