# Thin wrappers around the course's commands.  Each target creates .venv if missing.
#   make course   install, run the end-to-end demo (and, as the course grows, every notebook + book)
#   make test     lint + the whole test suite (what CI runs)
#   make lab      open JupyterLab
#   make student  regenerate the student notebooks from solutions/
#   make book     build the Jupyter Book from the executed notebooks

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.colorlib-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup course demo test lint lab student book checked-outputs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev,book]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)
	@echo "colorlib installed in $(VENV)"

course: setup
	$(PY) -m colorlib demo --out build/demo
	$(PY) -m colorlib.course execute
	$(PY) -m colorlib.course book

demo: course

lint: setup
	$(VENV)/bin/ruff check conftest.py colorlib tests bench solutions notebooks

# 1. unit tests + every notebook through papermill (solutions) and as a student copy;
# 2. nbval on the solutions, one notebook per worker (--dist loadfile keeps its cells together);
# 3. the book, from the notebooks executed in step 1.
test: lint
	$(PY) -m pytest -n 2 -m "not book" tests
	$(PY) -m pytest -n 2 --dist loadfile --nbval-lax solutions
	$(PY) -m pytest -m book tests

student: setup
	$(PY) -m colorlib.course student

book: setup
	$(PY) -m colorlib.course book

checked-outputs: setup
	$(PY) -m colorlib.course execute
	$(PY) -m colorlib.course store-checked

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf build book/_build .pytest_cache .ruff_cache
