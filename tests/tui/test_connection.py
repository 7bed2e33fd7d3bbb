"""The status bar says when the session with the database peer is down, and when it is back;
the hunt is paused meanwhile; a kicked player is told it was removed."""

from __future__ import annotations

import asyncio

import pytest
import trio

from reliablep2p.net.identity import ADMIN_NAME
from reliablep2p.peer import session
from reliablep2p.peer.node import Node
from reliablep2p.proto import Kick, KickReport
from tests.tui.conftest import QUIET_DB
from tui import model
from tui.app import GameApp
from tui.widgets.hunt import HuntPanel
from tui.widgets.players import PlayersTable

from .conftest import BackgroundNetwork, recording_feed, screen_text, wait_until
from .test_app import notices, started, type_command


def counting_ticks(app: GameApp) -> list[int]:
    """How many times the app's once-a-second clock has ticked, as it ticks."""
    count = [0]
    tick = app.tick

    def counted() -> None:
        count[0] += 1
        tick()

    app.tick = counted  # type: ignore[method-assign]
    return count


async def the_rounds_clock(app: GameApp) -> HuntPanel:
    """The hunt, once the app has joined and shows the running round's clock."""
    await started(app)
    hunt = app.query_one(HuntPanel)
    await wait_until(lambda: str(hunt.border_subtitle).endswith(" left"), what="the round's clock")
    return hunt


HUNT_DB = {"min_players": 2, "lobby_seconds": 0, "round_seconds": 300, "pause_seconds": 600}


def test_status_bar_shows_reconnecting_while_the_database_peer_is_down(
    background_network: BackgroundNetwork,
) -> None:
    net = background_network

    async def restart_db() -> None:
        await net.net.start_db(port=net.db_port, **QUIET_DB)

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        fed = recording_feed(app)
        async with app.run_test(size=(80, 24)) as pilot:
            await started(app)
            await pilot.pause()
            assert screen_text(app, "#status").rstrip().endswith("joined")
            net.call_sync(net.net.db.stop)
            await wait_until(lambda: "reconnecting…" in screen_text(app, "#status"),
                             what="reconnecting in the status bar")  # fmt: skip
            await wait_until(lambda: str(app.query_one(PlayersTable).get_row("vault")[-1]) == "○",
                             what="the vault shown offline")  # fmt: skip
            lost = f"lost the host at 127.0.0.1:{net.db_port} — retrying"
            await wait_until(lambda: lost in fed, what="the feed to say so")
            await net.acall(restart_db)
            await wait_until(lambda: screen_text(app, "#status").rstrip().endswith("joined"),
                             timeout=30, what="joined again")  # fmt: skip
            await wait_until(lambda: str(app.query_one(PlayersTable).get_row("vault")[-1]) == "●",
                             what="the vault shown online")  # fmt: skip

    asyncio.run(scenario())


def test_the_hunt_is_paused_while_the_host_is_away_and_goes_on_when_it_is_back(
    hunt_network: BackgroundNetwork,
) -> None:
    net = hunt_network

    async def restart_db() -> None:
        await net.net.start_db(port=net.db_port, **HUNT_DB)

    async def scenario() -> None:
        await net.peer({"relic.bin": b"relic" * 100})
        player = net.player("me")
        app = GameApp(player)
        fed = recording_feed(app)
        async with app.run_test(size=(160, 45)):
            hunt = await the_rounds_clock(app)
            net.call_sync(net.net.db.stop)
            await wait_until(lambda: "paused" in str(hunt.border_subtitle), what="paused")
            left = player.session.paused_left
            assert left is not None and hunt.seconds_left() == left
            assert hunt.border_subtitle == (
                f"round 1 · paused, {model.clock(left)} left · the host is away"
            )
            await wait_until(lambda: player.session.failed_tries >= 2, what="two more tries")
            paused = f"round 1 · paused, {model.clock(left)} left"  # not a clock running on
            await wait_until(lambda: paused in screen_text(app, "#status"), what="paused below")
            lost = [line for line in fed if "the host at" in line]  # not its treasure's line
            assert lost == [f"lost the host at 127.0.0.1:{net.db_port} — retrying (round 1 is "
                            f"paused with {left:.0f} s left)"], fed  # fmt: skip
            await net.acall(restart_db)
            await wait_until(lambda: "paused" not in str(hunt.border_subtitle), timeout=30,
                             what="the clock again")  # fmt: skip
            assert str(hunt.border_subtitle).startswith("round 1 · ")
            assert hunt.seconds_left() > left - 2  # the time it had left, not the time away
            assert sum("back with the host" in line for line in fed) == 1, fed

    asyncio.run(scenario())


def test_a_kicked_player_sees_a_clear_notice(background_network: BackgroundNetwork) -> None:
    net = background_network

    async def kick(name: str) -> None:
        admin = await net.net.connect(net.db_port, name=ADMIN_NAME)
        await admin.send(Kick(name))
        await admin.receive_message(KickReport)

    async def scenario() -> None:
        app = GameApp(net.player("me"))
        fed = recording_feed(app)
        async with app.run_test(size=(160, 45)):
            await started(app)
            await net.acall(kick, "me")
            await wait_until(lambda: app.connection == "kicked out", what="kicked out")
            said = "the host removed you from the network (kicked out)"
            assert any(said in notice for notice in notices(app)), notices(app)
            assert "kicked out" in screen_text(app, "#status")
            assert sum(said in line for line in fed) == 1, fed

    asyncio.run(scenario())


