"""The network's keys shared by its database peers, through `rp2p-db`: the first makes them in
its --data (the key readable by its owner only); a second is given a copy (`--ca DIR`), signs
its own identity with it and is the same network; a key that others may read, half a pair, or
another network's keys stop the database peer with one line, before anything starts."""

from __future__ import annotations

import shutil
import signal
import stat
import subprocess
from pathlib import Path

from cryptography import x509

from reliablep2p.proto.tags import split_code

from .faults.cluster import BIN, Cluster, free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def start_db(cluster: Cluster, data: Path, *options: object) -> str:
    """Start a database peer on `data` with `options`; its join code, then stop it."""
    process = cluster._spawn(
        [BIN / "rp2p-db", "--host", "127.0.0.1", "--port", free_port(), "--data", data,
         "--discovery-port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("join code: "), f"rp2p-db printed {line!r}"
    cluster.kill(process, signal.SIGTERM)
    return line.split()[2]


def refused(cluster: Cluster, data: Path, *options: object) -> str:
    """Run a database peer that must refuse to start; its one line."""
    done = cluster.run("rp2p-db", "--host", "127.0.0.1", "--port", free_port(), "--data", data,
                       "--discovery-port", "0", *options, timeout=30)  # fmt: skip
    assert done.returncode == 2, done
    said = [line for line in done.stderr.splitlines() if line.startswith("rp2p-db:")]
    assert done.stdout == "" and len(said) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return said[0]


def test_a_second_database_peer_takes_a_copy_of_the_keys_and_refuses_unsafe_ones(
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path)
    first, second, keys = tmp_path / "first", tmp_path / "second", tmp_path / "keys"
    try:
        code = start_db(cluster, first)
        assert mode(first / "ca.key") == 0o600

        keys.mkdir()
        for name in ("ca.key", "ca.pem"):
            shutil.copy(first / name, keys / name)
        (keys / "ca.key").chmod(0o644)  # copied carelessly: anyone on the machine may read it
        said = refused(cluster, second, "--ca", keys)
        assert "ca.key may be read by others (mode 0644)" in said and "chmod 600" in said, said
        assert not (second / "ca.key").exists(), "nothing was copied"

        (keys / "ca.key").chmod(0o600)
        again = start_db(cluster, second, "--ca", keys)
        assert split_code(again).network == split_code(code).network, "the same network"
        assert (second / "ca.key").read_bytes() == (first / "ca.key").read_bytes()
        assert mode(second / "ca.key") == 0o600
        ca = x509.load_pem_x509_certificate((first / "ca.pem").read_bytes())
        own = x509.load_pem_x509_certificate((second / "identity" / "cert.pem").read_bytes())
        own.verify_directly_issued_by(ca)  # its own identity, signed by the network's key
        assert own.public_key() != ca.public_key()

        start_db(cluster, second)  # later starts need no --ca: the copy is in its --data
        (second / "ca.key").chmod(0o640)
        said = refused(cluster, second)
        assert "may be read by others (mode 0640)" in said, said

        (second / "ca.key").chmod(0o600)
        other = tmp_path / "other"
        start_db(cluster, other)
        said = refused(cluster, second, "--ca", other)
        assert "holds the keys of another network" in said, said

        half = tmp_path / "half"
        half.mkdir()
        shutil.copy(first / "ca.key", half / "ca.key")  # the certificate forgotten
        said = refused(cluster, tmp_path / "third", "--ca", half)
        assert "ca.pem is not" in said, said
        assert not (tmp_path / "third").exists(), "nothing was made"
    finally:
        cluster.close()
