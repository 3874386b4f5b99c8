"""Shared test set-up, at the repository root so that it also governs nbval's runs of
``solutions/``: headless matplotlib, quick mode, one thread per xdist worker, a throw-away
runs folder, and the table of the quick-mode notebook timings measured in this run.

nbval runs the cells of a notebook in order in one kernel, so all cells of a notebook must
stay on one xdist worker: ``make test`` runs nbval with ``--dist loadfile``.  (pytest 9.2
ignores the node-id suffix through which ``--dist loadgroup`` groups tests, so groups
cannot be used for this.)
"""

import os
import socket
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COLORLIB_QUICK", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # two workers on two cores: one thread each (kernels inherit it), or torch thrashes
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

# nbval's kernels inherit this: their checkpoints go to a fresh folder, never solutions/
os.environ.setdefault("COLORLIB_RUNS", tempfile.mkdtemp(prefix="colorlib-nbval-runs-"))

SESSION_START = time.time()

# nbval waits only 5 s for a cell's outputs once the kernel says the cell has finished; on
# a loaded 2-core machine the kernel's output thread can lag longer than that after a long
# training cell, which fails the cell with "Timeout of 5 seconds exceeded waiting for output".
NBVAL_OUTPUT_TIMEOUT = 120


def pytest_collection_modifyitems(config, items):
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's notebook cells
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT


def pytest_terminal_summary(terminalreporter):
    from colorlib.course.execute import timing_table

    table = timing_table(since=SESSION_START)
    if table:
        terminalreporter.write_sep("-", "quick-mode notebook timings (papermill, this run)")
        terminalreporter.write_line(table)


@pytest.fixture(scope="session")
def load_bench():
    """``load_bench("bench_color")``: import a script of ``bench/`` (not a package) by name."""
    import importlib.util
    from pathlib import Path

    folder = Path(__file__).resolve().parent / "bench"
    if str(folder) not in sys.path:  # as when run as a script: bench_timing importable
        sys.path.insert(0, str(folder))

    def load(name: str):
        path = folder / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails, as on a machine without internet."""

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            raise OSError("network disabled by the test")

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
