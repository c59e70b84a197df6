# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo       creates .venv, installs acn-bench, runs the default suite (compression, quick, digits)
#   make test       creates .venv, installs acn-bench with its test extras and Debian's Chromium (the browser
#                   tests drive it; apt-get, through sudo when not root), runs every test
#   make test-fast  the same without the tests marked slow (end-to-end suite runs, torchrun): a few minutes
#   make lint       ruff check and ruff format --check, as CI runs them
#   make site       the leaderboards as a static website in site/ (open site/index.html; no server needed)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/acn-bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

.PHONY: install browser demo test test-fast lint bench site
install: $(BIN)/acn-bench

# tests/test_site_browser.py drives Debian's headless Chromium and its driver (they never skip)
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update && $$sudo apt-get install -y chromium chromium-driver; \
	fi

demo: install
	$(BIN)/acn-bench run

test: install browser
	$(BIN)/python -m pytest -q -n 2 tests

test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow" tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m speed.perf step-time

site: install
	$(BIN)/acn-bench site
