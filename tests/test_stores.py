"""The store suite: the same tests for the embedded stores (SQLite + the local vault) and the
scaled ones (PostgreSQL + an S3 vault on SeaweedFS), real servers on loopback."""

from __future__ import annotations

import concurrent.futures
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from reliablep2p.proto import CHUNK_SIZE, ErrorCode, FileInfo, RemoteProtocolError, iter_chunks
from reliablep2p.proto.codes import parse_code
from reliablep2p.proto.content import describe_bytes
from reliablep2p.storage.interfaces import Vault

from .conftest import random_bytes
from .servers import Backend, scaled_backend

BACKENDS = ["sqlite+folder", "postgresql+s3"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite+folder":
        return Backend(tmp_path / "db")
    return scaled_backend(request, tmp_path)


def store_blob(vault: Vault, data: bytes, name: str = "f.bin") -> FileInfo:
    info = describe_bytes(data, name)
    blob = vault.start_blob(info)
    for piece in iter_chunks(data):
        blob.write_chunk(piece)
    blob.finish()
    return info


def read_blob(vault: Vault, info: FileInfo) -> bytes:
    source = vault.source(info)
    if isinstance(source, Path):
        return source.read_bytes()
    return b"".join(source(index) for index in range(len(info.chunks)))


DATA = random_bytes(2 * CHUNK_SIZE + 777, seed=15)


def test_a_backed_up_file_survives_a_restart_and_proves_possession(backend: Backend) -> None:
    stores, catalog = backend.opened()
    assert catalog == []
    info = store_blob(stores.vault, DATA)
    stores.metadata.add_file(info)
    stores.close()

    stores, catalog = backend.opened()
    try:
        assert catalog == [info]
        assert read_blob(stores.vault, info) == DATA
        nonce = b"n" * 32
        assert stores.vault.possession_proof(info, nonce) == hashlib.sha256(nonce + DATA).digest()
    finally:
        stores.close()


def test_a_blob_is_invisible_until_every_chunk_is_in(backend: Backend) -> None:
    stores, _ = backend.opened()
    try:
        info = describe_bytes(DATA, "half.bin")
        blob = stores.vault.start_blob(info)
        blob.write_chunk(DATA[:CHUNK_SIZE])
        blob.write_chunk(DATA[CHUNK_SIZE : 2 * CHUNK_SIZE])
        assert not stores.vault.has_blob(info)
        assert stores.vault.missing([info]) == [info]
        with pytest.raises(RemoteProtocolError):
            blob.finish()
        blob.abandon()
        assert not stores.vault.has_blob(info)
        assert store_blob(stores.vault, DATA, "half.bin") == info
        assert stores.vault.has_blob(info) and stores.vault.missing([info]) == []
    finally:
        stores.close()


def test_a_chunk_that_does_not_match_the_catalog_is_refused(backend: Backend) -> None:
    stores, _ = backend.opened()
    try:
        info = describe_bytes(DATA, "bad.bin")
        blob = stores.vault.start_blob(info)
        with pytest.raises(RemoteProtocolError) as refused:
            blob.write_chunk(DATA[CHUNK_SIZE : 2 * CHUNK_SIZE])  # the second chunk, first
        assert refused.value.code == ErrorCode.BAD_CONTENT
        blob.abandon()
        assert not stores.vault.has_blob(info)
    finally:
        stores.close()


def test_a_catalog_entry_whose_blob_is_missing_is_dropped_on_open(backend: Backend) -> None:
    stores, _ = backend.opened()
    kept = store_blob(stores.vault, b"kept", "kept.txt")
    lost = describe_bytes(b"never stored", "lost.txt")
    stores.metadata.add_file(kept)
    stores.metadata.add_file(lost)
    stores.close()
    stores, catalog = backend.opened()
    try:
        assert catalog == [kept]
        assert stores.metadata.catalog() == [kept]
    finally:
        stores.close()


def test_members_join_codes_and_revocations_are_kept(backend: Backend) -> None:
    stores, _ = backend.opened()
    metadata = stores.metadata
    code = metadata.new_invite(uses=2, seconds=60)
    number = parse_code(code)[0]
    assert metadata.invite_password(number) == code.encode()
    assert metadata.enroll_member("carol", number) is None
    assert metadata.enroll_member("c\u0430rol", number) == "carol"  # a Cyrillic a: refused
    assert metadata.invite_password(number) == code.encode(), "a refusal used the code up"
    assert metadata.enroll_member("dave", number) is None
    assert metadata.invite_password(number) is None, "two uses, both used"
    assert metadata.revoke("carol") and not metadata.revoke("nobody")
    stores.close()

    stores, _ = backend.opened()
    try:
        assert stores.metadata.revoked() == {"carol"}
        assert stores.metadata.enroll_member("carol", number) == "carol", "kicked, still taken"
    finally:
        stores.close()


def test_the_start_code_is_kept_until_it_is_used_up(backend: Backend) -> None:
    stores, _ = backend.opened()
    first = stores.metadata.start_code(uses=1, seconds=60)
    stores.close()
    stores, _ = backend.opened()
    try:
        again = stores.metadata.start_code(uses=1, seconds=60)
        assert again.code == first.code and again.uses_left == 1
        assert stores.metadata.enroll_member("erin", parse_code(first.code)[0]) is None
        fresh = stores.metadata.start_code(uses=1, seconds=60)
        assert fresh.code != first.code, "a used-up start code was printed again"
    finally:
        stores.close()


def test_scores_are_kept(backend: Backend) -> None:
    stores, _ = backend.opened()
    stores.metadata.save_player("ann", 10, 1, 0)
    stores.metadata.save_player("ann", 25, 2, 1)
    stores.metadata.save_player("bob", 5, 1, 0)
    stores.close()
    stores, _ = backend.opened()
    try:
        assert stores.metadata.load_players() == {"ann": (25, 2, 1), "bob": (5, 1, 0)}
    finally:
        stores.close()


def test_look_alike_names_enrolling_at_once_admit_exactly_one(backend: Backend) -> None:
    stores, _ = backend.opened()
    look_alikes = ["carol", "c\u0430rol", "caro1", "\u0441arol", "c\u0430ro1", "\u0441aro1"]
    enroll: Callable[[str], str | None] = lambda name: stores.metadata.enroll_member(name, 0)  # noqa: E731
    try:
        with concurrent.futures.ThreadPoolExecutor(len(look_alikes)) as pool:
            for round_ in range(12):  # the race is narrow: run it again and again
                names = [f"r{round_}-{name}" for name in look_alikes]
                outcomes = list(pool.map(enroll, names))
                assert outcomes.count(None) == 1, outcomes
                assert len({o for o in outcomes if o is not None}) == 1, outcomes
    finally:
        stores.close()


def test_the_game_records_are_kept_and_expired_treasure_leaves_the_vault(backend: Backend) -> None:
    stores, _ = backend.opened()
    treasure = store_blob(stores.vault, b"fresh treasure", "treasure-1.bin")
    stores.metadata.add_treasure(treasure, 3)
    stores.metadata.record_holdings([("ann", treasure.hash, 3, "planted")] * 2)
    stores.metadata.save_rounds(3)
    stores.close()

    stores, catalog = backend.opened()
    try:
        assert catalog == [treasure]
        assert stores.metadata.load_treasure() == {"treasure-1.bin": (treasure.hash, 3)}
        assert stores.metadata.load_holdings() == {"ann": {treasure.hash: 3}}
        assert stores.metadata.rounds_played() == 3
        gone = stores.metadata.expire_treasure(["treasure-1.bin"], 9)
        assert gone == {treasure.hash}
        for digest in gone:
            stores.vault.delete_blob(digest)
        assert not stores.vault.has_blob(treasure)
        assert stores.metadata.catalog() == [] and stores.metadata.load_holdings() == {}
        assert stores.metadata.expired_hashes() == {treasure.hash: 9}
        assert stores.metadata.load_running_round() is None
        stores.metadata.save_running_round(b"round 4, 60 s left")
        stores.metadata.save_running_round(b"round 4, 30 s left")
        assert stores.metadata.load_running_round() == b"round 4, 30 s left"
        stores.metadata.save_running_round(None)
        assert stores.metadata.load_running_round() is None
    finally:
        stores.close()


def test_database_peers_are_listed_while_their_heartbeat_is_fresh(backend: Backend) -> None:
    """Each database peer registers where players reach it; one that stops beating drops off
    (by the store's clock), one that stops cleanly at once, one that restarts takes its row."""
    stores, _ = backend.opened()
    metadata = stores.metadata
    try:
        metadata.register_database_peer("one", [("10.0.0.1", 9000), ("192.168.1.5", 9000)])
        metadata.register_database_peer("two", [("10.0.0.2", 9000)])
        assert metadata.database_peers(15) == [
            ("10.0.0.1", 9000), ("10.0.0.2", 9000), ("192.168.1.5", 9000)
        ]  # fmt: skip
        assert metadata.database_peers(-1) == [], "rows older than the age asked are not listed"
        metadata.register_database_peer("one", [("10.0.0.1", 9000)])  # an address went away
        metadata.forget_database_peer("two")
        metadata.register_database_peer("three", [("10.0.0.1", 9000)])  # restarted there
        assert metadata.database_peers(15) == [("10.0.0.1", 9000)]
        metadata.forget_database_peer("one")
        assert metadata.database_peers(15) == [("10.0.0.1", 9000)], "three holds it now"
    finally:
        stores.close()


def test_who_shared_what_is_kept_and_a_removed_file_leaves_the_records(backend: Backend) -> None:
    stores, _ = backend.opened()
    try:
        notes = store_blob(stores.vault, b"notes", "notes.txt")
        twin = store_blob(stores.vault, b"notes", "twin.txt")
        other = store_blob(stores.vault, b"other", "other.txt")
        stores.metadata.add_file(notes, "ann")
        stores.metadata.add_file(twin, "bob")
        stores.metadata.add_file(other, "bob")
        stores.metadata.record_shared("ann", ["other.txt", "other.txt"])
        stores.metadata.record_holdings([("ann", notes.hash, 1, "published")])
    finally:
        stores.close()

    stores, _ = backend.opened()
    try:
        metadata = stores.metadata
        assert [i.name for i in metadata.shared_by("ann")] == ["notes.txt", "other.txt"]
        assert metadata.shared_by("bob") == [twin, other]
        assert metadata.remove_file("notes.txt") == [notes, twin], "every name of its content"
        assert metadata.remove_file("twin.txt") == []
        assert [i.name for i in metadata.catalog()] == ["other.txt"]
        assert [i.name for i in metadata.shared_by("ann")] == ["other.txt"]
        assert metadata.removed_hashes() == {notes.hash}
        assert metadata.load_holdings() == {}
        stores.vault.delete_blob(notes.hash)
        stores.vault.erase_chunks(set(notes.chunks))
        assert stores.vault.missing([notes, other]) == [notes]
        assert read_blob(stores.vault, other) == b"other"
    finally:
        stores.close()


def test_the_settings_and_the_evening_so_far_are_kept_until_goodnight(backend: Backend) -> None:
    stores, _ = backend.opened()
    stores.metadata.save_settings({"round-seconds": "30", "targets": "3"})
    stores.metadata.save_settings({"round-seconds": "45"})
    stores.metadata.save_evening_round(2, b"second")
    stores.metadata.save_evening_round(1, b"first")
    stores.metadata.save_evening_round(1, b"first, again")  # a round is kept once
    stores.close()
    stores, _ = backend.opened()
    try:
        assert stores.metadata.load_settings() == {"round-seconds": "45", "targets": "3"}
        assert stores.metadata.load_evening() == [b"first", b"second"]
        stores.metadata.end_evening()
        assert stores.metadata.load_evening() == []
        assert stores.metadata.load_settings() == {"round-seconds": "45", "targets": "3"}
    finally:
        stores.close()
