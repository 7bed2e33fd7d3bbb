"""Schema versions: a data folder made before the version table opens with everything in it,
a newer schema is refused, and a new migration step applies on top, on both SQL backends."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest

from reliablep2p.storage import metadata
from reliablep2p.storage.interfaces import StoreError
from reliablep2p.storage.postgres import PostgresMetadata
from reliablep2p.storage.sqlite import SqliteMetadata
from reliablep2p.storage.stores import embedded

from .servers import Postgres

OLD_FOLDER = Path(__file__).parent / "data" / "datafolder-v0"
"""As `SqliteStore` of rp2p 0.1.0 (commit 5d22929) left it: see that commit's message."""


def test_a_data_folder_from_before_schema_versions_opens_with_everything_kept(
    tmp_path: Path,
) -> None:
    data = tmp_path / "db"
    shutil.copytree(OLD_FOLDER, data)
    stores = embedded(data)
    stores.prepare()
    catalog = stores.open()
    try:
        assert [info.name for info in catalog] == ["old-notes.txt"]
        source = stores.vault.source(catalog[0])
        assert isinstance(source, Path) and source.read_bytes().startswith(b"notes kept by rp2p")
        assert stores.metadata.revoked() == {"bob"}
        assert stores.metadata.enroll_member("ann", 0) == "ann", "ann is still a member"
        assert stores.metadata.load_players() == {"ann": (42, 3, 1)}
    finally:
        stores.close()
    with sqlite3.connect(data / "rp2p.sqlite3") as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [
            (len(metadata.MIGRATIONS),)
        ]
        assert db.execute("SELECT count(*) FROM invites").fetchone() == (1,)


GAME_FOLDER = Path(__file__).parent / "data" / "datafolder-game"
"""As `SqliteStore` of main at da9c9a8 left it: the game's records, still no schema version."""


def test_a_data_folder_with_the_game_records_but_no_schema_version_keeps_them(
    tmp_path: Path,
) -> None:
    data = tmp_path / "db"
    shutil.copytree(GAME_FOLDER, data)
    stores = embedded(data)
    stores.prepare()
    catalog = stores.open()
    try:
        assert [info.name for info in catalog] == ["treasure-0007.bin"]
        digest = catalog[0].hash
        assert stores.metadata.load_treasure() == {"treasure-0007.bin": (digest, 7)}
        assert stores.metadata.load_holdings() == {"ann": {digest: 7}}
        assert stores.metadata.rounds_played() == 7
        assert stores.metadata.load_players() == {"ann": (30, 2, 1)}
        assert stores.metadata.shared_by("ann") == catalog, "what ann held is what she shared"
        assert stores.metadata.removed_hashes() == set()
    finally:
        stores.close()


def test_a_schema_from_a_newer_rp2p_is_refused_with_one_line(tmp_path: Path) -> None:
    store = SqliteMetadata(tmp_path)
    store.prepare()
    with sqlite3.connect(tmp_path / "rp2p.sqlite3") as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="schema version 99, made by a newer rp2p") as refused:
        store.open()
    assert "\n" not in str(refused.value)


NEXT_STEP = ["CREATE TABLE sightings (name TEXT NOT NULL, player TEXT NOT NULL)"]
NEXT = [*metadata.MIGRATIONS, NEXT_STEP]


def test_a_new_migration_step_applies_once_to_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteMetadata(tmp_path)
    store.prepare()
    monkeypatch.setattr(metadata, "MIGRATIONS", NEXT)
    for _ in range(2):  # the second open finds it done
        store.open()
        store.close()
    with sqlite3.connect(tmp_path / "rp2p.sqlite3") as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (len(NEXT),)
        assert db.execute("SELECT count(*) FROM sightings").fetchone() == (0,)


def test_a_new_migration_step_applies_once_to_postgresql(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.new_database()
    store = PostgresMetadata(url, tmp_path)
    store.prepare()
    store.close()
    monkeypatch.setattr(metadata, "MIGRATIONS", NEXT)
    for _ in range(2):
        store = PostgresMetadata(url, tmp_path)
        store.open()
        store.close()
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (len(NEXT),)
        assert db.execute("SELECT count(*) FROM sightings").fetchone() == (0,)


def test_a_data_folder_of_schema_4_opens_with_everything_kept_and_no_settings_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before:  # as rp2p with schema 4 made it
        before.setattr(metadata, "MIGRATIONS", metadata.MIGRATIONS[:4])
        store = SqliteMetadata(tmp_path)
        store.prepare()
        store.open()
        store.save_player("ann", 42, 3, 1)
        store.save_rounds(7)
        store.close()
    store = SqliteMetadata(tmp_path)
    store.open()
    try:
        assert store.load_players() == {"ann": (42, 3, 1)} and store.rounds_played() == 7
        assert store.load_settings() == {} and store.load_evening() == []
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "rp2p.sqlite3") as db:
        assert db.execute("SELECT version FROM schema_version").fetchone() == (5,)
