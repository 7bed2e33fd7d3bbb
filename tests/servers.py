"""Real PostgreSQL and SeaweedFS servers for the store tests, on loopback, once per session.

The servers themselves are in tests/services.py (the benchmark starts them too). Where one
cannot run (PostgreSQL not installed, no `weed`), its tests are skipped with one line; with `CI`
set they fail instead, so CI never goes green by skipping. `make test` installs both (see the
Makefile's `services`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reliablep2p.proto import FileInfo
from reliablep2p.storage.stores import Stores, open_stores

from .services import (
    BUCKET,
    S3_ENV,
    S3_KEY,
    S3_SECRET,
    Postgres,
    Seaweed,
    Unavailable,
    free_port,
    postgres_bin,
    running_postgres,
    running_seaweed,
    server_folder,
    wait_until,
)

__all__ = ["BUCKET", "S3_ENV", "S3_KEY", "S3_SECRET", "Backend", "Postgres", "Seaweed",
           "free_port", "postgres", "postgres_bin", "scaled", "scaled_backend", "seaweed",
           "server_folder", "wait_until"]  # fmt: skip


def unavailable(why: str) -> None:
    """Skip, or fail under CI: a service the tests need is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must run these tests: make test installs it)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_postgres())
        except Unavailable as why:
            unavailable(f"{why}: tests skipped")
        yield server


@pytest.fixture(scope="session")
def seaweed() -> Iterator[Seaweed]:
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_seaweed())
        except Unavailable as why:
            unavailable(f"{why}: tests skipped")
        yield server


# -------------------------------------------------------------- stores on them


@dataclass
class Backend:
    """Where one test's stores live; `stores()` makes them anew, as a restart does."""

    data_dir: Path
    store: str | None = None
    vault: str | None = None
    endpoint: str | None = None

    def stores(self, **options: int) -> Stores:
        made = open_stores(self.data_dir, store=self.store, vault=self.vault,
                           s3_endpoint=self.endpoint, **options)  # fmt: skip
        made.prepare()
        return made

    def opened(self, **options: int) -> tuple[Stores, list[FileInfo]]:
        made = self.stores(**options)
        return made, made.open()


def scaled_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    postgres: Postgres = request.getfixturevalue("postgres")
    seaweed: Seaweed = request.getfixturevalue("seaweed")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    for name, value in S3_ENV.items():  # the credentials come as users give them
        monkeypatch.setenv(name, value)
    return Backend(tmp_path / "db", postgres.new_database(), seaweed.new_vault(), seaweed.endpoint)


@pytest.fixture
def scaled(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return scaled_backend(request, tmp_path)
