"""Every solution notebook runs in quick mode (papermill) and follows the course rules."""

import re

import nbformat
import pytest

from colorlib.course import (
    NOTEBOOKS,
    colab_badge,
    setup_cell_source,
    solution_paths,
)
from colorlib.course.execute import CHECK_MARK, clean_solution, execute
from colorlib.course.student import render

SOLUTIONS = solution_paths()
NAMES = [p.name for p in SOLUTIONS]
REQUIRED_PARAMETERS = ("QUICK", "EPOCHS", "DEVICE", "DATA")


def read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_solution_notebooks():
    assert "00_setup.ipynb" in NAMES


def parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return cells[0] if len(cells) == 1 else None


@pytest.mark.parametrize("path", SOLUTIONS, ids=NAMES)
def test_parameters_cell(path):
    cell = parameters_cell(read(path))
    assert cell is not None, f"{path.name} needs exactly one cell tagged 'parameters'"
    for name in REQUIRED_PARAMETERS:
        assert re.search(rf"^{name}\s*=", cell.source, re.M), f"{path.name}: no {name} = ..."
    assert 'os.environ.get("COLORLIB_QUICK"' in cell.source, \
        f"{path.name}: QUICK must default to the COLORLIB_QUICK environment variable"


@pytest.mark.parametrize("path", SOLUTIONS, ids=NAMES)
def test_badge_and_setup_cell(path):
    nb = read(path)
    assert colab_badge(f"solutions/{path.name}") in nb.cells[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == setup_cell_source(), f"{path.name}: first code cell must be the " \
        "standard set-up cell (colorlib.course.setup_cell_source())"
    student = read(NOTEBOOKS / path.name)
    assert colab_badge(f"notebooks/{path.name}") in student.cells[0].source


@pytest.mark.parametrize("path", SOLUTIONS, ids=NAMES)
def test_solutions_are_committed_without_outputs(path):
    text = path.read_text()
    assert text == render(clean_solution(read(path))), (
        f"{path.name} carries outputs or metadata besides the small '{CHECK_MARK}' outputs; "
        "run `python -m colorlib.course store-checked` (or clear outputs) before committing")


@pytest.mark.parametrize("path", SOLUTIONS, ids=NAMES)
def test_every_exercise_is_followed_by_a_check(path):
    cells = read(path).cells
    exercises = [i for i, c in enumerate(cells) if "### BEGIN SOLUTION" in c.source
                 and c.cell_type == "code"]
    for i in exercises:
        following = [c for c in cells[i + 1:] if c.cell_type == "code"][:1]
        assert following and "colorlib.checks." in following[0].source or \
            "checks." in following[0].source, f"{path.name}: exercise cell {i} has no check"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=NAMES)
def test_solution_runs_in_quick_mode(path, tmp_path):
    record = execute(path, workdir=tmp_path)
    executed = read(record["output"])
    errors = [o for c in executed.cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_readme_links_every_notebook_to_colab():
    from colorlib.course import ROOT

    readme = (ROOT / "README.md").read_text()
    for path in SOLUTIONS:
        assert colab_badge(f"notebooks/{path.name}") in readme, f"README: no badge for {path.name}"


def test_timing_table_lists_only_this_runs_notebooks(tmp_path):
    import json
    import os

    from colorlib.course.execute import timing_table

    for name, seconds, mtime in [("00_old", 9.0, 1000.0), ("01_new", 12.5, 3000.0)]:
        path = tmp_path / f"{name}.timing.json"
        path.write_text(json.dumps({"notebook": name, "seconds": seconds}))
        os.utime(path, (mtime, mtime))
    table = timing_table(tmp_path, since=2000.0)
    assert "01_new" in table and "00_old" not in table
    assert table.splitlines()[-1].split()[-1] == "12.5"
    assert "00_old" in timing_table(tmp_path)
