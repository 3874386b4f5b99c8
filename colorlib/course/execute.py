"""Execute notebooks in quick mode with papermill, and keep solutions' checked outputs.

- :func:`execute` runs one solution notebook with ``QUICK=True`` into
  ``build/executed/`` (the book is built from there) and records its wall time.
- :func:`clean_solution` is what we commit: every output stripped except the
  small text outputs of cells marked ``# NBVAL_CHECK_OUTPUT``, which nbval
  compares on every test run.
- :func:`store_checked_outputs` copies those outputs from an executed copy back
  into the solution after an intended change (``make checked-outputs``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat

from . import EXECUTED, ROOT, solution_paths

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KERNEL_BACKEND = "module://matplotlib_inline.backend_inline"
MAX_CHECKED_OUTPUT_CHARS = 2000


def kernel_env(workdir: Path) -> dict[str, str]:
    """Environment for a quick-mode kernel: inline (headless) plots, quick data."""
    env = {"COLORLIB_QUICK": "1", "MPLBACKEND": KERNEL_BACKEND, "COLORLIB_PROGRESS": "0",
           "COLORLIB_RUNS": str(workdir / "runs"), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    return env


def execute(src: Path, out_dir: Path = EXECUTED, workdir: Path | None = None,
            parameters: dict | None = None, timeout: int = 900) -> dict:
    """Run ``src`` with papermill in quick mode; returns ``{"notebook", "seconds", "output"}``.

    Raises papermill's ``PapermillExecutionError`` (with the failing cell) on any error.
    """
    import papermill as pm

    src = Path(src)
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(workdir or ROOT / "build" / "work")
    workdir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / src.name
    saved = {k: os.environ.get(k) for k in kernel_env(workdir)}
    os.environ.update(kernel_env(workdir))
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src), str(dst), parameters={"QUICK": True, **(parameters or {})},
            kernel_name="python3", cwd=str(workdir), progress_bar=False, log_output=False,
            execution_timeout=timeout,
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    record = {"notebook": src.stem, "seconds": round(seconds, 1), "output": str(dst)}
    (out_dir / f"{src.stem}.timing.json").write_text(json.dumps(record))
    return record


def timing_table(out_dir: Path = EXECUTED, since: float | None = None) -> str:
    """A text table of the recorded quick-mode timings, one row per notebook.

    ``since``: only the runs recorded after this time (seconds since the epoch).
    """
    rows = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.timing.json"))
            if since is None or p.stat().st_mtime >= since]
    if not rows:
        return ""
    lines = [f"{'notebook':28s} {'quick run (s)':>14s}"]
    lines += [f"{r['notebook']:28s} {r['seconds']:14.1f}" for r in rows]
    lines.append(f"{'total':28s} {sum(r['seconds'] for r in rows):14.1f}")
    return "\n".join(lines)


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def checked_outputs(cell) -> list:
    """The small text outputs nbval compares: streams and text/plain results."""
    kept = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            kept.append(nbformat.v4.new_output("stream", name=out.name, text=out.text))
        elif out.output_type == "execute_result" and "text/plain" in out.data:
            kept.append(nbformat.v4.new_output("execute_result",
                                               data={"text/plain": out.data["text/plain"]},
                                               execution_count=1))
    size = sum(len(json.dumps(o)) for o in kept)
    if size > MAX_CHECKED_OUTPUT_CHARS:
        raise ValueError(f"a {CHECK_MARK} cell prints {size} characters; keep checked outputs "
                         f"under {MAX_CHECKED_OUTPUT_CHARS} (print only the facts to guard)")
    return kept


def clean_solution(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and execution counts, except the checked cells' small text outputs."""
    nb = nbformat.from_dict(nb)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        cell.pop("id", None)
        if cell.cell_type == "code":
            # nbval only compares cells that were run: a checked cell keeps a (constant) count
            checked = is_checked(cell) and bool(cell.outputs)
            cell.execution_count = 1 if checked else None
            cell.outputs = checked_outputs(cell) if checked else []
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def store_checked_outputs(executed: Path, solution: Path) -> int:
    """Copy checked outputs of an executed notebook into its solution; returns cells updated."""
    ran = nbformat.read(executed, as_version=4)
    sol = nbformat.read(solution, as_version=4)
    by_source = {c.source: c for c in ran.cells if is_checked(c)}
    updated = 0
    for cell in sol.cells:
        if is_checked(cell):
            if cell.source not in by_source:
                raise ValueError(f"{executed} has no executed copy of a checked cell of "
                                 f"{solution}; execute it again first")
            cell.outputs = by_source[cell.source].outputs
            updated += 1
    from .student import render

    solution.write_text(render(clean_solution(sol)))
    return updated


def execute_all(names: list[str] | None = None) -> list[dict]:
    """Execute every solution notebook (or those named) in quick mode, one after another."""
    import shutil

    workdir = ROOT / "build" / "work"
    shutil.rmtree(workdir, ignore_errors=True)  # fresh runs: no stale quick-mode checkpoints
    records, start = [], time.time()
    for path in solution_paths():
        if names and path.stem not in names and path.name not in names:
            continue
        print(f"executing {path.name} ...", flush=True)
        records.append(execute(path, workdir=workdir))
        print(f"  {records[-1]['seconds']:.1f} s", flush=True)
    print(timing_table(since=start))
    return records
