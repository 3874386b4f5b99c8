"""python -m colorlib train: trains, logs, resumes exactly, never overwrites, clear errors."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorlib import checkpoint, cli_train, models
from colorlib.__main__ import main
from colorlib.cli_train import TrainUsageError, parse_model_kwargs

BASE = ["--data", "synthetic", "--limit", "16", "--size", "16", "--batch-size", "8"]


def train(out, *extra, model="tiny", epochs=1):
    return main(["train", model, *BASE, "--epochs", str(epochs), "--out", str(out),
                 "--model-kwargs", "width=4", *extra] if model == "tiny" else
                ["train", model, *BASE, "--epochs", str(epochs), "--out", str(out), *extra])


def weights(path):
    return checkpoint.load(path)["model"]


def history_rows(out):
    with open(out / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_parse_model_kwargs():
    assert parse_model_kwargs(["width=32", "efficient=true", "decoder=wallner"]) == \
        {"width": 32, "efficient": True, "decoder": "wallner"}
    assert parse_model_kwargs(['{"width": 8, "T": 0.5}']) == {"width": 8, "T": 0.5}
    for bad in (["width"], ["{not json"], ["[1, 2]"], ["2x=3"]):
        with pytest.raises(TrainUsageError, match="--model-kwargs"):
            parse_model_kwargs(bad)


def test_trains_and_writes_model_checkpoint_and_history(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, epochs=2) == 0
    assert {p.name for p in out.iterdir()} == {"checkpoint.pt", "model.pt", "history.csv",
                                               "run.json"}
    model = checkpoint.load_model(out / "model.pt")
    assert model.config == {"name": "tiny", "kwargs": {"width": 4}}
    assert model.colorize(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    rows = history_rows(out)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    # the CSV log holds exactly the losses fit measured (and model.pt records)
    recorded = checkpoint.load(out / "model.pt")["history"]
    for row, record in zip(rows, recorded, strict=True):
        for key in ("train_loss", "val_loss"):
            assert float(row[key]) == pytest.approx(record[key], rel=1e-12)
    assert json.loads((out / "run.json").read_text())["batch_size"] == 8
    assert "training tiny" in capsys.readouterr().out


def test_never_overwrites_and_resume_is_exact(tmp_path, capsys):
    once = tmp_path / "once"
    assert train(once, epochs=2) == 0
    split = tmp_path / "split"
    assert train(split, epochs=1) == 0
    before = {p.name: p.read_bytes() for p in split.iterdir()}
    capsys.readouterr()
    assert train(split, epochs=2) == 2  # no --resume: refuse
    assert "already holds a training run (1 epochs done); pass --resume" in \
        one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in split.iterdir()} == before
    assert train(split, "--resume", epochs=2) == 0
    a, b = weights(once / "checkpoint.pt"), weights(split / "checkpoint.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["epoch"] for r in history_rows(split)] == ["1", "2"]


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out) == 0
    capsys.readouterr()
    assert main(["train", "tiny", "--data", "synthetic", "--limit", "16", "--size", "16",
                 "--batch-size", "4", "--model-kwargs", "width=4", "--epochs", "2",
                 "--out", str(out), "--resume"]) == 2
    assert "batch_size: 8 then, 4 now" in one_error_line(capsys)


def test_resume_of_another_model_without_run_json_is_one_error_line(tmp_path, capsys):
    # without run.json only fit itself can tell that the checkpoint is of another model
    out = tmp_path / "run"
    assert train(out) == 0
    (out / "run.json").unlink()
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "tiny", *BASE, "--model-kwargs", "width=8", "--epochs", "2",
                 "--out", str(out), "--resume"]) == 2
    line = one_error_line(capsys)
    assert "width" in line and str(out) in line
    assert (out / "checkpoint.pt").read_bytes() == before


def test_resume_on_an_empty_folder_starts_and_history_gaps_are_filled(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--resume") == 0
    rows = (out / "history.csv").read_text().splitlines()
    (out / "history.csv").write_text(rows[0] + "\n")  # as if the run died after its checkpoint
    assert train(out, "--resume", epochs=2) == 0
    assert [r["epoch"] for r in history_rows(out)] == ["1", "2"]


def test_resume_reads_the_checkpoint_once_here_and_once_in_fit(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert train(out) == 0
    reads = []
    real_load = checkpoint.load

    def counting_load(path, *args, **kwargs):
        reads.append(Path(path).name)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "load", counting_load)
    assert train(out, "--resume", epochs=2) == 0
    assert reads == ["checkpoint.pt", "checkpoint.pt"]  # the folder check, then fit's resume
    saved = real_load(out / "model.pt")
    assert saved["epochs"] == 2 and [r["epoch"] for r in saved["history"]] == [1, 2]


@pytest.mark.parametrize("generator,size,kwargs", [("cgan_generator", 32, {"size": 32}),
                                                   ("pix2pix_unet", 32, {})])
def test_discriminator_gets_the_size_when_its_builder_takes_one(generator, size, kwargs):
    net = cli_train._build_discriminator(generator, size, "yuv")
    assert net.config == {"name": cli_train.GAN_PARTNERS[generator], "kwargs": kwargs}


@pytest.mark.parametrize("argv,message", [
    (["train", "nosuch", "--out", "x"], "unknown model 'nosuch'; choose one of"),
    (["train", "patchgan", "--out", "x"], "train pix2pix_unet"),
    (["train", "mnist_cnn", "--out", "x"], "not a colorizer"),
    (["train", "tiny", "--size", "20", "--out", "x"], "--size 20 is not a multiple of 8"),
    (["train", "tiny", "--data", "mnist", "--out", "x"], "unknown dataset 'mnist'"),
    (["train", "tiny", "--model-kwargs", "depth=3", "--out", "x"], "cannot build tiny"),
    (["train", "tiny", "--epochs", "-1", "--out", "x"], "--epochs must be at least 0"),
    (["train", "tiny", "--epochs", "0", "--out", "x"], "--epochs 0 trains nothing"),
    (["train", "tiny", "--data", "folder:/nonexistent/photos", "--out", "x"], "does not exist"),
    (["train", "tiny", "--data", "cifar10", "--no-download", "--data-root", "{tmp}",
      "--out", "x"], "CIFAR-10 dataset not found"),
])
def test_user_errors_are_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "x").exists()  # nothing written before every check passed


def test_folder_dataset(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    out = tmp_path / "run"
    assert main(["train", "wallner_alpha", "--data", f"folder:{photos}", "--size", "16",
                 "--batch-size", "4", "--epochs", "1", "--out", str(out)]) == 0
    assert isinstance(checkpoint.load_model(out / "model.pt"), models.Colorizer)


def test_gan_generator_trains_with_its_discriminator(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small = ["--data", "synthetic", "--limit", "8", "--batch-size", "4", "--epochs", "1",
             "--model-kwargs", "depth=4", "base=4"]
    assert main(["train", "pix2pix_unet", *small, "--size", "16", "--out", "x"]) == 2
    assert "patchgan (the discriminator pix2pix_unet trains against) cannot judge 16 px" in \
        one_error_line(capsys)
    out = tmp_path / "gan"
    assert main(["train", "pix2pix_unet", *small, "--size", "32", "--out", str(out)]) == 0
    state = checkpoint.load(out / "checkpoint.pt")
    assert state["format"] == "colorlib-gan-1" and state["discriminator_config"]["name"] == \
        "patchgan"
    assert "d_loss" in history_rows(out)[0]
    assert checkpoint.load_model(out / "model.pt").config["name"] == "pix2pix_unet"


@pytest.mark.slow
def test_zhang_trains_with_the_rebalanced_loss(tmp_path):
    out = tmp_path / "zhang"
    assert main(["train", "zhang", "--data", "synthetic", "--limit", "4", "--size", "16",
                 "--batch-size", "4", "--epochs", "1", "--out", str(out)]) == 0
    loss = float(history_rows(out)[0]["train_loss"])
    assert 0 < loss < 2 * np.log(313)  # a cross-entropy over 313 bins, not an MSE on ab
