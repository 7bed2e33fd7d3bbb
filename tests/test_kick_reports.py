"""A kick's report over several database peers (sans network): the answers of the others are
counted, and the players of one that does not answer in time are reported not told."""

from __future__ import annotations

import trio
import trio.testing

from reliablep2p.database.kicks import KickReports, answer_within
from reliablep2p.proto import PeerInfo, bus


def players(*names: str) -> dict[tuple[str, int], PeerInfo]:
    return {("127.0.0.1", 8000 + i): PeerInfo(name, "127.0.0.1", 8000 + i)
            for i, name in enumerate(names)}  # fmt: skip


async def test_the_report_counts_every_answer_and_a_silent_database_peers_players_as_not_told(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reports = KickReports()
    theirs = {"b": players("bob", "carol"), "c": players("dan", "eve")}
    result: list[tuple[list[str], list[str]]] = []

    async def kick() -> None:
        result.append(await reports.gather("carol", ["b", "c"], theirs, 5.0))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kick)
        await trio.sleep(1)
        reports.heard(bus.KickHeard("b", "a", "carol", ["bob"], []))
        reports.heard(bus.KickHeard("x", "a", "carol", ["mallory"], []))  # not asked: ignored
    assert result == [(["bob"], ["dan", "eve"])]  # c never answered
    assert trio.current_time() >= 5.0


async def test_the_report_comes_as_soon_as_every_database_peer_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reports = KickReports()
    result: list[tuple[list[str], list[str]]] = []

    async def kick() -> None:
        result.append(await reports.gather("carol", ["b"], {"b": players("bob")}, 5.0))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kick)
        await trio.sleep(0.5)
        reports.heard(bus.KickHeard("b", "a", "carol", [], ["bob"]))
    assert result == [([], ["bob"])] and trio.current_time() < 1
    assert 0 < answer_within(5.0) < 5.0 and answer_within(0.0) == 0.0
