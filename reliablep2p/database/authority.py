"""The network's certificate authority, kept by the database peer in its data folder.

An EC P-256 key and a self-signed certificate, readable by its owner only; it signs every
player's certificate. Only `cryptography` primitives are used: nothing here is home-made crypto.
"""

from __future__ import annotations

import datetime
import secrets
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
    def load_or_create(cls, data_dir: Path) -> NetworkAuthority:
        data_dir.mkdir(parents=True, exist_ok=True)
        key_path, cert_path = data_dir / "ca.key", data_dir / "ca.pem"
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise SecurityError(f"{key_path} is not an EC key")
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
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
        write_private(key_path, key_pem(key))
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
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
