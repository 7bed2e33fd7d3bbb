"""A player's identity in the private game network, and the mutual TLS built on it.

Every player holds an `Identity`: its own key and a certificate naming it, signed by the
network's CA (`database/authority.py`). Every link is TLS 1.3 with certificates checked on both
ends against the CA; the name in a certificate is the player's identity. Only `ssl` and
`cryptography` primitives are used: nothing here is home-made crypto. `cryptography` is imported
where a certificate or key is read or made: a player on an `--insecure-lan` network never needs it.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..proto.errors import SecurityError
from ..proto.tags import TAG_BYTES

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SecurityError"]  # re-exported: certificates, keys and codes fail the same way

DATABASE_NAME = "database"
"""The name in the database peer's own certificate."""
ADMIN_NAME = "rp2p-admin"
"""The name of the short-lived certificate `rp2p-db kick` uses to talk to the running database peer."""
PLAYER_DAYS = 365
SESSION_TICKETS = 1
"""TLS 1.3 session tickets a server hands each caller (OpenSSL's default is 2): a caller keeps
one to resume with (`peer/dialer.py`), and the resumed call brings the next. Each ticket costs
the server about a quarter of a millisecond to make and encrypt: in a join storm, a fifth of
the database peer's part of every handshake."""


def subject(name: str) -> x509.Name:
    """A certificate subject that names `name`."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret so that only its owner can read it, atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class Identity:
    """A player's key, its certificate and the network's CA certificate, as files in a folder."""

    folder: Path

    @property
    def key_path(self) -> Path:
        return self.folder / "key.pem"

    @property
    def cert_path(self) -> Path:
        return self.folder / "cert.pem"

    @property
    def ca_path(self) -> Path:
        return self.folder / "ca.pem"

    @classmethod
    def save(cls, folder: Path, key: bytes, certificate: bytes, ca: bytes) -> Identity:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        identity = cls(folder)
        write_private(identity.key_path, key)
        identity.cert_path.write_bytes(certificate)
        identity.ca_path.write_bytes(ca)
        return identity

    @classmethod
    def load(cls, folder: Path) -> Identity | None:
        identity = cls(folder)
        if all(p.exists() for p in (identity.key_path, identity.cert_path, identity.ca_path)):
            return identity
        return None

    @property
    def network_tag(self) -> bytes:
        """The tag of the network this identity belongs to."""
        return network_tag(self.ca_path.read_bytes())

    @property
    def name(self) -> str:
        from cryptography import x509

        certificate = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        return common_name(certificate.subject)

    def _context(self, purpose: ssl.Purpose) -> ssl.SSLContext:
        context = ssl.SSLContext(
            ssl.PROTOCOL_TLS_SERVER
            if purpose is ssl.Purpose.CLIENT_AUTH
            else ssl.PROTOCOL_TLS_CLIENT
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(self.cert_path, self.key_path)
        context.load_verify_locations(cafile=self.ca_path)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = False  # LAN addresses change; the certificate's name is checked
        return context

    def server_context(self) -> ssl.SSLContext:
        context = self._context(ssl.Purpose.CLIENT_AUTH)
        context.num_tickets = SESSION_TICKETS
        return context

    def client_context(self) -> ssl.SSLContext:
        return self._context(ssl.Purpose.SERVER_AUTH)


def network_tag(ca_pem: bytes) -> bytes:
    """The tag of the network whose CA certificate this is: a hash of the CA's public key.

    The key, not the certificate: the tag stays the same if the CA certificate is renewed.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        raise SecurityError("the network's CA certificate is unreadable") from None
    spki = ca.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:TAG_BYTES]


def common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        raise SecurityError("certificate has no name")
    value = values[0].value
    return value if isinstance(value, str) else value.decode()
