"""A backup the database peer cannot take is tried again less and less often, and told once.

The database peer's data folder is on a 2 MiB disk, so a 3 MiB file's upload fails for real
(no space left in its vault), every time, until the disk grows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from reliablep2p.peer import events
from reliablep2p.proto import CHUNK_SIZE

from .conftest import Network, random_bytes, until
from .smalldisk import resize, small_disk

WINDOW = 200
"""Rescans watched: without backoff that is about one upload attempt each."""


@pytest.fixture
def vault_disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "db", 2) as path:
        yield path


def refused_uploads(caplog: pytest.LogCaptureFixture) -> int:
    """Uploads the database peer turned away, as its log tells."""
    return sum(
        1
        for record in caplog.records
        if record.getMessage().startswith("database: ")
        and ("refused a request" in record.getMessage() or "internal error" in record.getMessage())
    )


async def test_a_refused_backup_backs_off_and_is_told_once_per_streak(
    vault_disk: Path, tmp_path: Path, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rp2p")
    network = Network(nursery, tmp_path)
    await network.start_db()
    node = await network.peer(rescan_interval=0.01)
    told: list[events.Event] = []
    node.subscribe(
        lambda e: told.append(e) if isinstance(e, events.BackupFailed | events.BackedUp) else None
    )
    assert node.share is not None
    (node.share.path / "big.bin").write_bytes(random_bytes(3 * CHUNK_SIZE, seed=8))

    await until(lambda: told)
    first_round = node.publisher.rounds
    await until(lambda: node.publisher.rounds >= first_round + WINDOW, timeout=30)
    attempts = refused_uploads(caplog)
    assert 3 <= attempts <= 12, f"{attempts} uploads in {WINDOW} rescans"
    assert [type(e) for e in told] == [events.BackupFailed], told

    resize(vault_disk, 16)  # the host made room
    await until(lambda: "big.bin" in network.db.catalog, timeout=30)
    await until(lambda: isinstance(told[-1], events.BackedUp))
    assert [type(e) for e in told] == [events.BackupFailed, events.BackedUp], told
    assert told[-1] == events.BackedUp("big.bin", failed_tries=refused_uploads(caplog))
    print(f"{attempts} uploads in {WINDOW} rescans; backed up after {refused_uploads(caplog)}")
    network.db.stop()
    node.stop()
