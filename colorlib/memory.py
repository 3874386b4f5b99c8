"""Peak memory (and time) of one training step: why week 5's batch had to be 2.

What is measured is the memory a training step needs *on top of* what was in
use just before it (the weights, the optimizer state and the batch are not
counted), in bytes; :func:`measure_training_step` reports it in MB (10**6 bytes).

* **CPU** (:class:`CpuPeak`): the growth of this process's resident memory.
  ``start()`` hands freed heap memory back to the system and resets the
  kernel's high-water mark (Linux ``/proc``); ``peak()`` is that mark minus the
  resident size at ``start()``.  It counts everything the process touches, so it
  is cleanest in a fresh process (``bench/bench_hypercolumns.py`` runs one per
  measurement).
* **CUDA** (:class:`CudaPeak`): ``torch.cuda.max_memory_allocated`` minus
  ``torch.cuda.memory_allocated`` at ``start()``: the bytes held by tensors, not
  the caching allocator's reserve nor the CUDA context.

Example::

    from colorlib import memory
    from colorlib.models.hypercolumns import HypercolumnColorizer

    r = memory.measure_training_step(HypercolumnColorizer(efficient=True), batch=2, size=224)
    print(f"{r['mb_per_image']:.0f} MB per image, {r['step_s']:.2f} s per step")
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

#: bytes in a megabyte, as reported (10**6, not 2**20)
MB = 1e6


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class CpuPeak:
    """Peak resident memory of this process above a baseline, in bytes (CPU).

    ``start()`` hands freed heap memory back to the system (glibc ``malloc_trim``), takes
    the current resident set size as the baseline and resets the kernel's high-water
    mark (Linux: ``/proc/self/clear_refs``); ``peak()`` is the high-water mark since then
    minus the baseline.  Without ``/proc`` (macOS) the high-water mark cannot be reset:
    ``ru_maxrss`` is the whole process's peak, right only in a fresh process.

    With glibc, making a counter also sets the allocator's mmap threshold to 128 KiB
    (``mallopt``, for the rest of the process): every tensor of that size or more then
    gets its own memory from the system and returns it when freed, so the resident size
    follows the memory in use.  (By default glibc raises the threshold after large
    frees and serves later tensors from a heap that does not shrink, which can make a
    step that allocates many mid-sized tensors look several times bigger than it is.)
    """

    M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number

    def __init__(self):
        self.proc = os.path.exists("/proc/self/clear_refs")
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
        except OSError:
            libc = None
        self.trim = getattr(libc, "malloc_trim", None)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is not None:
            mallopt(self.M_MMAP_THRESHOLD, 128 * 1024)
        self.method = "VmHWM - VmRSS (/proc)" if self.proc else "ru_maxrss - RSS"
        self.baseline = 0

    def rss(self) -> int:
        if self.proc:
            return _proc_status_kb("VmRSS") * 1024
        try:
            import psutil
        except ImportError as e:
            raise RuntimeError("measuring CPU memory without /proc needs psutil "
                               "(pip install psutil)") from e
        return psutil.Process().memory_info().rss

    def start(self) -> None:
        if self.trim is not None:
            self.trim(0)
        self.baseline = self.rss()
        if self.proc:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS

    def peak(self) -> int:
        if self.proc:
            high = _proc_status_kb("VmHWM") * 1024
        else:
            import resource

            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            high = maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes vs KiB
        return max(high - self.baseline, 0)


class CudaPeak:
    """Peak CUDA memory allocated by tensors above a baseline, in bytes."""

    method = "torch.cuda.max_memory_allocated"

    def __init__(self, device: torch.device):
        self.device = device
        self.baseline = 0

    def start(self) -> None:
        torch.cuda.synchronize(self.device)
        self.baseline = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)

    def peak(self) -> int:
        torch.cuda.synchronize(self.device)
        return torch.cuda.max_memory_allocated(self.device) - self.baseline


def peak_counter(device: torch.device | str):
    """A peak-memory counter with ``start()`` and ``peak()`` (bytes) for ``device``:
    :class:`CudaPeak` on a CUDA device, :class:`CpuPeak` on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return CudaPeak(device)
    if device.type != "cpu":
        raise ValueError(f"peak memory can be measured on 'cpu' and 'cuda', not {device.type!r}")
    return CpuPeak()


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, Y: torch.Tensor,
                  UV: torch.Tensor) -> float:
    """Forward, MSE loss on UV, backward, optimizer step; returns the loss.

    ``model`` maps Y (B, 1, H, W) in [0, 1] to UV (B, 2, H, W), the shape of ``UV``.
    """
    loss = F.mse_loss(model(Y), UV)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def measure_training_step(model: nn.Module, batch: int = 2, size: int = 224,
                          device: torch.device | str = "cpu", steps: int = 1,
                          warmup: bool = True, seed: int = 0) -> dict:
    """Peak memory and time of one training step of ``model`` on random Y and UV.

    ``model`` maps Y (batch, 1, size, size) in [0, 1] to UV (batch, 2, size, size), as
    the week-5 hypercolumn colorizers do; the step is :func:`training_step`.

    The model (moved to ``device``, in training mode), an Adam optimizer and the random
    batch are made first, and with ``warmup`` one untimed step allocates Adam's state and
    the gradients; then the measured step runs.  Its peak is counted above what was in
    use just before it (:func:`peak_counter`): the weights, the optimizer state and the
    batch are not counted, only what the step itself needs.  On the CPU the number is
    the growth of the process's resident memory, so it is cleanest in a fresh process
    (``bench/bench_hypercolumns.py`` runs one per measurement); in a notebook it agrees
    with that to about 10 %, in a long-running process (a test suite) it can be off by
    more.

    Returns:
        dict with ``batch``, ``size``, ``device``, ``peak_mb`` (MB = 10**6 bytes),
        ``mb_per_image``, ``step_s`` (the best of ``steps`` timed steps; the first one
        also gives the peak), ``baseline_mb`` and ``method``.
    """
    dev = torch.device(device)
    torch.manual_seed(seed)
    model = model.to(dev).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    Y = torch.rand(batch, 1, size, size, device=dev)
    UV = (torch.rand(batch, 2, size, size, device=dev) - 0.5) * 0.6
    counter = peak_counter(dev)

    def timed_step() -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        training_step(model, optimizer, Y, UV)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return time.perf_counter() - start

    if warmup:
        training_step(model, optimizer, Y, UV)
    optimizer.zero_grad(set_to_none=True)  # free the old gradients before counting
    counter.start()
    times = [timed_step()]
    peak = counter.peak()
    times += [timed_step() for _ in range(steps - 1)]
    return {"batch": batch, "size": size, "device": dev.type, "peak_mb": peak / MB,
            "mb_per_image": peak / MB / batch, "step_s": min(times),
            "baseline_mb": counter.baseline / MB, "method": counter.method}


__all__ = ["MB", "CpuPeak", "CudaPeak", "measure_training_step", "peak_counter",
           "training_step"]
