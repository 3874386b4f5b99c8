"""Where to run: :func:`device` picks CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

COLAB_GPU_HINT = (
    "Training on the CPU works but is slow; a GPU runtime is recommended. "
    "On Colab: Runtime > Change runtime type > Hardware accelerator: GPU (T4), then rerun."
)


def device(verbose: bool = True) -> torch.device:
    """The best available device: ``cuda``, then ``mps``, then ``cpu``.

    With ``verbose`` it prints what it chose and, on the CPU, how to get a GPU.
    """
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        name = torch.cuda.get_device_name(0)
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        dev = torch.device("mps")
        name = "Apple GPU (MPS)"
    else:
        dev = torch.device("cpu")
        name = f"CPU ({torch.get_num_threads()} threads)"
    if verbose:
        print(f"colorlib: using {dev.type} - {name}")
        if dev.type == "cpu":
            print(f"colorlib: {COLAB_GPU_HINT}")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and CUDA) for a reproducible run."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def runs_dir():
    """Where notebooks write checkpoints: ``$COLORLIB_RUNS`` or ``./runs``."""
    import os
    from pathlib import Path

    path = Path(os.environ.get("COLORLIB_RUNS", "runs"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """True when ``COLORLIB_QUICK=1`` asks for quick mode (small data, a minute on a CPU)."""
    import os

    return os.environ.get("COLORLIB_QUICK", "0").strip().lower() in ("1", "true", "yes")
