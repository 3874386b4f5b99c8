"""Write a solution notebook from Python: ``notebook("00_setup", "Title", [md(...), code(...)])``.

For course authors.  Every notebook gets the same first two cells (the Colab badge
with the title, and the set-up cell), the standard kernelspec, and is saved clean
(see :func:`colorlib.course.execute.clean_solution`).
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import nbformat

from . import SOLUTIONS, colab_badge, setup_cell_source
from .execute import clean_solution
from .student import render

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell (the text is dedented and stripped)."""
    return nbformat.v4.new_markdown_cell(dedent(text).strip())


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    """A code cell, optionally tagged (e.g. ``"parameters"``)."""
    cell = nbformat.v4.new_code_cell(dedent(source).strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def parameters(quick_epochs: int, full_epochs: int, data_quick: str, data_full: str,
               extra: str = "") -> nbformat.NotebookNode:
    """The standard ``parameters`` cell (papermill overrides it)."""
    src = f'''
    # Parameters: papermill and the tests override these; COLORLIB_QUICK=1 turns on quick mode.
    import os

    QUICK = os.environ.get("COLORLIB_QUICK", "0") in ("1", "true")  # small data, ~1 min on a CPU
    EPOCHS = None  # None: {quick_epochs} in quick mode, {full_epochs} in full mode
    DEVICE = None  # None: colorlib.device() picks CUDA, then MPS, then the CPU
    DATA = None  # None: "{data_quick}" in quick mode, "{data_full}" in full mode
    '''
    return code(dedent(src).strip() + ("\n" + dedent(extra).strip() if extra else ""),
                "parameters")


def notebook(name: str, title: str, intro: str, cells: list) -> Path:
    """Write ``solutions/<name>.ipynb``: badge + title + intro, the set-up cell, then ``cells``."""
    path = SOLUTIONS / f"{name}.ipynb"
    header = md(f"{colab_badge(f'solutions/{path.name}')}\n\n# {title}\n\n{dedent(intro).strip()}")
    nb = nbformat.v4.new_notebook(cells=[header, code(setup_cell_source()), *cells])
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    SOLUTIONS.mkdir(exist_ok=True)
    path.write_text(render(clean_solution(nb)))
    return path
