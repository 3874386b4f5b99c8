"""colorlib.checkpoint: atomic saves, safe loads, clear errors, exact random states."""

import os
import random

import numpy as np
import pytest
import torch

from colorlib import checkpoint as ckpt
from colorlib import models
from colorlib.checkpoint import CheckpointError
from colorlib.files import append_csv_row, append_synced, atomic_write


class Note:
    """A plain Python object: fine for pickle, refused by weights_only loading."""


def tiny(width=8, seed=0):
    torch.manual_seed(seed)
    return models.build("tiny", width=width)


def params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_params(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def nested_state():
    return {
        "epoch": 3,
        "lr": 1e-3,
        "done": False,
        "note": None,
        "name": "run-1",
        "weights": {"w": torch.randn(3, 4), "b": torch.arange(5)},
        "history": [{"loss": 0.5, "mae": 1.5}, {"loss": 0.25, "mae": 1.0}],
        "betas": (0.9, 0.999),
        "rng": ckpt.rng_state(),
    }


def assert_same(a, b):
    """Structural equality for nested states with tensors (an independent walk)."""
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


def test_nested_state_with_rng_round_trips_under_weights_only(tmp_path):
    state = nested_state()
    path = ckpt.save(tmp_path / "deep" / "er" / "run.pt", state)
    assert path == tmp_path / "deep" / "er" / "run.pt"
    assert_same(ckpt.load(path), state)
    # an independent reader: plain torch.load with weights_only must accept the file
    assert_same(torch.load(path, weights_only=True), state)


@pytest.mark.skipif(not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"),
                    reason="torch < 2.5 cannot scan a file for unsafe objects")
def test_to_safe_converts_numpy_recursively(tmp_path):
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(0.25),
             "i": np.int64(7), "b": np.bool_(True), "l": [np.int32(1), (np.uint8(2),)]}
    with pytest.raises(TypeError, match="to_safe"):
        ckpt.save(tmp_path / "raw.pt", state)  # refused before anything is written
    assert list(tmp_path.iterdir()) == []
    safe = ckpt.to_safe(state)
    assert isinstance(safe["a"], torch.Tensor) and safe["a"].dtype == torch.float32
    assert safe["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(safe["s"]) is float and type(safe["i"]) is int and type(safe["b"]) is bool
    assert safe["l"] == [1, (2,)] and type(safe["l"][0]) is int
    back = ckpt.load(ckpt.save(tmp_path / "safe.pt", safe))
    assert torch.equal(back["a"], torch.from_numpy(state["a"])) and back["s"] == 0.25


def draws():
    return ([random.random() for _ in range(3)] + [random.gauss(0, 1)],
            np.random.standard_normal(3).tolist(),
            torch.randn(3).tolist())


def test_set_rng_state_reproduces_random_numbers(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    random.gauss(0, 1)  # leave a cached gaussian in Python's and NumPy's state
    np.random.standard_normal()
    path = ckpt.save(tmp_path / "rng.pt", {"rng": ckpt.rng_state()})
    expected = draws()
    draws()  # move every generator on
    ckpt.set_rng_state(ckpt.load(path)["rng"])
    assert draws() == expected


def test_set_rng_state_rejects_something_else():
    with pytest.raises(ValueError, match="rng_state"):
        ckpt.set_rng_state({"torch": torch.get_rng_state()})


def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = ckpt.save(tmp_path / "run.pt", {"epoch": 1, "w": torch.ones(100)})
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save(path, {"epoch": 2, "w": torch.zeros(100)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    path = ckpt.save(tmp_path / "run.pt", {"epoch": 1})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ckpt.save(path, {"epoch": 2}, overwrite=False)
    assert ckpt.load(path)["epoch"] == 1
    ckpt.save(path, {"epoch": 2})  # the default replaces it
    assert ckpt.load(path)["epoch"] == 2


def test_missing_file_names_the_path_and_how_to_make_one(tmp_path):
    path = tmp_path / "nowhere.pt"
    with pytest.raises(CheckpointError, match="no checkpoint") as info:
        ckpt.load(path)
    assert str(path) in str(info.value) and "fit" in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_truncated_file_is_reported_and_left_untouched(tmp_path):
    good = ckpt.save(tmp_path / "good.pt", {"w": torch.randn(1000)}).read_bytes()
    path = tmp_path / "copy.pt"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="incomplete") as info:
        ckpt.load(path)
    assert str(path) in str(info.value) and "untouched" in str(info.value)
    assert info.value.__cause__ is not None
    assert path.read_bytes() == good[: len(good) // 2]


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.touch()
    with pytest.raises(CheckpointError, match="empty") as info:
        ckpt.load(path)
    assert str(path) in str(info.value) and path.exists()


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are my notes, not a model\n")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        ckpt.load(path)
    assert path.read_text() == "these are my notes, not a model\n"


def test_pickle_with_arbitrary_objects_is_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"note": Note()}, path)  # any class outside torch's allow-list is refused
    with pytest.raises(CheckpointError, match="weights_only"):
        ckpt.load(path)


def test_sha256_is_checked_before_loading(tmp_path):
    path = ckpt.save(tmp_path / "run.pt", {"w": torch.arange(10)})
    before = path.read_bytes()
    import hashlib

    digest = hashlib.sha256(before).hexdigest()  # independent reference
    assert ckpt.sha256sum(path) == digest
    assert torch.equal(ckpt.load(path, sha256=digest)["w"], torch.arange(10))
    assert torch.equal(ckpt.load(path, sha256=digest[:8].upper())["w"], torch.arange(10))
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:12]
    with pytest.raises(CheckpointError, match="SHA-256") as info:
        ckpt.load(path, sha256=wrong)
    assert wrong in str(info.value) and digest in str(info.value)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="hexadecimal"):
        ckpt.load(path, sha256="abc")


