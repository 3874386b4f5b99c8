"""Generate the student notebooks in ``notebooks/`` from ``solutions/``.

Uses nbgrader's own preprocessors, with nbgrader's semantics:

- ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` regions become
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (``YOUR ANSWER HERE`` in
  markdown);
- ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions are removed;
- outputs and execution counts are stripped, metadata cleaned (only kernelspec,
  language_info and cell tags are kept), and the Colab badge points at the
  student copy.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

from . import NOTEBOOKS, colab_badge, solution_paths

KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KEEP_CELL_METADATA = ("tags",)


def student_version(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The student copy of solution notebook ``nb`` (file name ``name``)."""
    nb = nbformat.from_dict(nb)  # deep copy
    resources: dict = {}
    nb, resources = ClearSolutions(enforce_metadata=False).preprocess(nb, resources)
    nb, resources = ClearHiddenTests(enforce_metadata=False).preprocess(nb, resources)
    nb, resources = ClearOutput().preprocess(nb, resources)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NOTEBOOK_METADATA}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
        cell.source = cell.source.replace(colab_badge(f"solutions/{name}"),
                                          colab_badge(f"notebooks/{name}"))
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The exact file text we commit (stable key order, one-space indent, final newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def expected_students() -> dict[Path, str]:
    """``{student path: file text}`` for every solution notebook."""
    out = {}
    for path in solution_paths():
        nb = nbformat.read(path, as_version=4)
        out[NOTEBOOKS / path.name] = render(student_version(nb, path.name))
    return out


def write_students() -> list[Path]:
    """Regenerate ``notebooks/``; removes student copies whose solution is gone."""
    NOTEBOOKS.mkdir(exist_ok=True)
    wanted = expected_students()
    for stale in set(NOTEBOOKS.glob("*.ipynb")) - set(wanted):
        stale.unlink()
    for path, text in wanted.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return sorted(wanted)
