"""The lock files agree with pyproject.toml: every dependency pinned exactly, with hashes.

`make lock` writes them (see the Makefile); this test fails when someone edits pyproject's
dependencies without running it, or edits a lock by hand. It only reads files.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = ROOT / "requirements" / "runtime.txt"
DEV = ROOT / "requirements" / "dev.txt"
BUILD = ROOT / "requirements" / "build.txt"
BENCH = ROOT / "bench" / "requirements.txt"
LOCKS = [RUNTIME, DEV, BUILD, BENCH]

HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def entries(lock: Path) -> list[tuple[Requirement, list[str]]]:
    """Each requirement of a lock file with its hashes, continuation lines joined."""
    text = re.sub(r"\\\n", " ", lock.read_text())
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        requirement, _, options = line.split(" #", 1)[0].partition(" --hash=")
        hashes = HASH.findall("--hash=" + options) if options else []
        found.append((Requirement(requirement.strip()), hashes))
    return found


def pins(lock: Path) -> dict[NormalizedName, list[Version]]:
    """Every version a lock pins for each package (more than one when markers split them)."""
    pinned: dict[NormalizedName, list[Version]] = {}
    for requirement, _ in entries(lock):
        (spec,) = requirement.specifier
        pinned.setdefault(canonicalize_name(requirement.name), []).append(Version(spec.version))
    return pinned


def declared(*groups: list[str]) -> list[Requirement]:
    return [Requirement(text) for group in groups for text in group]


RUNTIME_DEPS = declared(PYPROJECT["project"]["dependencies"])
DEV_DEPS = declared(PYPROJECT["project"]["optional-dependencies"]["dev"])
BUILD_DEPS = declared(PYPROJECT["build-system"]["requires"])
BENCH_DEPS = declared(
    [
        line
        for line in (ROOT / "bench" / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
)


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_entry_is_pinned_with_hashes(lock: Path) -> None:
    found = entries(lock)
    name = lock.relative_to(ROOT)
    assert found, f"{name} pins nothing"
    for requirement, hashes in found:
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name}: {requirement} is not =="
        assert "*" not in specs[0].version, f"{name}: {requirement} is not one version"
        assert hashes, f"{name}: {requirement} has no --hash=sha256:"


@pytest.mark.parametrize(
    ("lock", "deps"),
    [
        (RUNTIME, RUNTIME_DEPS),
        (DEV, RUNTIME_DEPS + DEV_DEPS),
        (BUILD, BUILD_DEPS),
        (BENCH, BENCH_DEPS),
    ],
    ids=["runtime", "dev", "build", "bench"],
)
def test_lock_satisfies_declared_ranges(lock: Path, deps: list[Requirement]) -> None:
    pinned = pins(lock)
    stale = []
    for dep in deps:
        versions = pinned.get(canonicalize_name(dep.name))
        if not versions:
            stale.append(f"{dep.name} is not in the lock")
            continue
        stale += [f"{dep.name}=={v} is outside {dep}" for v in versions if v not in dep.specifier]
    assert not stale, f"{lock.relative_to(ROOT)} is out of date; run `make lock`: {stale}"


def test_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    """`make demo` and `make test` share .venv, so a package pinned in both has one version."""
    runtime, dev = pins(RUNTIME), pins(DEV)
    differ = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert not differ, f"runtime.txt and dev.txt disagree; run `make lock`: {differ}"


def test_the_tools_this_setup_relies_on_are_locked() -> None:
    """pip and setuptools (the editable install uses no build isolation) and packaging (here)."""
    build, dev = pins(BUILD), pins(DEV)
    assert "pip" in build
    assert all(v >= Version("77") for v in build["setuptools"]), "license = 'MIT' needs >= 77"
    assert "packaging" in dev
