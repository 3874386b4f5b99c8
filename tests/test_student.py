"""Student notebooks: generated, in sync, and stopping only at unsolved exercises."""

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError

from colorlib.course import NOTEBOOKS, solution_paths
from colorlib.course.execute import execute
from colorlib.course.student import expected_students, student_version

SOLUTIONS = solution_paths()
NAMES = [p.name for p in SOLUTIONS]


def test_student_copies_are_up_to_date():
    wanted = expected_students()
    present = set(NOTEBOOKS.glob("*.ipynb"))
    assert present == set(wanted), "solutions/ and notebooks/ differ: run `make student`"
    stale = [p.name for p, text in wanted.items() if p.read_text() != text]
    assert not stale, f"stale student notebooks {stale}: run `make student`"


def make_nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_solution_regions_become_stubs_and_hidden_tests_vanish():
    nb = make_nb(
        "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        "check(f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS",
    )
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells[0].execution_count = 3
    nb.cells[0].metadata["nbgrader"] = {"solution": True}
    student = student_version(nb, "x.ipynb")
    src0, src1 = student.cells[0].source, student.cells[1].source
    assert "return 2 * x" not in src0
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in src0
    assert "assert f(2)" not in src1 and "check(f)" in src1
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert "nbgrader" not in student.cells[0].metadata


def test_unclosed_solution_region_is_an_error():
    with pytest.raises(RuntimeError, match="no end solution"):
        student_version(make_nb("### BEGIN SOLUTION\nx = 1"), "x.ipynb")


def first_exercise_index(nb):
    for i, c in enumerate(nb.cells):
        if "raise NotImplementedError()" in c.source and "YOUR CODE HERE" in c.source:
            return i
    return None


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=NAMES)
def test_student_notebook_stops_only_at_an_unsolved_exercise(path, tmp_path):
    student = NOTEBOOKS / path.name
    first = first_exercise_index(nbformat.read(student, as_version=4))
    try:
        execute(student, out_dir=tmp_path, workdir=tmp_path / "work")
    except PapermillExecutionError as e:
        assert e.ename == "NotImplementedError", f"{path.name} failed early: {e.ename}: {e.evalue}"
        # papermill numbers cells after inserting its own parameters cell
        assert first is not None and e.cell_index >= first, \
            f"{path.name} failed at cell {e.cell_index}, before its first exercise ({first})"
    else:
        assert first is None, f"{path.name} has an exercise but ran to the end unsolved"
