# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo       creates .venv, installs acn-bench, runs the default suite (compression, quick, digits)
#   make test       creates .venv, installs acn-bench with its test extras, runs every test this machine can run
#   make test-fast  the same without the tests marked slow (end-to-end suite runs, torchrun), under two minutes
#   make lint       ruff check and ruff format --check, as CI runs them
#   make site       the leaderboards as a static website in site/ (open site/index.html; no server needed)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/acn-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

.PHONY: install demo test test-fast lint bench site
install: $(BIN)/acn-bench

demo: install
	$(BIN)/acn-bench run

test: install
	$(BIN)/python -m pytest -q -n 2 tests

test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow" tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m benchmarks.perf step-time

site: install
	$(BIN)/acn-bench site
