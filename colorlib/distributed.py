"""Training on several GPUs (or CPU processes) with PyTorch's DistributedDataParallel.

``torchrun --nproc_per_node=N -m colorlib train ...`` starts N copies of the same
program, one per GPU.  torchrun tells each copy who it is through environment
variables: ``RANK`` (0 .. N-1 over all machines), ``WORLD_SIZE`` (N) and
``LOCAL_RANK`` (the GPU index on this machine), plus ``MASTER_ADDR`` /
``MASTER_PORT`` where they meet.  Then:

1. :func:`setup` joins the process group (backend NCCL on CUDA, else Gloo) and
   picks this process's device;
2. every process builds the same model from the same seed, and :func:`wrap`
   wraps it in ``DistributedDataParallel`` (DDP), which averages the gradients of
   all processes after every backward pass, so all copies stay identical;
3. :func:`train_loader` gives each process a different share of every batch (a
   ``DistributedSampler``): with a global batch of 64 and 4 processes each
   sees 16 images per step, and together they see exactly the 64 images a
   single process would (:class:`EpochLoader` reshuffles each epoch by calling
   ``set_epoch``);
4. only rank 0 writes checkpoints and prints (``env.is_main``);
5. :func:`cleanup` waits for everyone (a barrier) and leaves the group.

Without torchrun, :func:`setup` returns a one-process :class:`DistEnv` and the
same code runs unchanged (the sampler then covers the whole dataset).

BatchNorm computes its statistics per process, over the per-process batch; a
model with BatchNorm therefore trains slightly differently on 4 x 16 images
than on 1 x 64.  ``wrap(..., sync_batchnorm=True)`` uses ``SyncBatchNorm``
(statistics over all processes; CUDA only) when that matters.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


class DistributedSetupError(RuntimeError):
    """The distributed environment variables or devices do not make sense."""


@dataclass(frozen=True)
class DistEnv:
    """Who this process is in a (possibly one-process) training run.

    Attributes:
        rank: 0 .. world_size - 1.  world_size: number of processes.
        local_rank: index of this process (and its GPU) on this machine.
        device: where this process trains.
        backend: ``"nccl"`` or ``"gloo"`` when a process group was joined, else None.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``RANK`` and ``WORLD_SIZE`` are set (torchrun sets them, plain python does not)."""
    environ = os.environ if environ is None else environ
    return "RANK" in environ and "WORLD_SIZE" in environ


def read_env(environ: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's variables; (0, 1, 0) without them.

    Raises:
        DistributedSetupError: a variable is not a number, or they contradict each other.
    """
    environ = os.environ if environ is None else environ
    if not launched_by_torchrun(environ):
        return 0, 1, 0
    try:
        rank = int(environ["RANK"])
        world = int(environ["WORLD_SIZE"])
        local = int(environ.get("LOCAL_RANK", rank))
    except ValueError as e:
        shown = {k: environ.get(k) for k in ENV_VARS}
        raise DistributedSetupError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers, got "
                                    f"{shown}; start the program with torchrun") from e
    if world < 1 or not 0 <= rank < world or local < 0:
        raise DistributedSetupError(f"inconsistent distributed settings RANK={rank}, "
                                    f"WORLD_SIZE={world}, LOCAL_RANK={local}")
    return rank, world, local


def _pick_device(device: str | None, local_rank: int, distributed: bool) -> torch.device:
    if device is not None:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None and distributed:
            dev = torch.device("cuda", local_rank)
    elif torch.cuda.is_available():
        dev = torch.device("cuda", local_rank if distributed else 0)
    elif distributed:
        dev = torch.device("cpu")  # DDP has no MPS support: several CPU processes instead
    else:
        from .runtime import device as best

        dev = best(verbose=False)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DistributedSetupError(f"device {dev} was asked for, but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DistributedSetupError(
                f"this process (LOCAL_RANK={local_rank}) needs GPU {dev.index}, but only "
                f"{torch.cuda.device_count()} are visible; start torchrun with "
                "--nproc_per_node at most the number of GPUs")
    if distributed and dev.type not in ("cuda", "cpu"):
        raise DistributedSetupError(f"distributed training runs on CUDA or CPU, not {dev.type}")
    return dev


def setup(device: str | None = None) -> DistEnv:
    """Join the process group when started by torchrun; describe this process either way.

    Args:
        device: ``"cuda"``, ``"cpu"``, ... or None to choose (CUDA GPU ``LOCAL_RANK``
            if there is one, else the CPU; without torchrun :func:`colorlib.device`).

    Returns:
        :class:`DistEnv`.  Call :func:`cleanup` at the end.
    """
    rank, world, local = read_env()
    distributed = launched_by_torchrun()
    dev = _pick_device(device, local, distributed)
    if not distributed:
        return DistEnv(device=dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=rank,
                                world_size=world)
    return DistEnv(rank, world, local, dev, backend)


