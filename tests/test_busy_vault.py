"""A vault that answers `busy` is asked again: the only copy left of a file is still had.

The database peer serves a few files at once (`max_serving`) and answers `busy` beyond that;
here its only place is held by another player's source link, on loopback, while a player whose
folder lost the file restores it from the vault, and while another gets it with the vault as its
only source (the seeder stopped sharing it); and a vault that stays full ends a get once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from reliablep2p.app.restore import restore_files
from reliablep2p.net.channel import Channel
from reliablep2p.peer.fetch import GetError, GetResult, SourcesBusy
from reliablep2p.peer.node import Node
from reliablep2p.peer.swarm import finder
from reliablep2p.proto import CHUNK_SIZE, File, Get

from .conftest import Network, random_bytes, until

NAME = "lost.bin"
DATA = random_bytes(5 * CHUNK_SIZE + 123, seed=77)


@pytest.fixture
async def network(nursery: trio.Nursery, tmp_path: Path) -> Network:
    net = Network(nursery, tmp_path)
    await net.start_db(max_serving=1)
    return net


def vault_busy_answers(caplog: pytest.LogCaptureFixture) -> int:
    """The probes of the vault it answered `busy` (the swarm's own account of each probe)."""
    return sum(
        1
        for record in caplog.records
        if record.name == "rp2p.swarm"
        and "probe of vault" in record.getMessage()
        and "serving too many files" in record.getMessage()
    )


async def gone_from_the_folder(network: Network) -> Node:
    """A player that shared `NAME`, backed up, then lost it from its folder."""
    owner = await network.peer({NAME: DATA})
    await until(lambda: network.db.vault.blob_path(network.catalog_entry(NAME).hash).exists())
    assert owner.share is not None
    (owner.share.path / NAME).unlink()
    await until(lambda: owner.view.file_source(NAME) is None)
    return owner


async def hold_the_vault(network: Network) -> Channel:
    """Another player's source link at the vault, holding its only place until closed."""
    hog = await network.connect(network.db.port, name="hog")
    await hog.send(Get(NAME, swarm=True))
    assert isinstance(await hog.receive_message(File), File)
    return hog


async def test_restore_waits_for_a_busy_vault_and_brings_the_file_back_whole(
    network: Network, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="rp2p.swarm")
    owner = await gone_from_the_folder(network)
    hog = await hold_the_vault(network)
    status: list[int] = []

    async def restore() -> None:
        status.append(await restore_files(owner))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(restore)
        await until(lambda: vault_busy_answers(caplog) >= 1 or status)  # turned away first
        await hog.aclose()  # the other player's transfer ends: a place is free
    lines = capsys.readouterr().out.splitlines()
    assert status == [0], lines
    assert lines[-1] == f"restored 1 files ({len(DATA):,} bytes), 0 already here, " + (
        "0 not overwritten, 0 failed"
    )
    assert owner.share is not None and (owner.share.path / NAME).read_bytes() == DATA
    assert vault_busy_answers(caplog) >= 1, "the vault was never busy: nothing was shown"


async def test_a_get_with_the_vault_its_only_source_waits_for_it_when_busy(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rp2p.swarm")
    await gone_from_the_folder(network)
    fetcher = await network.peer()
    hog = await hold_the_vault(network)
    results: list[GetResult] = []

    async def get() -> None:
        results.append(await fetcher.get(NAME))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(get)
        await until(lambda: vault_busy_answers(caplog) >= 1 or results)
        await hog.aclose()
    (result,) = results
    assert result.from_vault and result.sources == (("vault", len(DATA)),)
    assert result.path.read_bytes() == DATA
    assert vault_busy_answers(caplog) >= 1, "the vault was never busy: nothing was shown"


async def test_a_vault_that_stays_busy_ends_the_get_once_not_after_every_retry(
    network: Network, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finder, "VAULT_PATIENCE", 2.0)  # (60 s in earnest)
    caplog.set_level(logging.DEBUG, logger="rp2p.swarm")
    await gone_from_the_folder(network)
    fetcher = await network.peer()
    hog = await hold_the_vault(network)  # for good
    with pytest.raises(GetError) as failed:
        await fetcher.get(NAME)
    assert not isinstance(failed.value, SourcesBusy), "the fetcher's retries would begin again"
    assert "no source could provide it" in str(failed.value) and "vault" in str(failed.value)
    assert 2 <= vault_busy_answers(caplog) <= 4  # asked again, with a back-off, in one search
    await hog.aclose()
