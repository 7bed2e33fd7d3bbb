"""A get with several sources says so: the swarm's gets came from a few players and the vault
at once, and the feed, the `got` line and the transfers panel named only one of them (the
largest, or whichever sent the last chunk: the panel's label flickered between them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import App, ComposeResult

from reliablep2p.app import words
from reliablep2p.app.phrases import from_whom
from reliablep2p.peer import events
from reliablep2p.peer.fetch import GetResult
from tui.widgets.transfers import TransfersPanel

from .conftest import shown_text

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
