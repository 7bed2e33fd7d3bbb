# Everything sets itself up: `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint format demo fuzz bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m demo

# Coverage-guided fuzzing by hand (not in CI): FUZZ_SECONDS=600 make fuzz
FUZZ_SECONDS ?= 120
fuzz: $(STAMP)
	$(PY) -m pip install --quiet atheris
	mkdir -p fuzz/corpus
	$(PY) fuzz/fuzz_wire.py fuzz/corpus -max_total_time=$(FUZZ_SECONDS)

# Benchmarks against reference tools on loopback (never part of `make test`); writes
# bench/RESULTS.md. Sizes and rounds come from BENCH_* variables: see bench/README.md.
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	@if $(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt; then touch $@; \
	else echo "bench: magic-wormhole could not be installed; its row will say so"; fi

bench: $(STAMP) $(BENCH_STAMP)
	@command -v curl >/dev/null 2>&1 || { echo "bench: curl is missing; installing it with apt-get"; \
		apt-get update -qq && apt-get install -y -qq curl; } || echo "bench: no curl; its row will say so"
	$(PY) -m bench

clean:
	rm -rf $(VENV) demo/.run .pytest_cache .mypy_cache .ruff_cache .hypothesis
