"""Errors of the protocol, told apart by who broke it (as h11 does).

`RemoteProtocolError`: the other side sent something we refuse (a bad frame, an unexpected
message, a bad name). `LocalProtocolError`: we cannot do what was asked (our own limits, a file
that shrank under us). Both carry an `ErrorCode` value and one line for people; callers that do
not care who failed catch `ProtocolError`.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The remote side broke the protocol; `code` is one of the `ErrorCode` values."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ErrorCode:
    """The `code` values an `Error` message carries; docs/protocol.md describes each."""

    MALFORMED = "malformed"
    TOO_LARGE = "too-large"
    VERSION = "version"
    UNEXPECTED = "unexpected"
    BAD_NAME = "bad-name"
    NOT_IN_CATALOG = "not-in-catalog"
    NAME_TAKEN = "name-taken"
    BAD_CONTENT = "bad-content"
    BUSY = "busy"
    TIMEOUT = "timeout"
    NOT_DATABASE = "not-database"
    WRONG_CODE = "wrong-code"
    FORBIDDEN = "forbidden"
    NOT_A_MEMBER = "not-a-member"
    ADDRESS_TAKEN = "address-taken"
    INTERNAL = "internal"


class RemoteProtocolError(ProtocolError):
    """The other side broke the protocol or asked for something it may not have."""


class LocalProtocolError(ProtocolError):
    """We failed or hit our own limit; the other side did nothing wrong."""


UPDATE_COMMAND = "pipx upgrade reliablep2p"
"""How a friend who installed with pipx updates (both programs come in one package)."""


class VersionMismatch(RemoteProtocolError):
    """The other side speaks another protocol version: one of the two programs needs updating.

    `theirs` and `ours` are the versions, so each side can say which one (the detail is for a
    node too old to know this class: it prints it as it is).
    """

    def __init__(self, theirs: int, ours: int) -> None:
        super().__init__(ErrorCode.VERSION, f"you speak protocol {theirs}, this node speaks {ours}")
        self.theirs = theirs
        self.ours = ours


class SecurityError(Exception):
    """A certificate, key or join code problem; the message is one line for people. `code`:
    the `ErrorCode` the other side refused with, if it did (a wrong code, a name taken)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code