def barrier(env: DistEnv) -> None:
    """Wait until every process gets here (nothing to wait for in a one-process run)."""
    if env.distributed:
        if env.backend == "nccl":
            dist.barrier(device_ids=[env.device.index])
        else:
            dist.barrier()


def cleanup(env: DistEnv) -> None:
    """A last barrier, then leave the process group (no-op in a one-process run)."""
    if env.distributed and dist.is_initialized():
        barrier(env)
        dist.destroy_process_group()


@contextlib.contextmanager
def main_first(env: DistEnv) -> Iterator[None]:
    """Run the block on rank 0 first, then on the others (downloads, creating folders).

    Rank 0 downloads a dataset once; the other ranks then find it on disk instead
    of downloading it at the same time into the same folder.
    """
    if env.distributed and not env.is_main:
        barrier(env)
    yield
    if env.distributed and env.is_main:
        barrier(env)


def per_rank_batch(global_batch: int, world_size: int) -> int:
    """Images per process per step: ``global_batch / world_size`` (must divide exactly)."""
    if global_batch < 1:
        raise ValueError(f"the batch size must be positive, got {global_batch}")
    if global_batch % world_size:
        raise ValueError(
            f"the global batch size {global_batch} is not divisible by the {world_size} "
            f"processes; choose a multiple of {world_size} (e.g. "
            f"{world_size * max(1, round(global_batch / world_size))})")
    return global_batch // world_size


class EpochLoader:
    """A DataLoader over a ``DistributedSampler`` that reshuffles every epoch by itself.

    A ``DistributedSampler`` shuffles with the seed ``seed + epoch`` and must be
    told the epoch (``set_epoch``) before each pass, or every epoch repeats the
    first one's order.  Iterating an ``EpochLoader`` does that: pass ``n`` uses
    epoch ``start_epoch + n``.  Set :attr:`epoch` to the number of epochs already
    done when resuming.
    """

    def __init__(self, loader: DataLoader, start_epoch: int = 0):
        if not isinstance(loader.sampler, DistributedSampler):
            raise TypeError("EpochLoader needs a DataLoader built with a DistributedSampler")
        self.loader = loader
        self.distributed_sampler = loader.sampler
        self.epoch = start_epoch

    def __iter__(self):
        # a generator: the epoch advances when the first batch is asked for, not when
        # iter() is called (tqdm.auto calls iter() once more, without reading from it)
        self.distributed_sampler.set_epoch(self.epoch)
        self.epoch += 1
        yield from self.loader

    def __len__(self) -> int:
        return len(self.loader)


def train_loader(dataset: Dataset, global_batch: int, env: DistEnv, seed: int = 0,
                 start_epoch: int = 0, num_workers: int = 0) -> EpochLoader:
    """This process's share of a shuffled training set, ``global_batch / world_size`` per step.

    The shuffle is a permutation drawn from ``seed + epoch`` (the same on every
    process); process r takes positions r, r + W, r + 2W, ... of it.  So step k of
    all W processes together covers positions ``k * global_batch`` to
    ``(k + 1) * global_batch - 1``: exactly the batch a one-process run with the
    same seed and ``global_batch`` sees at step k.  (When ``len(dataset)`` is not
    a multiple of W, the sampler repeats a few images to even out the shares.)
    """
    batch = per_rank_batch(global_batch, env.world_size)
    sampler = DistributedSampler(dataset, num_replicas=env.world_size, rank=env.rank,
                                 shuffle=True, seed=seed, drop_last=False)
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=num_workers,
                        pin_memory=env.device.type == "cuda",
                        persistent_workers=num_workers > 0)
    return EpochLoader(loader, start_epoch)


def wrap(model: nn.Module, env: DistEnv, sync_batchnorm: bool = False) -> nn.Module:
    """Move ``model`` to this process's device and, when distributed, wrap it in DDP.

    On CUDA the weights are made channels-last *before* wrapping (DDP must not see
    its parameters change layout afterwards).  ``sync_batchnorm`` swaps BatchNorm
    for ``SyncBatchNorm`` (CUDA only).  The state dict of ``model.module`` keeps
    the plain names, so checkpoints load into an unwrapped model.
    """
    if sync_batchnorm and env.distributed:
        if env.device.type != "cuda":
            raise DistributedSetupError("SyncBatchNorm needs CUDA; on CPUs train without "
                                        "--sync-batchnorm (or with a model without BatchNorm)")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(env.device)
    if env.device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    if not env.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [env.device.index] if env.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


__all__ = [
    "DistEnv", "DistributedSetupError", "EpochLoader", "barrier", "cleanup",
    "launched_by_torchrun", "main_first", "per_rank_batch", "read_env", "setup",
    "train_loader", "wrap",
]
