"""Joining the network with a short code, by SPAKE2 (password-authenticated key exchange).

The code (``7-orbit-lemon-sausage-ridge``) names an invite by its number and is the shared
password. Both sides run SPAKE2 on it; a wrong guess gives the guesser only a failed decryption
and nothing to test offline, and the database peer makes each address wait longer after every
try (`database/guesses.py`), never using up the code. From the SPAKE2 key, HKDF derives one
AES-GCM key per direction. The player sends its name and public key sealed with it; the database
peer answers with a certificate for that name signed by the network CA, plus the CA certificate.

Conversation (on the database peer's enrollment port, no TLS — there are no certificates yet):
``hello, enroll{number, spake}`` → ``enroll_challenge{spake}``; ``sealed{name, public key}`` →
``sealed{certificate, ca}`` or ``error``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_A, SPAKE2_B  # type: ignore[import-untyped]

from ..proto import Enroll, EnrollChallenge, ErrorCode, ProtocolError, Sealed
from ..proto.codes import parse_code
from .channel import Channel, RemoteError, open_channel
from .identity import Identity, SecurityError, key_pem, new_key, public_pem

PLAYER_SIDE, DATABASE_SIDE = b"rp2p player", b"rp2p database"


class Request(msgspec.Struct):
    name: str
    public_key: bytes


class Grant(msgspec.Struct):
    certificate: bytes
    ca: bytes


def _key(shared: bytes, direction: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"rp2p enroll " + direction
    )
    return AESGCM(derived.derive(shared))


def seal(shared: bytes, direction: bytes, payload: bytes) -> Sealed:
    nonce = os.urandom(12)
    return Sealed(nonce, _key(shared, direction).encrypt(nonce, payload, None))


def unseal(shared: bytes, direction: bytes, sealed: Sealed) -> bytes:
    try:
        return _key(shared, direction).decrypt(sealed.nonce, sealed.box, None)
    except (InvalidTag, ValueError):
        raise SecurityError("wrong join code") from None


async def enroll(host: str, port: int, code: str, name: str, folder: Path) -> Identity:
    """Join the network at `host:port` (its enrollment port) as `name`; keep the identity."""
    number, password = parse_code(code)
    spake = SPAKE2_A(password, idA=PLAYER_SIDE, idB=DATABASE_SIDE)
    channel = await open_channel(host, port, name=name, listen_port=0)
    try:
        await channel.send(Enroll(number, spake.start()))
        challenge = await channel.receive_message(EnrollChallenge)
        shared = spake.finish(challenge.spake)
        key = new_key()
        request = Request(name, public_pem(key))
        await channel.send(seal(shared, PLAYER_SIDE, msgspec.msgpack.encode(request)))
        reply = await channel.receive_message(Sealed)
        grant = msgspec.msgpack.decode(unseal(shared, DATABASE_SIDE, reply), type=Grant)
    except RemoteError as exc:
        raise SecurityError(exc.detail) from None
    except (ProtocolError, msgspec.DecodeError) as exc:
        raise SecurityError(f"enrollment failed: {exc}") from None
    except Exception as exc:  # spake2 raises plain exceptions on a bad message
        if isinstance(exc, SecurityError):
            raise
        raise SecurityError(f"enrollment failed: {exc}") from None
    finally:
        await channel.aclose()
    return Identity.save(folder, key_pem(key), grant.certificate, grant.ca)


Issue = Callable[[str, bytes], Awaitable[Grant]]
"""Checks a requested name and signs a certificate for it (raises ProtocolError to refuse)."""


async def serve_enrollment(
    channel: Channel,
    request: Enroll,
    password_of: Callable[[int], Awaitable[bytes | None]],
    issue: Issue,
) -> str:
    """The database peer's side; returns the enrolled name.

    `password_of` gives the invite's code (None: no such invite) and may refuse the try
    (raise `ProtocolError`, e.g. `busy`); `issue` is called only once the code proved right.
    """
    password = await password_of(request.number)
    if password is None:
        raise ProtocolError(ErrorCode.WRONG_CODE, "no such join code (expired or used up?)")
    spake = SPAKE2_B(password, idA=PLAYER_SIDE, idB=DATABASE_SIDE)
    await channel.send(EnrollChallenge(spake.start()))
    try:
        shared = spake.finish(request.spake)
    except Exception:  # a malformed SPAKE2 message
        raise ProtocolError(ErrorCode.WRONG_CODE, "wrong join code") from None
    sealed = await channel.receive_message(Sealed)
    try:
        wanted = msgspec.msgpack.decode(unseal(shared, PLAYER_SIDE, sealed), type=Request)
    except (SecurityError, msgspec.DecodeError):
        raise ProtocolError(ErrorCode.WRONG_CODE, "wrong join code") from None
    grant = await issue(wanted.name, wanted.public_key)
    await channel.send(seal(shared, DATABASE_SIDE, msgspec.msgpack.encode(grant)))
    return wanted.name
