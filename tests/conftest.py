"""Shared test set-up: headless matplotlib, a clean quick-mode work folder, timing table."""

import os
import shutil

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COLORLIB_QUICK", "1")

from colorlib.course import EXECUTED, ROOT  # noqa: E402

WORK = ROOT / "build" / "work"
# nbval's kernels inherit this: their checkpoints go to a build folder, not solutions/
os.environ.setdefault("COLORLIB_RUNS", str(WORK / "runs-nbval"))


def pytest_configure(config):
    # the controller (not xdist workers) starts every run from a clean slate
    if not hasattr(config, "workerinput"):
        shutil.rmtree(WORK, ignore_errors=True)
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
