"""A get with several sources says so: the swarm's gets came from a few players and the vault
at once, and the feed, the `got` line and the transfers panel named only one of them (the
largest, or whichever sent the last chunk: the panel's label flickered between them)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from reliablep2p.app import words
from reliablep2p.app.phrases import from_whom
from reliablep2p.net.channel import Channel
from reliablep2p.peer import events, fetch
from reliablep2p.peer.fetch import GetResult
from reliablep2p.proto import CHUNK_SIZE, File, Get
from tui.app import GameApp
from tui.widgets.transfers import TransfersPanel

from .conftest import BackgroundNetwork, recording_feed, shown_text, wait_until
from .test_app import notices, started, type_command

MIXED = (("bo", 300), ("vault", 500), ("ann", 900))


def test_who_sent_a_file_is_every_source_the_players_first_then_the_vault() -> None:
    assert from_whom((), "ann") == "ann" and from_whom((("vault", 9),), "vault") == "the vault"
    assert from_whom(MIXED, "ann") == "ann, bo and the vault"
    assert from_whom((("ann", 5), ("bo", 0)), "ann") == "ann"  # sent nothing: not a source
    many = tuple((f"p{n}", 10) for n in range(5))
    assert from_whom(many, "p0") == "5 sources"


def test_the_feed_and_the_got_line_name_all_the_sources_and_keep_the_bytes_for_parsers() -> None:
    done = events.TransferDone(name="x.bin", source="ann", size=1700, probes=2, sources=MIXED)
    assert words.describe(done) == (
        "got x.bin (1,700 bytes) from ann, bo and the vault after 2 probes"
    )
    got = GetResult("x.bin", 1700, "ann", 2, False, Path("x.bin"), sources=MIXED)
    assert words.fetched(got) == (
        "got x.bin (1,700 bytes) from ann, bo and the vault after 2 probes"
        " (300 B from bo, 500 B from the vault, 900 B from ann)"
    )
    one = GetResult("x.bin", 9, "ann", 1, False, Path("x.bin"), sources=(("ann", 9),))
    assert words.fetched(one) == "got x.bin (9 bytes) from ann after 1 probe"


class TransfersOnly(App[None]):
    CSS_PATH = str(Path(__file__).parents[2] / "tui" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield TransfersPanel(id="transfers")


def test_the_transfers_panel_names_every_source_while_running_and_when_done() -> None:
    async def scenario() -> None:
        app = TransfersOnly()
        async with app.run_test(size=(100, 10)) as pilot:
            panel = app.query_one(TransfersPanel)
            panel.searching("x.bin")
            for done, who in enumerate(["ann", "bo", "ann", "vault", "bo", "ann"], start=1):
                panel.progress("x.bin", who, done * 100, 1000)
            await pilot.pause()
            running = shown_text(app, "#transfers")  # type: ignore[arg-type]
            assert "x.bin  ← ann, bo and the vault" in running, running
            panel.done("x.bin", "ann", 1000, sources=MIXED)
            await pilot.pause()
            finished = shown_text(app, "#transfers")  # type: ignore[arg-type]
            assert "✓ x.bin  ← ann, bo and the vault" in finished, finished

    asyncio.run(scenario())


def test_a_secure_get_from_a_peer_that_stays_busy_says_so_and_what_to_do(
    background_network: BackgroundNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It ended "every source is busy (player1: serving too many files; try another source)":
    the player named one source, and there was no other to try."""
    net = background_network
    monkeypatch.setattr(fetch, "BUSY_RETRIES", 1)  # (six back-offs: half a minute)
    name = "mixtape.ogg"

    async def hold_its_place(port: int) -> Channel:
        hog = await net.net.connect(port, name="hog")  # its one place, held to the end
        await hog.send(Get(name, swarm=True))
        await hog.receive_message(File)
        return hog

    async def scenario() -> None:
        files = {name: b"m" * (3 * CHUNK_SIZE + 5)}  # (one chunk is sent whole, at once)
        seeder = await net.acall(functools.partial(net.net.peer, files, max_serving=1))
        hog = await net.acall(hold_its_place, seeder.port)  # (kept: dropped, it closes)
        app = GameApp(net.player("me"))
        fed = recording_feed(app)
        async with app.run_test(size=(160, 45)) as pilot:
            await started(app)
            line = f"secure-get {name} 127.0.0.1:{seeder.port}"
            await type_command(pilot, line)
            await wait_until(lambda: any(said.startswith(f"{line}: ") for said in fed),
                             what="the get to end")  # fmt: skip
            said = next(said for said in fed if said.startswith(f"{line}: "))
            assert said == (f"{line}: {seeder.name} stayed busy serving others (asked twice): "
                            "try again in a moment"), said  # fmt: skip
            assert "another source" not in " ".join(notices(app))
        await net.acall(hog.aclose)

    asyncio.run(scenario())
