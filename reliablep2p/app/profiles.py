"""A player's profiles: one per network and name, each remembering where its host was last.

A profile folder holds the player's key and certificate (`net/identity.Identity`) and
`host.json`: the network's tag, its name, the address its database peer was last reached at, and
the network's other database peers as last listed (where to look when that one is away); and
`player.json`: the port the player last listened on and the folder it shared, so a later start
with neither `--port` nor `--share` seeds (and resumes into) the same folder, not a new
``port_<another port>`` beside it; and `evening.json`: the evening so far as the player saw it,
so the line said at the end counts the rounds from before a restart too.
Folders live under the user data dir as ``networks/<tag in hex>/<name>``, so one person can play
in two networks under one name. Profiles made before networks had tags (``players/<name>``) are
still found and used where they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import platformdirs

from ..net.identity import Identity, SecurityError
from ..proto import EveningRow

DEFAULT_ROOT = Path(platformdirs.user_data_dir("rp2p"))
HOST_FILE = "host.json"
PLAYER_FILE = "player.json"
EVENING_FILE = "evening.json"
EVENING_GAP = 6 * 3600.0
"""Seconds after its last round that a kept evening is over (its host's goodnight unheard)."""


class KeptEvening(msgspec.Struct, frozen=True):
    """The evening so far, as the player saw it: everyone's rows, up to round `last`, which
    ended at `ended` (seconds since the epoch), of the evening its host named `evening`."""

    rows: list[EveningRow]
    last: int
    ended: float
    evening: int = 0
    """`Lobby.evening` (0: not told, or kept before it was): another evening's is not resumed."""


class Kept(msgspec.Struct, frozen=True):
    """Where the player last played from: its port and its shared folder (absolute)."""

    port: int
    share: Path


class LastHost(msgspec.Struct, frozen=True):
    """Where a network's database peer was last reached."""

    tag: bytes
    name: str
    address: tuple[str, int]
    others: tuple[tuple[str, int], ...] = ()
    """The network's other database peers, as last listed."""

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return list(dict.fromkeys([self.address, *self.others]))


class Profile(msgspec.Struct, frozen=True):
    """One player's folder in one network."""

    folder: Path

    @property
    def identity(self) -> Identity | None:
        return Identity.load(self.folder)

    @property
    def tag(self) -> bytes | None:
        """The network this profile belongs to (None before it joined one)."""
        identity = self.identity
        if identity is None:
            return None
        try:
            return identity.network_tag
        except (OSError, SecurityError):
            return None

    def last_host(self) -> LastHost | None:
        """The host last reached, if it is recorded (and belongs to this profile's network)."""
        try:
            saved = json.loads((self.folder / HOST_FILE).read_text())
            others = tuple((str(host), int(port)) for host, port in saved.get("databases", []))
            last = LastHost(bytes.fromhex(saved["tag"]), str(saved["name"]),
                            (str(saved["host"]), int(saved["port"])), others)  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none yet, or unreadable: discovery finds the host again
        return last if last.tag == self.tag else None

    def remember(self, last: LastHost) -> None:
        """Keep where the host is now, atomically (a crash leaves the old or the new record)."""
        host, port = last.address
        record: dict[str, object] = {
            "tag": last.tag.hex(), "name": last.name, "host": host, "port": port,
        }  # fmt: skip
        if last.others:
            record["databases"] = [list(address) for address in last.others]
        self._write(HOST_FILE, record)

    def kept(self) -> Kept | None:
        """The port and folder of the last start, if recorded (None: a first start)."""
        try:
            saved = json.loads((self.folder / PLAYER_FILE).read_text())
            return Kept(int(saved["port"]), Path(str(saved["share"])))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def keep(self, kept: Kept) -> None:
        """Remember this start's port and folder for the next one."""
        if kept != self.kept():
            self._write(PLAYER_FILE, {"port": kept.port, "share": str(kept.share)})

    def kept_evening(self, now: float) -> KeptEvening | None:
        """The evening kept at the last round seen, unless it is over by now."""
        try:
            kept = msgspec.json.decode((self.folder / EVENING_FILE).read_bytes(), type=KeptEvening)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return kept if 0 <= now - kept.ended < EVENING_GAP else None

    def keep_evening(self, kept: KeptEvening | None) -> None:
        """Keep the evening so far (None: the host said goodnight, the next starts anew)."""
        if kept is None:
            (self.folder / EVENING_FILE).unlink(missing_ok=True)
        else:
            self._write(EVENING_FILE, msgspec.to_builtins(kept))

    def _write(self, filename: str, record: object) -> None:
        """Write a record atomically (a crash leaves the old or the new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f"{filename}.tmp"
        with tmp.open("w") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / filename)

    def remember_databases(self, addresses: list[tuple[str, int]]) -> None:
        """Keep the network's database peers as listed now, the one we are on first."""
        last, tag = self.last_host(), self.tag
        if tag is None or not addresses:
            return
        now = LastHost(tag, last.name if last else "the host", addresses[0],
                       tuple(a for a in addresses[1:] if a != addresses[0]))  # fmt: skip
        if now != last:
            self.remember(now)


class Profiles:
    """Every profile of this user, by network and player name."""

    def __init__(self, root: Path = DEFAULT_ROOT) -> None:
        self.root = root

    def for_network(self, tag: bytes, name: str) -> Profile:
        """Where `name`'s profile in network `tag` is (or will be, once it joins)."""
        return Profile(self.root / "networks" / tag.hex() / name)

    def of_player(self, name: str) -> dict[bytes, Profile]:
        """`name`'s profiles that hold an identity, by network tag."""
        found: dict[bytes, Profile] = {}
        networks = self.root / "networks"
        folders = sorted(n / name for n in networks.iterdir()) if networks.is_dir() else []
        for folder in [*folders, self.root / "players" / name]:  # the old place last
            profile = Profile(folder)
            tag = profile.tag
            if tag is not None:
                found.setdefault(tag, profile)
        return found
