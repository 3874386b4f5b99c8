"""Shared test set-up: headless matplotlib, a clean quick-mode work folder, timing table."""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COLORLIB_QUICK", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # two workers on two cores: one thread each (kernels inherit it), or torch thrashes
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from colorlib.course import EXECUTED  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

# nbval's kernels inherit this: their checkpoints go to a fresh folder, never solutions/
os.environ.setdefault("COLORLIB_RUNS", tempfile.mkdtemp(prefix="colorlib-nbval-runs-"))


def pytest_configure(config):
    # the controller (not xdist workers) starts the timing table afresh
    if not hasattr(config, "workerinput"):
        for stale in EXECUTED.glob("*.timing.json"):
            stale.unlink()


def pytest_collection_modifyitems(config, items):
    # nbval's cells of one notebook must run in order on one xdist worker
    import pytest

    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_terminal_summary(terminalreporter):
    from colorlib.course.execute import timing_table

    table = timing_table()
    if table:
        terminalreporter.write_sep("-", "quick-mode notebook timings (papermill, this run)")
        terminalreporter.write_line(table)
