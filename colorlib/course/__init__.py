"""Course maintenance: student copies, notebook execution and the book.

Run as ``python -m colorlib.course {student,execute,store-checked,book,all}``.
The repository's address lives here and only here (:data:`REPO`); the notebooks'
Colab badges and set-up cells are checked against it by the tests.
"""

from pathlib import Path

REPO = "colorization-course/colorization-course"
"""GitHub ``owner/name`` of the course repository (the one place it is written)."""
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO}"
ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "build" / "executed"
BOOK = ROOT / "book"


def colab_url(path: str) -> str:
    """The Colab address of a notebook at ``path`` (e.g. ``notebooks/00_setup.ipynb``)."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{path}"


def colab_badge(path: str) -> str:
    """Markdown for the "Open in Colab" badge of the notebook at ``path``."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(path)})")


def setup_cell_source() -> str:
    """The first code cell of every notebook: installs colorlib on Colab, nothing elsewhere."""
    return (
        "# Set-up: on Colab this installs colorlib from the course repository;\n"
        "# elsewhere (JupyterLab with `make lab`) it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "colorlib @ git+{REPO_URL}@{BRANCH}"'
    )


def solution_paths() -> list[Path]:
    """The instructor notebooks, in course order."""
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
