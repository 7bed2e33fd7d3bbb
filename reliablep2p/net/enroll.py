"""Joining the network with a short code, by SPAKE2 (password-authenticated key exchange).

The code (``7-orbit-lemon-sausage-ridge``) names an invite by its number and is the shared
password. Both sides run SPAKE2 on it; a wrong guess gives the guesser only a failed decryption
and nothing to test offline, and the database peer makes each address wait longer after every
try (`database/guesses.py`), never using up the code. From the SPAKE2 key, HKDF derives one
AES-GCM key per direction. The player sends its name and public key sealed with it; the database
peer answers with a certificate for that name signed by the network CA, plus the CA certificate.

Conversation (in plaintext on the database peer's own port — there are no certificates yet):
first, on a connection of its own, ``hello, ask_network`` → ``network_info{tag, name}``: a code
whose tag word names another network is never tried there (nor is a code on a host other than
the one chosen). Then ``hello, enroll{number, spake}`` → ``enroll_challenge{spake}``;
``sealed{name, public key}`` → ``sealed{certificate, ca}`` or ``error``. The CA that comes back
must be the network the host said it was.
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
from ..proto.tags import split_code, tag_words
from .channel import Channel, RemoteError, open_channel
from .discovery import ask_network
from .identity import Identity, SecurityError, key_pem, network_tag, new_key, public_pem

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
        raise SecurityError("wrong join code", ErrorCode.WRONG_CODE) from None


async def enroll(
    host: str, port: int, code: str, name: str, folder: Path, *, tag: bytes | None = None
) -> Identity:
    """Join the network at `host:port` as `name`; keep the identity in `folder`.

    `tag`, if given, is the network the player chose (discovered): the host must be that one.
    """
    words = split_code(code)
    number, password = parse_code(code)
    try:
        network = await ask_network(host, port, name=name)
    except RemoteError as exc:
        raise SecurityError(
            f"{host}:{port} did not say which network it is: {exc.detail}"
        ) from None
    except ProtocolError as exc:
        raise SecurityError(exc.detail) from None
    if not words.matches(network.tag) or (tag is not None and network.tag != tag):
        wanted = words.network or "the one chosen"
        raise SecurityError(
            f"{host}:{port} is network {'-'.join(tag_words(network.tag))} "
            f"({network.name}), not {wanted}: the code was not tried there"
        )
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
        raise SecurityError(exc.detail, exc.code) from None
    except (ProtocolError, msgspec.DecodeError) as exc:
        raise SecurityError(f"enrollment failed: {exc}") from None
    except Exception as exc:  # spake2 raises plain exceptions on a bad message
        if isinstance(exc, SecurityError):
            raise
        raise SecurityError(f"enrollment failed: {exc}") from None
    finally:
        await channel.aclose()
    if network_tag(grant.ca) != network.tag:
        raise SecurityError(f"{host}:{port} answered for another network than it said it was")
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