def test_wrong_architecture_names_the_mismatch_and_changes_nothing(tmp_path):
    small, big = tiny(width=8), tiny(width=16, seed=1)
    before = params(big)
    with pytest.raises(CheckpointError, match="shape mismatch") as info:
        ckpt.load_weights(big, small.state_dict())
    message = str(info.value)
    key = next(iter(big.state_dict()))  # the first mismatch in the model's own order
    assert f"{key}: checkpoint {tuple(small.state_dict()[key].shape)} vs model " \
           f"{tuple(big.state_dict()[key].shape)}" in message
    assert "and" in message and "more" in message  # more than five mismatches: the list is cut
    assert "another model" in message
    assert same_params(params(big), before)


def test_missing_and_unexpected_keys(tmp_path):
    model = tiny()
    state = params(model)
    removed = state.pop("head.bias")
    state["extra.weight"] = torch.zeros(1)
    target = tiny(seed=5)
    before = params(target)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_weights(target, state)
    assert "1 missing key (head.bias)" in str(info.value)
    assert "1 unexpected key (extra.weight)" in str(info.value)
    assert same_params(params(target), before)
    # strict=False loads what fits and leaves the rest
    state.pop("extra.weight")
    ckpt.load_weights(target, state, strict=False)
    assert torch.equal(target.head.weight, model.head.weight)
    assert torch.equal(target.head.bias, before["head.bias"]) and not torch.equal(removed,
                                                                                  target.head.bias)


def test_save_model_load_model_gives_identical_outputs(tmp_path):
    model = tiny(width=8).eval()
    with torch.no_grad():  # give BatchNorm non-default running statistics
        model.train()(torch.rand(2, 1, 16, 16) * 100)
    model.eval()
    path = ckpt.save_model(tmp_path / "tiny.pt", model, epochs=4, score=np.float32(0.5))
    loaded = ckpt.load_model(path)
    assert not loaded.training and loaded.config == {"name": "tiny", "kwargs": {"width": 8}}
    x = torch.rand(2, 1, 16, 16) * 100
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "colorlib-model-1" and raw["epochs"] == 4 and raw["score"] == 0.5


def test_load_model_accepts_a_training_checkpoint(tmp_path):
    model = tiny(width=4)
    path = ckpt.save(tmp_path / "run.pt", {"format": "colorlib-train-1", "config": model.config,
                                           "model": model.state_dict(), "epoch": 2})
    loaded = ckpt.load_model(path)
    assert same_params(params(loaded), params(model))


def test_load_model_rejects_a_file_without_config(tmp_path):
    path = ckpt.save(tmp_path / "weights.pt", {"model": tiny().state_dict()})
    with pytest.raises(CheckpointError, match="not a colorlib model file"):
        ckpt.load_model(path)
    plain = tiny()
    del plain.config
    with pytest.raises(ValueError, match="models.build"):
        ckpt.save_model(tmp_path / "plain.pt", plain)


def test_saved_file_keeps_usual_permissions(tmp_path):
    path = ckpt.save(tmp_path / "run.pt", {"epoch": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------------------- colorlib.files


def test_atomic_write_replaces_whole_files_or_nothing(tmp_path):
    path = tmp_path / "sub" / "run.json"
    with atomic_write(path) as f:
        f.write("héllo\n")
    assert path.read_bytes() == "héllo\n".encode()
    path.chmod(0o640)
    with pytest.raises(RuntimeError, match="stopped"):
        with atomic_write(path) as f:
            f.write("half")
            raise RuntimeError("stopped")
    assert path.read_bytes() == "héllo\n".encode()
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]  # no temporary left
    with atomic_write(path, "wb") as f:
        f.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01" and path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'.*append_synced"):
        with atomic_write(path, "a"):
            pass


def test_append_synced_adds_to_the_end_and_keeps_line_endings(tmp_path):
    path = tmp_path / "log.csv"
    append_synced(path, "a,b\r\n")
    append_synced(path, "1,2\r\n")
    assert path.read_bytes() == b"a,b\r\n1,2\r\n"


def test_append_csv_row_writes_the_header_only_into_a_new_file(tmp_path):
    path = tmp_path / "history.csv"
    append_csv_row(path, ["epoch", "loss"], [1, 0.5])
    append_csv_row(path, ["epoch", "loss"], [2, "a, b"])  # quoted: it holds the separator
    assert path.read_bytes() == b'epoch,loss\r\n1,0.5\r\n2,"a, b"\r\n'
    unix = tmp_path / "study.csv"
    unix.write_text("")  # empty counts as new
    append_csv_row(unix, ["x"], [7], lineterminator="\n")
    assert unix.read_bytes() == b"x\n7\n"
