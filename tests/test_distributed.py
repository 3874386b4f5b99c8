"""Distributed training: torchrun with two CPU processes (gloo) equals one process.

The equality test trains ``wallner_alpha`` because it has no BatchNorm: with
BatchNorm each process would normalise with the statistics of its own half
batch, which legitimately differ from those of the whole batch a single
process sees (``--sync-batchnorm`` fixes that on GPUs).  Without BatchNorm, DDP's
averaged gradient of two half batches is the gradient of the whole batch, so
the two runs must agree up to floating-point summation order.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from colorlib import checkpoint, distributed
from colorlib.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["train", "wallner_alpha", "--data", "synthetic", "--limit", "64", "--size", "16",
         "--batch-size", "16", "--epochs", "2", "--seed", "0"]
#: measured max |w_ddp - w_single| over all weights: 1.3e-7 (weights up to ~0.33)
TOLERANCE = 1e-5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Indexed(torch.utils.data.Dataset):
    def __len__(self):
        return 24

    def __getitem__(self, i):
        return i


def batches(env, epochs=2, global_batch=8, start=0):
    loader = distributed.train_loader(Indexed(), global_batch, env, seed=5, start_epoch=start)
    return [[b.tolist() for b in loader] for _ in range(epochs)]


def test_ranks_together_see_the_single_process_batches():
    single = batches(distributed.DistEnv())
    ranks = [batches(distributed.DistEnv(rank=r, world_size=2)) for r in range(2)]
    for epoch in range(2):
        for step, whole in enumerate(single[epoch]):
            halves = ranks[0][epoch][step] + ranks[1][epoch][step]
            assert len(ranks[0][epoch][step]) == 4 and sorted(halves) == sorted(whole)
    assert single[0] != single[1]  # set_epoch reshuffles every epoch
    assert batches(distributed.DistEnv(), epochs=1, start=1)[0] == single[1]  # resume


def test_epoch_advances_only_when_read():
    loader = distributed.train_loader(Indexed(), 8, distributed.DistEnv(), seed=0)
    iter(loader)  # tqdm.auto calls iter() once more without reading
    first = [b.tolist() for b in loader]
    again = distributed.train_loader(Indexed(), 8, distributed.DistEnv(), seed=0)
    assert first == [b.tolist() for b in again] and loader.epoch == 1


def test_batch_split_and_environment_errors():
    assert distributed.per_rank_batch(64, 4) == 16
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        distributed.per_rank_batch(16, 3)
    assert distributed.read_env({}) == (0, 1, 0)
    assert distributed.read_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == (1, 2, 1)
    with pytest.raises(distributed.DistributedSetupError, match="inconsistent"):
        distributed.read_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(distributed.DistributedSetupError, match="integers"):
        distributed.read_env({"RANK": "x", "WORLD_SIZE": "2"})


def test_one_process_group_refuses_gan_and_leaves_no_group(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0",
                 "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(k, v)
    assert main(["train", "pix2pix_unet", "--out", "gan", "--device", "cpu"]) == 2
    assert "GAN training runs in one process" in capsys.readouterr().err
    assert not torch.distributed.is_initialized() and not (tmp_path / "gan").exists()


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
           "COLORLIB_PROGRESS": "0", "PYTHONPATH": str(ROOT)}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    ddp_out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}",
           "-m", "colorlib", *TRAIN, "--out", str(ddp_out)]
    result = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "rank 0 of 2 finished" in result.stdout and "rank 1 of 2 finished" in result.stdout
    assert "(8 per process x 2 processes)" in result.stdout
    assert result.stdout.count("epoch   2 ") == 1  # only rank 0 prints
    assert {p.name for p in ddp_out.iterdir()} == {"checkpoint.pt", "model.pt", "history.csv",
                                                   "run.json"}

    single_out = tmp_path / "single"
    assert main([*TRAIN, "--out", str(single_out), "--device", "cpu"]) == 0
    ddp = checkpoint.load(ddp_out / "model.pt")["model"]
    single = checkpoint.load(single_out / "model.pt")["model"]
    last = checkpoint.load(ddp_out / "checkpoint.pt")["model"]
    assert all(torch.equal(ddp[k], last[k]) for k in ddp)  # checkpoint.pt == model.pt
    diff = max(float((ddp[k] - single[k]).abs().max()) for k in single)
    assert diff < TOLERANCE, f"DDP and single-process weights differ by {diff:.3g}"
    # and training did something: the weights moved away from the initial ones
    torch.manual_seed(0)
    from colorlib import models

    initial = models.build("wallner_alpha").state_dict()
    assert max(float((initial[k] - single[k]).abs().max()) for k in single) > 1e-3
