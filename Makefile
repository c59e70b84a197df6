# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   creates .venv, installs acn-bench, runs the default suite (compression, quick, digits)
#   make test   creates .venv, installs acn-bench with its test extras, runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/acn-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

.PHONY: install demo test bench
install: $(BIN)/acn-bench

demo: install
	$(BIN)/acn-bench run

test: install
	$(BIN)/python -m pytest -q -n 2 tests

bench: install
	$(BIN)/python -m benchmarks.perf step-time
