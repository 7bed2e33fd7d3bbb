# Everything sets itself up: `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint format demo fuzz clean

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

clean:
	rm -rf $(VENV) demo/.run .pytest_cache .mypy_cache .ruff_cache .hypothesis