def test_the_map_column_counts_the_map_again_after_the_host_restarts(
    background_network: BackgroundNetwork,
) -> None:
    """Players come back to a restarted host in any order: a map reported before the players
    it names were back is counted again once they are."""
    net = background_network
    files = {f"tune{i}.ogg": bytes([i]) * 3000 for i in range(3)}

    async def restart_db() -> None:
        await net.net.start_db(port=net.db_port, **QUIET_DB)

    async def holder_back(old: Node) -> Node:
        """The same player, started again (after a crash) where it was."""
        assert old.share is not None
        node = Node(name=old.name, identity=net.net.identity(old.name), port=old.port,
                    share_dir=old.share.path, database=("127.0.0.1", net.db_port),
                    rescan_interval=0.1)  # fmt: skip
        await net.net.nursery.start(node.run)
        return node

    def map_column(app: GameApp) -> str:
        return str(app.query_one(PlayersTable).get_row("me")[3])

    async def scenario() -> None:
        holders = [await net.peer({name: data}) for name, data in files.items()]
        player = net.player("me")
        app = GameApp(player)
        async with app.run_test(size=(160, 45)) as pilot:
            await started(app)
            for name in files:
                await type_command(pilot, f"get {name}")
            await wait_until(lambda: map_column(app) == "3", what="a map of 3 true entries")
            net.call_sync(net.net.db.stop)
            for holder in holders:
                net.call_sync(holder.stop)  # they crash while the host is away
            await wait_until(lambda: "reconnecting…" in screen_text(app, "#status"),
                             what="reconnecting")  # fmt: skip
            await net.acall(restart_db)
            await wait_until(lambda: screen_text(app, "#status").rstrip().endswith("joined"),
                             timeout=30, what="back with the host")  # fmt: skip
            assert len(player.address_book) == 3  # its map is the same: it is sent as it is
            back = [await net.acall(holder_back, holder) for holder in holders]
            await wait_until(lambda: all(h.ready.is_set() for h in back), what="holders back")
            await wait_until(lambda: map_column(app) == "3", what="the map counted again")

    asyncio.run(scenario())


def test_a_player_whose_every_defaulted_name_is_taken_is_told_to_choose_one(
    background_network: BackgroundNetwork,
) -> None:
    """On an --insecure-lan network the core gives up when NAME..NAME-9 are all online: the
    player was told nothing but a feed line among others, and the status said "joined"."""
    from reliablep2p.peer import events
    from tui.messages import CoreEvents

    async def scenario() -> None:
        app = GameApp(background_network.player("me"))
        fed = recording_feed(app)
        async with app.run_test(size=(100, 30)) as pilot:
            await started(app)
            taken = ("pi", *(f"pi-{n}" for n in range(2, 10)))
            app.post_message(CoreEvents((events.NamesTaken(taken),)))
            said = "pi, pi-2, pi-3, pi-4, pi-5, pi-6, pi-7, pi-8 and pi-9 are all online already"
            await wait_until(lambda: any(said in line for line in fed), what="the feed")
            await pilot.pause()
            assert any(said in notice for notice in notices(app)), notices(app)
            assert app.connection == "stopped"
            assert screen_text(app, "#status").rstrip().endswith("stopped")

    asyncio.run(scenario())


def test_both_clocks_stand_still_while_reconnecting_and_go_on_from_the_hosts_figure(
    hunt_network: BackgroundNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host stays up (only our session dropped) and its round runs on meanwhile: back, the
    hunt went on from the time it had when the session dropped (the host's first push came
    with the welcome, in the same burst, and the pause's figure took its place)."""
    net = hunt_network
    monkeypatch.setattr(session, "BACKOFF_START", 6.0)  # away 3-6 s before the next try

    async def drop_session(name: str) -> None:
        mine = next(s for s in net.net.db.sessions.values() if s.peer.name == name)
        await mine.channel.aclose()

    def host_left() -> float:
        current = net.net.db.hunt.round
        assert current is not None
        return current.time_left(trio.current_time())

    async def scenario() -> None:
        await net.peer({"relic.bin": b"relic" * 100})  # each of them has the other's to find:
        await net.peer({"amulet.bin": b"amulet" * 100})  # the round runs on while we are away
        player = net.player("me")
        app = GameApp(player, batch_seconds=0.5)  # the welcome and the first push: one burst
        ticks = counting_ticks(app)
        async with app.run_test(size=(160, 45)):
            hunt = await the_rounds_clock(app)
            await net.acall(drop_session, "me")
            await wait_until(lambda: "reconnecting…" in screen_text(app, "#status"),
                             what="reconnecting")  # fmt: skip
            subtitle, status = str(hunt.border_subtitle), screen_text(app, "#status")
            seen = ticks[0]
            await wait_until(lambda: ticks[0] >= seen + 2 or app.connection == "joined",
                             what="two ticks of the clock")  # fmt: skip
            assert app.connection != "joined", "back too soon to watch the clock"
            assert str(hunt.border_subtitle) == subtitle and "paused" in subtitle
            assert screen_text(app, "#status") == status
            await wait_until(lambda: app.connection == "joined", timeout=30, what="joined again")
            await wait_until(lambda: "paused" not in str(hunt.border_subtitle), what="the clock")
            await wait_until(lambda: player.round is not None and hunt.state is player.round,
                             what="the host's first push shown")  # fmt: skip
            host = net.call_sync(host_left)
            assert abs(hunt.seconds_left() - host) < 1.5, (hunt.seconds_left(), host)
            shown = str(hunt.border_subtitle)  # the status bar says the same (or both moved on)
            await wait_until(lambda: shown in screen_text(app, "#status")
                             or str(hunt.border_subtitle) != shown,
                             what="the status bar's clock")  # fmt: skip

    asyncio.run(scenario())
