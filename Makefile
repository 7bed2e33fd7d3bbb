# Everything sets itself up: `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Installs only what a lock file pins, each file checked against its hashes.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
# `make demo` needs the runtime dependencies only; `make test` adds the dev tools on top.
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: setup test lint format demo fuzz bench lock dist clean

# requirements/build.txt pins pip and the build backend, so the project itself installs with
# --no-build-isolation and fetches nothing unpinned. setuptools' note on flat layouts, which pip
# shows as a banner, is information only (its category says so): it is filtered here.
$(RUNTIME_STAMP): export PYTHONWARNINGS := ignore:Editable installation
$(RUNTIME_STAMP): pyproject.toml requirements/build.txt requirements/runtime.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes -r requirements/build.txt
	$(PIP_INSTALL) --require-hashes -r requirements/runtime.txt
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	@touch $@

$(STAMP): $(RUNTIME_STAMP) requirements/dev.txt
	$(PIP_INSTALL) --require-hashes -r requirements/dev.txt
	@touch $@

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

demo: $(RUNTIME_STAMP)
	$(PY) -m demo

# A wheel and an sdist in dist/, for friends who install without a clone (the README says how):
# built by `build` (pinned in the dev extra) with the pinned setuptools, nothing fetched.
dist: $(STAMP)
	rm -rf dist build
	$(PY) -m build --no-isolation --outdir dist .
	@ls dist

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
	@if $(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes -r bench/requirements.txt; then touch $@; \
	else echo "bench: magic-wormhole could not be installed; its row will say so"; fi

bench: $(STAMP) $(BENCH_STAMP)
	@command -v curl >/dev/null 2>&1 || { echo "bench: curl is missing; installing it with apt-get"; \
		apt-get update -qq && apt-get install -y -qq curl; } || echo "bench: no curl; its row will say so"
	$(PY) -m bench

# The lock files: requirements/dev.txt (pyproject's dependencies and its `dev` extra),
# requirements/runtime.txt (the same pins without the dev tools), requirements/build.txt (pip and
# pyproject's build-system requires) and bench/requirements.txt (from bench/requirements.in).
# Exact versions with their hashes, one universal resolution for Linux, macOS and Python 3.11+.
# `make lock` brings them in line with pyproject.toml and bench/requirements.in and keeps every
# pin it can; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest releases, and
# LOCK_FLAGS='--upgrade-package trio' just one package. uv, pinned here, runs from .venv-lock.
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
UV_STAMP := $(LOCK_VENV)/.uv-$(UV_VERSION)
LOCK_FLAGS ?=
COMPILE = $(LOCK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' $(LOCK_FLAGS)

$(UV_STAMP):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

lock: $(UV_STAMP)
	$(COMPILE) pyproject.toml --extra dev -o requirements/dev.txt
	$(COMPILE) pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt
	{ echo pip; $(LOCK_VENV)/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'; } \
		| $(COMPILE) - -o requirements/build.txt
	$(COMPILE) bench/requirements.in -o bench/requirements.txt

clean:
	rm -rf $(VENV) $(LOCK_VENV) demo/.run .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build
