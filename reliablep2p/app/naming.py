"""The name a player gets when it gives none: its login name, made a valid player name.

The brief runs `rp2p-tui --port 8001` on every machine, so a name made from the port
(`player-8001`) is the same on every machine and the second friend was refused. A login name
differs across friends' machines; where it does not (two `student`s, or one machine's
namespaces), the join tries `NAME-2`, `NAME-3`... (`candidates`) and a restart finds the one
it got in its profiles. A name the player gave is never changed: taken, it refuses.
"""

from __future__ import annotations

import getpass
import socket
import unicodedata

from ..proto.checks import MAX_NAME_BYTES, name_problem

SUFFIXES = 9
"""Defaulted names tried: NAME, NAME-2 ... NAME-9; then the player is asked for --name."""


def default_name(port: int) -> str:
    """The login name (else the host name, else `player-PORT`), as a valid player name."""
    for source in (_login, socket.gethostname):
        try:
            name = _valid(source())
        except (OSError, KeyError, ValueError):
            continue
        if name:
            return name
    return f"player-{port}"


def candidates(base: str) -> list[str]:
    """The names a defaulted `base` may have been given, in the order they are tried."""
    return [base, *(f"{base}-{n}" for n in range(2, SUFFIXES + 1))]


def _login() -> str:
    return getpass.getuser()  # LOGNAME, USER, LNAME, USERNAME, then the password database


def _valid(raw: str) -> str:
    """`raw` with what a player name may not hold dropped; "" if nothing acceptable is left."""
    text = unicodedata.normalize("NFC", raw)
    kept = "".join(
        "-" if c in "/\\" or c.isspace() else c
        for c in text
        if c.isprintable() or c.isspace()
        if unicodedata.category(c) != "Cf"
    )
    kept = kept.strip("-. ")
    while len(kept.encode()) > MAX_NAME_BYTES - len(f"-{SUFFIXES}"):  # room for a suffix
        kept = kept[:-1]
    kept = unicodedata.normalize("NFC", kept).strip("-. ")
    return kept if kept and name_problem(kept) is None else ""
