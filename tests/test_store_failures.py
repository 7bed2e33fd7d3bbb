"""What the stores do when their servers fail: refused at start with one line, failing only the
requests that need them while down, back to work without a restart when the server is."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import obstore
import pytest
import trio

from reliablep2p.game.host import HuntHost
from reliablep2p.game.settings import GameSettings
from reliablep2p.peer import events
from reliablep2p.proto import CHUNK_SIZE, LocalProtocolError
from reliablep2p.proto.content import describe_bytes
from reliablep2p.storage.interfaces import StoreError, StoreUnavailable
from reliablep2p.storage.postgres import PostgresMetadata
from reliablep2p.storage.s3 import S3Vault

from .conftest import Network, random_bytes, until
from .servers import Backend, Postgres, Seaweed, free_port
from .test_stores import read_blob, store_blob

RP2P_DB = Path(sys.executable).parent / "rp2p-db"


@pytest.mark.parametrize("down", ["postgresql", "s3"])
def test_rp2p_db_says_in_one_line_that_a_store_cannot_be_reached(tmp_path: Path, down: str) -> None:
    dead = f"127.0.0.1:{free_port()}"
    options, said = {
        "postgresql": (["--store", f"postgresql://rp2p@{dead}/rp2p"],
                       f"rp2p-db: cannot connect to postgresql://{dead}/rp2p: "),
        "s3": (["--vault", "s3://rp2p", "--s3-endpoint", f"http://{dead}"],
               f"rp2p-db: cannot use the vault s3://rp2p at http://{dead}: "),
    }[down]  # fmt: skip
    done = subprocess.run(
        [RP2P_DB, "--data", tmp_path / "db", *options, "--port", "0", "--insecure-lan"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2, done
    refusals = [line for line in done.stderr.splitlines() if line.startswith("rp2p-db:")]
    assert len(refusals) == 1 and refusals[0].startswith(said), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "db").exists(), "something was made before the store was known good"


def test_an_emptied_database_beside_a_data_folder_in_use_is_refused(
    postgres: Postgres, tmp_path: Path
) -> None:
    (tmp_path / "ca.key").write_bytes(b"the network's key")  # this network ran here
    store = PostgresMetadata(postgres.new_database(), tmp_path)
    with pytest.raises(StoreError, match=r"holds no rp2p catalog, but .* was in use"):
        store.prepare()
    store.close()


def test_postgresql_down_fails_only_the_calls_and_its_return_needs_no_restart(
    postgres: Postgres, tmp_path: Path
) -> None:
    store = PostgresMetadata(postgres.new_database(), tmp_path, wait_seconds=1)
    store.prepare()
    store.open()
    try:
        store.save_player("ann", 1, 1, 0)
        postgres.stop()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as down:
                store.save_player("ann", 2, 2, 0)
            assert time.monotonic() - started < 10
            assert "cannot be reached now" in down.value.detail
        finally:
            postgres.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                store.save_player("ann", 3, 3, 0)
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not come back"
                time.sleep(0.2)
        assert store.load_players() == {"ann": (3, 3, 0)}
    finally:
        store.close()


def test_an_object_store_that_does_not_answer_is_refused_at_start_and_fails_calls_later(
    tmp_path: Path,
) -> None:
    dead = S3Vault("s3://rp2p/x", endpoint=f"http://127.0.0.1:{free_port()}",
                   credentials={"skip_signature": True}, cache_dir=tmp_path)  # fmt: skip
    with pytest.raises(StoreError, match=r"cannot use the vault s3://rp2p/x at http://127"):
        dead.open()
    info = describe_bytes(b"x", "x")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        dead.has_blob(info)
    assert time.monotonic() - started < 15


def test_a_range_read_fetches_only_its_chunks_and_proofs_share_the_cache(
    scaled: Backend, seaweed: Seaweed
) -> None:
    stores, _ = scaled.opened(cache_bytes=0)  # no cache: every read goes to the object store
    data = random_bytes(4 * CHUNK_SIZE + 5, seed=3)
    vault = stores.vault
    assert isinstance(vault, S3Vault)
    info = store_blob(vault, data)
    before = vault.fetched
    assert vault.read_chunk(info, 3) == data[3 * CHUNK_SIZE : 4 * CHUNK_SIZE]
    assert vault.fetched - before == CHUNK_SIZE
    stores.close()

    stores, _ = scaled.opened()  # a cache: the first proof reads the blob, later ones do not
    vault = stores.vault
    assert isinstance(vault, S3Vault)
    for nonce in (b"a" * 32, b"b" * 32, b"c" * 32):
        assert vault.possession_proof(info, nonce) == hashlib.sha256(nonce + data).digest()
    assert vault.fetched <= len(data), f"{vault.fetched} bytes read for three proofs"
    stores.close()


def test_a_damaged_chunk_in_the_object_store_is_never_served(
    scaled: Backend, seaweed: Seaweed, tmp_path: Path
) -> None:
    stores, _ = scaled.opened(cache_bytes=0)
    data = random_bytes(2 * CHUNK_SIZE, seed=4)
    vault = stores.vault
    assert isinstance(vault, S3Vault)
    info = store_blob(vault, data)
    evil = data[:CHUNK_SIZE][::-1]
    obstore.put(vault._store, f"chunks/{info.chunks[1].hex()}", evil)  # the disk rotted
    assert read_blob(vault, describe_bytes(data[:CHUNK_SIZE], "first")) == data[:CHUNK_SIZE]
    with pytest.raises(LocalProtocolError, match="is damaged"):
        vault.read_chunk(info, 1)
    with pytest.raises(LocalProtocolError, match="is damaged"):
        vault.possession_proof(info, b"n" * 32)
    stores.close()


def test_a_vault_that_lacks_every_cataloged_file_is_refused_not_emptied(
    scaled: Backend, seaweed: Seaweed
) -> None:
    stores, _ = scaled.opened()
    stores.metadata.add_file(store_blob(stores.vault, b"kept", "kept.txt"))
    stores.close()
    scaled.vault = seaweed.new_vault()  # the wrong prefix: the same bucket, none of the blobs
    with pytest.raises(StoreError, match="none of the 1 cataloged files is in the vault"):
        scaled.opened()
    stores = scaled.stores()
    stores.metadata.open()
    assert [info.name for info in stores.metadata.catalog()] == ["kept.txt"], "the catalog went"
    stores.close()


class FlakyScores:
    """A metadata store whose server is down until `up` is set."""

    def __init__(self) -> None:
        self.up = False
        self.saved: dict[str, tuple[int, int, int]] = {}

    def save_player(self, name: str, score: int, files_found: int, wins: int) -> None:
        if not self.up:
            raise StoreUnavailable("the metadata database cannot be reached now (test)")
        self.saved[name] = (score, files_found, wins)


async def test_scores_made_while_the_store_is_down_are_written_when_it_is_back() -> None:
    store = FlakyScores()
    hunt = HuntHost(store, None, settings=GameSettings())  # type: ignore[arg-type]
    hunt.roster_changed("ann")
    hunt.roster_changed("bob")
    hunt.players["ann"].score = 10
    await hunt.save_player("ann")  # down: kept here, not lost, and nothing raised
    assert store.saved == {}
    store.up = True
    hunt.players["bob"].score = 5
    await hunt.save_player("bob")
    assert store.saved == {"ann": (10, 0, 0), "bob": (5, 0, 0)}


async def test_a_file_published_while_the_vault_is_down_is_backed_up_once_it_is_back(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = network.db.vault

    def down(*args: object) -> None:
        raise StoreUnavailable("the vault's object store cannot be reached now (test)")

    monkeypatch.setattr(vault, "has_blob", down)
    monkeypatch.setattr(vault, "start_blob", down)
    node = await network.peer(rescan_interval=0.01)
    told: list[events.Event] = []
    node.subscribe(
        lambda e: told.append(e) if isinstance(e, events.BackupFailed | events.BackedUp) else None
    )
    assert node.share is not None
    (node.share.path / "late.txt").write_bytes(b"published while the vault was down")
    await until(lambda: told, timeout=20)
    assert isinstance(told[0], events.BackupFailed)  # told once; tried again less and less often
    monkeypatch.undo()
    await until(lambda: "late.txt" in network.db.catalog, timeout=30)
    await until(lambda: isinstance(told[-1], events.BackedUp), timeout=10)
    node.stop()
    other = await network.peer()
    with trio.fail_after(10):
        result = await other.get("late.txt")
    assert result.from_vault
    assert result.path.read_bytes() == b"published while the vault was down"
