"""The network's certificate authority, kept by the database peer in its data folder.

An EC P-256 key (`ca.key`) and a self-signed certificate (`ca.pem`); it signs every player's
certificate. The first database peer makes them; every other database peer of the network is
given a copy of both (`rp2p-db --ca DIR`, or copied into its data folder by hand), and signs its
own identity with them. The key is readable by its owner only: a key file that the group or
others may read is refused, and it is never put in the shared database. Only `cryptography`
primitives are used: nothing here is home-made crypto.
"""

from __future__ import annotations

import datetime
import os
import secrets
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..net.identity import (
    PLAYER_DAYS,
    Identity,
    SecurityError,
    key_pem,
    network_tag,
    new_key,
    now,
    public_pem,
    subject,
    write_private,
)

CA_DAYS = 3650
KEY_FILE, CERT_FILE = "ca.key", "ca.pem"


class NetworkAuthority:
    """The network's CA: made on the database peer's first start, kept in its data folder."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self.certificate = certificate

    @property
    def ca_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def tag(self) -> bytes:
        """The network's tag: announced on the LAN and spoken as a join code's first words."""
        return network_tag(self.ca_pem)

    @classmethod
    def load(cls, folder: Path) -> NetworkAuthority | None:
        """The network keys in `folder` (None if there are none); `SecurityError` for half a
        pair, a key others may read, or files that are not keys."""
        key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
        if not key_path.exists() and not cert_path.exists():
            return None
        for path, other in ((key_path, cert_path), (cert_path, key_path)):
            if not path.exists():
                raise SecurityError(f"{other} is there but {path.name} is not: the network's"
                                    f" keys are the two files {KEY_FILE} and {CERT_FILE}")  # fmt: skip
        mode = stat.S_IMODE(key_path.stat().st_mode)
        if mode & 0o077:
            raise SecurityError(f"{key_path} may be read by others (mode {mode:04o}): it signs"
                                f" every player's certificate; run chmod 600 {key_path}")  # fmt: skip
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (ValueError, TypeError) as exc:
            raise SecurityError(f"the network keys in {folder} cannot be read: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SecurityError(f"{key_path} is not an EC key")
        if key.public_key() != certificate.public_key():
            raise SecurityError(f"{key_path} is not the key of {cert_path}")
        return cls(key, certificate)

    @classmethod
    def load_or_refuse(cls, shared: Path) -> NetworkAuthority:
        """The keys a database peer is given (`--ca DIR`): they must be there."""
        given = cls.load(shared)
        if given is None:
            raise SecurityError(f"--ca {shared}: no {KEY_FILE} and {CERT_FILE} there (copy"
                                " them from the first database peer's --data)")  # fmt: skip
        return given

    @classmethod
    def load_or_create(cls, data_dir: Path, *, shared: Path | None = None) -> NetworkAuthority:
        """The network keys in the data folder; made there on a first start, or, with
        `shared` (`rp2p-db --ca DIR`), copied there from the keys the first database peer made
        (the same network's: keys of another network in the data folder are refused)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        own = cls.load(data_dir)
        if shared is not None:
            given = cls.load_or_refuse(shared)
            if own is None:
                write_private(data_dir / KEY_FILE, key_pem(given._key))
                write_private(data_dir / CERT_FILE, given.ca_pem)
                return given
            if own.ca_pem != given.ca_pem:
                raise SecurityError(f"{data_dir} holds the keys of another network than those"
                                    f" in {shared}: give this database peer a data folder of"
                                    " its own")  # fmt: skip
        if own is not None:
            return own
        key = new_key()
        name = subject(f"rp2p network {secrets.token_hex(4)}")
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now() - datetime.timedelta(minutes=5))
            .not_valid_after(now() + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        write_private(data_dir / KEY_FILE, key_pem(key))
        write_private(data_dir / CERT_FILE, certificate.public_bytes(serialization.Encoding.PEM))
        os.chmod(data_dir / CERT_FILE, 0o644)  # the certificate is public
        return cls(key, certificate)

    def issue(self, name: str, public_key_pem: bytes, *, days: float = PLAYER_DAYS) -> bytes:
        """A certificate (PEM) naming `name` for the given public key."""
        public_key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise SecurityError("only EC public keys are accepted")
        end = now() + datetime.timedelta(days=days)
        start = min(now() - datetime.timedelta(minutes=5), end - datetime.timedelta(days=1))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject(name))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [
                        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                        x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH,
                    ]
                ),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM)

    def identity(self, name: str, folder: Path, *, days: float = PLAYER_DAYS) -> Identity:
        """Make a key and a certificate for `name` and keep them in `folder`."""
        key = new_key()
        return Identity.save(folder, key_pem(key), self.issue(name, public_pem(key), days=days),
                             self.ca_pem)  # fmt: skip
