"""End to end on the scaled stores: `rp2p-db --store postgresql://... --vault s3://...` with real
`rp2p-peer` processes. A file is published and backed up, its seeder is killed, the vault
serves it; the database peer restarts (its chunk cache wiped) and the vault serves it again,
to a player who joins with the first join code (kept in PostgreSQL). `rp2p-db invite` and
`kick` then work on the same database."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import obstore
import psycopg
import pytest
from obstore.store import S3Store

from reliablep2p.proto.codes import parse_code

from .conftest import random_bytes
from .faults.cluster import Cluster
from .servers import BUCKET, S3_ENV, S3_KEY, S3_SECRET, Postgres, Seaweed
from .test_e2e import assert_got

pytestmark = pytest.mark.slow

NAME = "report.bin"


class ScaledCluster(Cluster):
    def __init__(self, root: Path, store: str, vault: str, endpoint: str) -> None:
        super().__init__(root)
        self.stores = ["--store", store, "--vault", vault, "--s3-endpoint", endpoint]

    def db_args(self) -> list[str]:
        return [*super().db_args(), *self.stores]


def test_the_vault_in_s3_and_the_catalog_in_postgresql_survive_the_seeder_and_a_restart(
    tmp_path: Path, postgres: Postgres, seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in S3_ENV.items():  # as a user gives them: the processes inherit them
        monkeypatch.setenv(name, value)
    store, vault = postgres.new_database(), seaweed.new_vault()
    data = random_bytes(3 * 1024 * 1024 + 4321, seed=15)
    cluster = ScaledCluster(tmp_path, store, vault, seaweed.endpoint)
    try:
        database = cluster.start_db()
        alice = cluster.player("alice", {NAME: data})
        cluster.wait_cataloged(NAME, timeout=30)
        cluster.kill(alice.process, signal.SIGKILL)

        out = cluster.fetch("bob", NAME)
        assert_got(out, [NAME], source="the vault")
        assert (cluster.share("bob") / NAME).read_bytes() == data

        database.send_signal(signal.SIGTERM)
        assert database.wait(timeout=20) == 0, "rp2p-db did not exit 0 on SIGTERM"
        shutil.rmtree(cluster.data / "vault-cache")  # what is served next comes from S3
        cluster.start_db()
        out = cluster.fetch("carol", NAME)  # carol joins with the first code: kept in PostgreSQL
        assert_got(out, [NAME], source="the vault")
        assert (cluster.share("carol") / NAME).read_bytes() == data
        # the host's commands work on the same database, with the database peer stopped
        cluster.kill(cluster.db, signal.SIGTERM)
        invite = cluster.run("rp2p-db", "invite", "--data", cluster.data, "--store", store)
        assert invite.returncode == 0 and parse_code(invite.stdout.strip()), invite
        kick = cluster.run("rp2p-db", "kick", "bob", "--data", cluster.data, "--store", store,
                           "--port", cluster.db_port)  # fmt: skip
        assert kick.returncode == 0 and "bob is revoked" in kick.stdout, kick
    finally:
        cluster.close()

    # where each thing is: the catalog in PostgreSQL, the bytes in S3, neither in the folder
    with psycopg.connect(store) as db:
        assert db.execute("SELECT name, size FROM catalog").fetchall() == [(NAME, len(data))]
        members = dict(db.execute("SELECT name, revoked FROM members").fetchall())
        assert members == {"alice": 0, "bob": 1, "carol": 0}
    bucket = S3Store(BUCKET, prefix=vault.removeprefix(f"s3://{BUCKET}/"), region="us-east-1",
                     endpoint=seaweed.endpoint, access_key_id=S3_KEY,
                     secret_access_key=S3_SECRET, client_options={"allow_http": True})  # fmt: skip
    keys = [meta["path"] for batch in obstore.list(bucket) for meta in batch]
    assert sum(key.startswith("chunks/") for key in keys) == 4, keys
    assert sum(key.startswith("blobs/") for key in keys) == 1, keys
    assert not (cluster.data / "rp2p.sqlite3").exists() and not (cluster.data / "vault").exists()
