"""What the database peer needs of its stores, whatever keeps them.

Two stores, because they scale differently: the metadata (catalog, members, revocations,
invites, scores) is small and transactional (SQLite, or PostgreSQL for a group that outgrows one
machine); the vault holds the backed-up bytes, content-addressed (a local folder, or an
S3-compatible object store). The database peer depends on these protocols only, so a new
backend is a new class, and a new kind of record is a new method and a schema migration.
Every method blocks: the database peer calls them from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ..proto import ErrorCode, FileInfo, LocalProtocolError
from .startcode import StartCode


class StoreError(Exception):
    """A store cannot be used as it is (damaged, lost, unreachable at start, made by a newer
    rp2p); the message is one line for people and the database peer does not start."""


class StoreUnavailable(LocalProtocolError):
    """A store that worked cannot be reached now (the PostgreSQL server or the object store is
    down). The request fails with `internal` and one line; the asker tries again later."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.INTERNAL, detail)


CACHE_DIR = "vault-cache"
"""The folder in the data folder where an object-store vault caches chunks it read."""

ReadChunk = Callable[[int], bytes]
"""Chunk `index` of one blob, verified against its hash (raises if the copy is damaged)."""


class MetadataStore(Protocol):
    """The catalog, the members and their revocations, the join codes, the scores."""

    @property
    def where(self) -> str:
        """Where it is, for logs and messages (never a password)."""
        ...

    def prepare(self) -> None:
        """Make a new store if there is none; refuse (`StoreError`) one that was lost."""

    def open(self) -> None:
        """Connect to an existing store and bring its schema up to date (`StoreError`)."""

    def close(self) -> None: ...

    def catalog(self) -> list[FileInfo]:
        """Every cataloged file, oldest first."""
        ...

    def add_file(self, info: FileInfo, publisher: str | None = None) -> None:
        """Catalog a file whose blob is already in the vault (`publisher` shared it)."""

    def drop_file(self, name: str) -> None: ...

    def record_shared(self, player: str, names: list[str]) -> None:
        """`player` published these catalog files too."""

    def sharers(self, name: str) -> set[str]:
        """Every player who published catalog file `name`."""
        ...

    def shared_by(self, player: str) -> list[FileInfo]:
        """The catalog files `player` ever published (what `rp2p-peer restore` brings back)."""
        ...

    def remove_file(self, name: str) -> list[FileInfo]:
        """The host's `remove`: `name` and every name of its content out of the catalog, that
        content refused from now on; the entries taken out (the caller deletes the blob)."""
        ...

    def removed_hashes(self) -> set[bytes]: ...

    def load_players(self) -> dict[str, tuple[int, int, int]]:
        """Every player's (score, files found, rounds won)."""
        ...

    def save_player(self, name: str, score: int, files_found: int, wins: int) -> None: ...

    def save_running_round(self, state: bytes | None) -> None:
        """Keep the running round's snapshot (None: no round runs)."""

    def load_running_round(self) -> bytes | None: ...

    def new_invite(self, *, uses: int, seconds: float) -> str:
        """Mint a join code good for `uses` enrollments within `seconds`."""
        ...

    def start_code(self, *, uses: int, seconds: float) -> StartCode:
        """The join code printed at start: the last one while still good, else a new one."""
        ...

    def invite_password(self, number: int) -> bytes | None:
        """The code of a live invite, or None."""
        ...

    def enroll_member(self, name: str, number: int) -> str | None:
        """Record a member and use up one enrollment of invite `number`; or, recording
        nothing, the member whose name `name` is or looks like."""
        ...

    def revoke(self, name: str) -> bool:
        """Revoke a member for good; False if nobody has that name."""
        ...

    def revoked(self) -> set[str]: ...

    # the database peers sharing this store (database/directory.py)

    def register_database_peer(self, peer_id: str, addresses: Sequence[tuple[str, int]]) -> None:
        """Database peer `peer_id` is alive, reached at `addresses` (a heartbeat)."""

    def database_peers(self, max_age: float) -> list[tuple[str, int]]:
        """Addresses of the database peers whose heartbeat is at most `max_age` seconds old."""
        ...

    def forget_database_peer(self, peer_id: str) -> None: ...

    # the game's records (game/records.py, game/host.py, database/treasury.py)

    def load_holdings(self) -> dict[str, dict[bytes, int]]:
        """Player -> content hash -> the round the host first saw it hold that."""
        ...

    def record_holdings(self, rows: list[tuple[str, bytes, int, str]]) -> None:
        """(player, hash, round, how), each kept once."""

    def rounds_played(self) -> int: ...

    def save_rounds(self, number: int) -> None: ...

    def add_treasure(self, info: FileInfo, number: int) -> None:
        """Catalog a planted file (its blob is in the vault) with its round."""

    def load_treasure(self) -> dict[str, tuple[bytes, int]]: ...

    def expire_treasure(self, names: list[str], number: int) -> set[bytes]:
        """Drop planted files; the content no catalog entry has any more (for the vault)."""
        ...

    def expired_hashes(self) -> dict[bytes, int]: ...

    # what a new round host takes over (storage/gamekeeping.py)

    def load_settings(self) -> dict[str, str]:
        """The game's settings as set (`rp2p-db set`, command-line options): key -> value."""
        ...

    def save_settings(self, values: Mapping[str, str]) -> None: ...

    def save_evening_round(self, number: int, summary: bytes) -> None: ...

    def load_evening(self) -> list[bytes]:
        """This evening's finished rounds (their summaries), in order."""
        ...

    def end_evening(self) -> None: ...


class BlobWriter(Protocol):
    """A blob being stored: each chunk verified as it comes, visible only after `finish`."""

    @property
    def complete(self) -> bool: ...

    def write_chunk(self, data: bytes | memoryview) -> None:
        """Verify and store the next chunk; a bad one raises `RemoteProtocolError`."""

    def finish(self) -> None:
        """Make the blob visible under its content hash (all chunks are in)."""

    def abandon(self) -> None:
        """Give up; nothing of it is visible."""


class Vault(Protocol):
    """Content-addressed blobs: written once, each under the hash of its content."""

    @property
    def where(self) -> str: ...

    @property
    def remote(self) -> bool:
        """True for a shared object store (a misconfigured one looks empty, not damaged)."""
        ...

    def open(self) -> None:
        """Check it can be used (`StoreError`) and clear what an interrupted upload left."""

    def close(self) -> None: ...

    def has_blob(self, info: FileInfo) -> bool: ...

    def missing(self, infos: list[FileInfo]) -> list[FileInfo]:
        """Those of `infos` whose blob is not (wholly) in the vault."""
        ...

    def start_blob(self, info: FileInfo) -> BlobWriter: ...

    def delete_blob(self, digest: bytes) -> None:
        """Forget a blob no catalog entry has (expired treasure); absent is no error."""

    def erase_chunks(self, digests: Collection[bytes]) -> None:
        """Delete the chunks of a removed file that no other blob has (where chunks are kept
        apart from blobs); absent is no error."""

    def source(self, info: FileInfo) -> Path | ReadChunk:
        """How to serve the blob: a local file (sent by the kernel) or chunk by chunk."""
        ...

    def possession_proof(self, info: FileInfo, nonce: bytes) -> bytes:
        """SHA-256 of `nonce` followed by the blob's bytes."""
        ...
