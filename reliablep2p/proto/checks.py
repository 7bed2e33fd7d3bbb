"""Checks on what arrives: file names that could escape a folder, catalog entries, versions."""

from __future__ import annotations

from .content import chunk_count, content_hash
from .errors import ErrorCode, RemoteProtocolError
from .messages import HASH_BYTES, MAX_NAME_BYTES, PROTOCOL_VERSION, FileInfo, Hello


def check_name(name: str) -> None:
    """Refuse any file name that could escape the shared folder or hide in it.

    Raises `RemoteProtocolError(BAD_NAME)` for names that are empty, too long, contain a path
    separator, NUL or control characters, start with a dot (also covers ``.`` and ``..``)
    or end with a space.
    """
    reason = name_problem(name)
    if reason:
        raise RemoteProtocolError(ErrorCode.BAD_NAME, f"refused file name {name!r}: {reason}")


def name_problem(name: str) -> str | None:
    """Why `name` is not an acceptable file name, or None if it is."""
    if not name:
        return "empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains NUL or a control character"
    if name.startswith("."):
        return "starts with a dot"
    if name != name.strip():
        return "starts or ends with white space"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid text"
    return None


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


def check_version(hello: Hello) -> None:
    if hello.version != PROTOCOL_VERSION:
        raise RemoteProtocolError(
            ErrorCode.VERSION,
            f"protocol version {hello.version} is not supported (this node speaks "
            f"{PROTOCOL_VERSION})",
        )
