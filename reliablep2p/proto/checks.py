"""Checks on what arrives: file names that could escape a folder or pose as another, catalog
entries, versions."""

from __future__ import annotations

import functools
import unicodedata
from typing import TYPE_CHECKING

from .content import chunk_count, content_hash
from .errors import ErrorCode, RemoteProtocolError, VersionMismatch
from .messages import (
    HASH_BYTES,
    MAX_DATABASE_PEERS,
    MAX_NAME_BYTES,
    PROTOCOL_VERSION,
    FileInfo,
    Hello,
)

if TYPE_CHECKING:
    import regex


def check_name(name: str) -> None:
    """Refuse any file name that could escape the shared folder, hide in it or pose as another.

    Raises `RemoteProtocolError(BAD_NAME)` for names that are empty, too long, contain a path
    separator, a control, bidi or invisible format character, start with a dot (also covers
    ``.`` and ``..``), start or end with white space, or are not in Unicode NFC form.
    """
    reason = name_problem(name)
    if reason:
        raise RemoteProtocolError(ErrorCode.BAD_NAME, f"refused file name {name!r}: {reason}")


def name_problem(name: str) -> str | None:
    """Why `name` is not an acceptable file (or player) name, or None if it is.

    Names in every script are welcome; what is refused is what lets a name look like something
    it is not: a bidi control reorders what the reader sees, a format character (category Cf:
    zero-width space, joiners, BOM...) is invisible, and a name not in NFC form (an accent as a
    separate mark) looks exactly like its NFC twin. Look-alikes of *other* names are the
    catalog's business (`lookalike.Lookalikes`).
    """
    if not name:
        return "empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid text"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if any(unicodedata.category(c) in _CONTROLS for c in name):
        return "contains NUL or a control character"
    if invisible := next((c for c in name if unicodedata.category(c) == "Cf"), None):
        if bidi := _bidi_control().search(name):  # every bidi control is a format character
            return f"contains the bidi control {_described(bidi[0])}, which reorders what is shown"
        return f"contains the invisible character {_described(invisible)}"
    if name.startswith("."):
        return "starts with a dot"
    if name != name.strip():
        return "starts or ends with white space"
    if not unicodedata.is_normalized("NFC", name):
        return "is not in Unicode NFC form (say, an accent stored as a separate mark)"
    return None


_CONTROLS = ("Cc", "Zl", "Zp")
"""Controls (C0, DEL, C1) and the line and paragraph separators."""


@functools.cache
def _bidi_control() -> regex.Pattern[str]:
    """The bidi controls (Unicode's property, as `regex` knows it), compiled when a name first
    has a format character: `regex` takes ~20 ms to import, and most names have none."""
    import regex

    return regex.compile(r"\p{Bidi_Control}")


def _described(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()


def check_file_info(info: FileInfo) -> None:
    """Refuse a catalog entry whose name, size or hashes do not hang together."""
    check_name(info.name)
    if info.size < 0:
        raise RemoteProtocolError(ErrorCode.MALFORMED, f"{info.name}: negative size")
    if len(info.chunks) != chunk_count(info.size):
        raise RemoteProtocolError(
            ErrorCode.MALFORMED, f"{info.name}: chunk list does not match size"
        )
    if any(len(h) != HASH_BYTES for h in info.chunks) or info.hash != content_hash(info.chunks):
        raise RemoteProtocolError(ErrorCode.MALFORMED, f"{info.name}: hashes do not match")


def check_database_addresses(addresses: list[tuple[str, int]]) -> None:
    """Refuse a list of database peers a player could not dial (or too long a list)."""
    if len(addresses) > MAX_DATABASE_PEERS:
        raise RemoteProtocolError(ErrorCode.TOO_LARGE, f"{len(addresses)} database peers listed")
    for host, port in addresses:
        if not 0 < port < 65536 or not host or len(host) > MAX_NAME_BYTES:
            raise RemoteProtocolError(ErrorCode.MALFORMED, f"no database peer at {host!r}:{port}")
        if not host.isprintable() or " " in host:
            raise RemoteProtocolError(ErrorCode.MALFORMED, f"no database peer at {host!r}:{port}")


def check_version(hello: Hello) -> None:
    """Refuse a `hello` of another protocol version (`VersionMismatch` names both)."""
    if hello.version != PROTOCOL_VERSION:
        raise VersionMismatch(hello.version, PROTOCOL_VERSION)
