"""The private game network: a certificate authority per network, player identities, mutual TLS.

The database peer owns the network's CA (`NetworkAuthority`, an EC P-256 key and a self-signed
certificate in its data folder, readable by its owner only). Every player holds an `Identity`:
its own key and a certificate naming it, signed by that CA. Every link is TLS 1.3 with
certificates checked on both ends against the CA; the name in a certificate is the player's
identity. Only `ssl` and `cryptography` primitives are used: nothing here is home-made crypto.
"""

from __future__ import annotations

import datetime
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DATABASE_NAME = "database"
"""The name in the database peer's own certificate."""
ADMIN_NAME = "rp2p-admin"
"""The name of the short-lived certificate `rp2p-db kick` uses to talk to the running database peer."""
PLAYER_DAYS = 365
CA_DAYS = 3650

WORDS = [
    "acorn",
    "amber",
    "anchor",
    "apple",
    "arrow",
    "aspen",
    "atlas",
    "autumn",
    "badger",
    "bamboo",
    "banjo",
    "basil",
    "beacon",
    "berry",
    "bishop",
    "blossom",
    "bramble",
    "breeze",
    "bronze",
    "bubble",
    "cactus",
    "camel",
    "candle",
    "canyon",
    "carrot",
    "castle",
    "cedar",
    "cherry",
    "cinder",
    "clover",
    "cobalt",
    "comet",
    "copper",
    "coral",
    "cosmic",
    "cricket",
    "crystal",
    "daisy",
    "dolphin",
    "dragon",
    "ember",
    "falcon",
    "fennel",
    "fiddle",
    "finch",
    "forest",
    "fossil",
    "galaxy",
    "garnet",
    "ginger",
    "glacier",
    "goblin",
    "granite",
    "gravy",
    "harbor",
    "hazel",
    "hedgehog",
    "helmet",
    "honey",
    "island",
    "ivory",
    "jasper",
    "jelly",
    "jungle",
    "kettle",
    "kiwi",
    "lagoon",
    "lantern",
    "lemon",
    "lilac",
    "lobster",
    "lotus",
    "magnet",
    "mango",
    "maple",
    "marble",
    "meadow",
    "melon",
    "mint",
    "mosaic",
    "nebula",
    "nectar",
    "noodle",
    "nutmeg",
    "oasis",
    "olive",
    "onyx",
    "orbit",
    "otter",
    "oyster",
    "panda",
    "papaya",
    "parrot",
    "peach",
    "pebble",
    "pepper",
    "pickle",
    "pilot",
    "pine",
    "planet",
    "plum",
    "pocket",
    "pretzel",
    "puffin",
    "pumpkin",
    "purple",
    "quartz",
    "quill",
    "rabbit",
    "radish",
    "raven",
    "riddle",
    "river",
    "rocket",
    "saffron",
    "sausage",
    "scarlet",
    "shadow",
    "silver",
    "sparrow",
    "spruce",
    "squid",
    "starfish",
    "summit",
    "sunset",
    "tango",
    "thistle",
    "thunder",
    "tiger",
    "toffee",
    "topaz",
    "tulip",
    "turnip",
    "velvet",
    "violet",
    "walnut",
    "willow",
    "wizard",
    "zebra",
]


class SecurityError(Exception):
    """A certificate, key or join code problem; the message is one line for people."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret so that only its owner can read it, atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class NetworkAuthority:
    """The network's CA: made on the database peer's first start, kept in its data folder."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self.certificate = certificate

    @property
    def ca_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

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
        subject = _name(f"rp2p network {secrets.token_hex(4)}")
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
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
        _write_private(key_path, key_pem(key))
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(key, certificate)

    def issue(self, name: str, public_key_pem: bytes, *, days: float = PLAYER_DAYS) -> bytes:
        """A certificate (PEM) naming `name` for the given public key."""
        public_key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise SecurityError("only EC public keys are accepted")
        end = _now() + datetime.timedelta(days=days)
        start = min(_now() - datetime.timedelta(minutes=5), end - datetime.timedelta(days=1))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
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
        _write_private(identity.key_path, key)
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
    def name(self) -> str:
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
        return self._context(ssl.Purpose.CLIENT_AUTH)

    def client_context(self) -> ssl.SSLContext:
        return self._context(ssl.Purpose.SERVER_AUTH)


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        raise SecurityError("certificate has no name")
    value = values[0].value
    return value if isinstance(value, str) else value.decode()


def new_join_code(number: int, rng: secrets.SystemRandom | None = None) -> str:
    """A short code to read out loud, like ``7-purple-sausage``."""
    choose = (rng or secrets.SystemRandom()).choice
    return f"{number}-{choose(WORDS)}-{choose(WORDS)}"
