"""A real, small disk for a test: a tmpfs of a few MiB, so "no space left" happens for real.

Mounting needs root (or CAP_SYS_ADMIN); where that is not allowed the test is skipped with one
line. The mount is always undone, lazily if a process still holds a file on it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(path: Path, mib: int) -> Iterator[Path]:
    """A tmpfs of `mib` MiB mounted on `path` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


def resize(path: Path, mib: int) -> None:
    """Grow (or shrink) the tmpfs on `path`: the disk got more room."""
    subprocess.run(["mount", "-o", f"remount,size={mib}m", str(path)], check=True)
