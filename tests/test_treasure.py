"""Treasure and records, on a real database peer: hunts that never run dry, and no cheating.

Every player has something to find in every round, even when everyone holds every file, because
the host plants fresh content with a few seeders; planted files expire from the catalog, the vault
and the shares. What the host has a record of a player holding before a round never scores, and
a map scores only for the entries the host can check.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TypeVar

import pytest
import trio

from reliablep2p.app import bot
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.game import rules
from reliablep2p.game.settings import GameSettings
from reliablep2p.net.channel import Channel, RemoteError
from reliablep2p.net.identity import DATABASE_NAME
from reliablep2p.peer import events
from reliablep2p.peer.node import Node
from reliablep2p.proto import (
    Challenge,
    ChangeSetting,
    Connect,
    ErrorCode,
    Found,
    Hello,
    Lobby,
    PeerInfo,
    Ping,
    Pong,
    Proof,
    Publish,
    Round,
    Settings,
    Stats,
    Welcome,
    describe_bytes,
)

from .conftest import Network, until

SAME = {
    "common.txt": b"everybody has this, and has had it for years",
    "shared.bin": bytes(range(256)) * 8,
}


def quick(**changes: float) -> GameSettings:
    return GameSettings(**{"round_seconds": 30, "pause_seconds": 0.2, **changes})  # type: ignore[arg-type]


@pytest.fixture
async def game_network(nursery: trio.Nursery, tmp_path: Path) -> Network:
    net = Network(nursery, tmp_path)
    await net.start_db(min_players=2, lobby_seconds=0, settings=quick())
    return net


M = TypeVar("M")


async def next_of(channel: Channel, kind: type[M]) -> M:
    while True:
        message = await channel.receive()
        if isinstance(message, kind):
            return message


def events_of(node: Node, kind: type) -> list[events.Event]:
    seen: list[events.Event] = []
    node.subscribe(lambda e: seen.append(e) if isinstance(e, kind) else None)
    return seen


async def test_when_everyone_holds_everything_treasure_gives_everyone_a_target(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = Network(nursery, tmp_path)
    await net.start_db(min_players=3, lobby_seconds=0, settings=quick(targets=3, treasure=2))
    players = [await net.peer(SAME) for _ in range(3)]
    planted = [events_of(p, events.TreasurePlanted) for p in players]
    await until(lambda: all(p.round is not None for p in players))
    pool = set(net.db.hunt.round.pool)  # type: ignore[union-attr]
    assert len(pool) == 3 and not pool & set(SAME)  # nothing ordinary is left to hunt
    for player in players:
        assert player.round is not None and player.round.targets, f"{player.name}: no target"
        assert not any(player.view.file_source(t) for t in player.round.targets)
    # the seeders fetched their treasure from the vault, and seed it; it is not their target
    await until(lambda: sum(len(seen) for seen in planted) >= 3)
    for player, seen in zip(players, planted, strict=True):
        for event in seen:
            for name in event.names:  # type: ignore[attr-defined]
                assert player.view.file_source(name) is not None
                assert name not in player.round.targets  # type: ignore[union-attr]
    # a hunter gets treasure from its seeder: a find from a peer
    hunter = players[0]
    target = hunter.round.targets[0]  # type: ignore[union-attr]
    result = await hunter.get(target)
    assert not result.from_vault and result.source != "vault"
    await until(lambda: any(f.player == hunter.name for f in hunter.round.finds))  # type: ignore[union-attr]
    find = next(f for f in hunter.round.finds if f.player == hunter.name)  # type: ignore[union-attr]
    assert find.points == rules.PEER_POINTS + rules.FIRST_BONUS


async def test_treasure_expires_from_the_catalog_the_vault_and_the_shares(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = Network(nursery, tmp_path)
    await net.start_db(
        min_players=2, lobby_seconds=0, settings=quick(targets=2, treasure=2, treasure_rounds=1)
    )
    players = [await net.peer(SAME) for _ in range(2)]
    for index, player in enumerate(players):
        nursery.start_soon(lambda p=player, i=index: bot.play(p, pace=0.02, rng=random.Random(i)))
    await until(lambda: all(p.round is not None for p in players))
    first = dict(net.db.hunt.round.pool)  # type: ignore[union-attr]
    blobs = [net.db.vault.blob_path(digest) for digest in first.values()]
    await until(lambda: all(b.exists() for b in blobs))
    await until(lambda: all(p.view.file_source(n) for p in players for n in first), timeout=20)
    await until(lambda: net.db.hunt.rounds >= 2, timeout=20)  # round 2 began: round 1's is gone
    assert not set(first) & set(net.db.catalog)
    assert not any(b.exists() for b in blobs)
    await until(lambda: not any((p.share.path / n).exists() for p in players for n in first))  # type: ignore[union-attr]
    assert all(not set(first) & set(p.catalog) for p in players)
    # ...and it stays gone: the next rounds plant new treasure, and the catalog stays small
    await until(lambda: net.db.hunt.rounds >= 4, timeout=30)
    assert len(net.db.catalog) <= len(SAME) + 2 * 2
    logs = net.db.pushes
    await until(lambda: not logs.catalog_log.since(0) and not logs.expired_log.since(0))


async def test_a_target_brought_to_the_round_scores_nothing(game_network: Network) -> None:
    """A player that joins mid-round with a copy of a target did not find it in the round."""
    net = game_network
    await net.peer({"scroll.txt": b"the only scroll, in the only library in town"})
    hunter = await net.peer()
    await until(lambda: hunter.round is not None and "scroll.txt" in hunter.round.targets)
    late = await net.peer(
        {"scroll.txt": b"the only scroll, in the only library in town"}
    )  # brought along, not found
    refused = events_of(late, events.FindRefused)
    await until(lambda: late.round is not None)
    assert "scroll.txt" not in late.round.targets  # type: ignore[union-attr]
    assert late.session.channel is not None
    await late.session.channel.send(Found("scroll.txt"))  # claims it anyway, and proves it has it
    await until(lambda: refused)
    assert "already had scroll.txt before the round" in refused[0].reason  # type: ignore[attr-defined]
    assert net.db.hunt.players[late.name].score == 0


async def test_a_file_held_in_an_earlier_session_is_no_target_even_after_a_restart(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = Network(nursery, tmp_path)
    await net.start_db(min_players=2, lobby_seconds=0, settings=quick(targets=3, treasure=1))
    await net.peer({"old-map.txt": b"x marks the spot, ten paces from the old oak"})
    other = await net.peer()
    await until(lambda: other.round is not None and "old-map.txt" in other.round.targets)
    await other.get("old-map.txt")
    digest = net.db.catalog["old-map.txt"].hash
    await until(lambda: net.db.hunt.players[other.name].files_found == 1)
    await until(lambda: digest in net.db.store.load_holdings().get(other.name, {}))
    (other.share.path / "old-map.txt").unlink()  # type: ignore[union-attr]  # hides it...
    await other.rescan()
    port = net.db.port
    net.db.store.save_running_round(None)  # as between rounds: no round to go on with
    net.db.stop()  # ...and the host restarts: the record is in its store
    restarted = DatabasePeer(data_dir=net.root / "db", port=port, min_players=3,
                             lobby_seconds=0, secure=True, settings=quick())  # fmt: skip
    await nursery.start(restarted.run)
    net.db = restarted
    newcomer = await net.peer()
    await until(lambda: all(p.round and p.round.number == 2 for p in (other, newcomer)), timeout=20)
    assert "old-map.txt" in newcomer.round.targets  # type: ignore[union-attr]
    assert "old-map.txt" not in other.round.targets  # held once: never again a target
    problem = restarted.hunt.round.claim_problem(other.name, "old-map.txt", trio.current_time())  # type: ignore[union-attr]
    assert problem is not None and "already had" in problem


async def test_a_faked_map_scores_nothing_and_a_true_one_does(game_network: Network) -> None:
    net = game_network
    seeder = await net.peer({"a.txt": b"a", "b.txt": b"b"})
    channel = await net.connect(net.db.port, name="boaster", listen_port=40998)
    await channel.send(Connect())
    await channel.receive_message(Welcome)
    await channel.send(Publish([]))
    await next_of(channel, Round)
    fake = [("a.txt", "nobody"), ("b.txt", "boaster"), ("zzz", seeder.name)]
    await channel.send(Stats(map_size=10**15, entries=fake))
    honest = await net.peer()
    await honest.get("a.txt")  # learns that the seeder holds a.txt (and b.txt from its map)
    await until(lambda: any(r.name == honest.name and r.map_size for r in honest.scoreboard))
    board = {row.name: row for row in honest.scoreboard}
    assert board["boaster"].map_size == 0, "a size alone, or untrue entries, count for nothing"
    assert 1 <= board[honest.name].map_size <= 2
    await until(
        lambda: any(s.player == honest.name and s.map_points for s in honest.round.standings)
    )  # type: ignore[union-attr]
    standings = {s.player: s for s in honest.round.standings}  # type: ignore[union-attr]
    assert standings[honest.name].map_points == rules.map_points(board[honest.name].map_size)
    assert "boaster" not in standings or standings["boaster"].map_points == 0


async def test_every_player_ready_cuts_the_countdown_short(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = Network(nursery, tmp_path)
    await net.start_db(min_players=2, settings=quick(pause_seconds=600))
    first = await net.peer({"x.txt": b"x"})
    second = await net.peer()
    await until(lambda: first.lobby is not None and first.lobby.starts_in > 500)
    lobby: Lobby = first.lobby  # type: ignore[assignment]
    assert (lobby.round_seconds, lobby.targets, lobby.ready) == (30, 5, [])
    began = trio.current_time()
    await first.ready_up()
    await until(lambda: first.lobby is not None and first.lobby.ready == [first.name])
    assert first.round is None, "one player ready does not start the round"
    await second.ready_up()
    await until(lambda: first.round is not None, timeout=rules.READY_SECONDS + 5)
    assert trio.current_time() - began < rules.READY_SECONDS + 2


async def test_a_one_off_fetcher_is_in_the_network_but_not_in_the_game(
    game_network: Network,
) -> None:
    net = game_network
    await net.peer({"x.txt": b"x"})
    await net.peer()
    fetcher = Node(name="fetcher", identity=net.identity("fetcher"), share_dir=net.root / "f",
                   database=("127.0.0.1", net.db.port), plays=False)  # fmt: skip
    await net.nursery.start(fetcher.run)
    await until(lambda: fetcher.ready.is_set())
    result = await fetcher.get("x.txt")
    assert result.size == 1
    await trio.sleep(0.3)  # the host would have told us of a round, had we been playing
    assert fetcher.round is None and "fetcher" not in net.db.online_players()
    assert "fetcher" not in net.db.hunt.players


async def test_a_challenge_for_a_file_deleted_since_is_left_unanswered_and_the_node_lives_on(
    network: Network,
) -> None:
    """A player deletes a file it claimed before the host's challenge arrives: no proof (no
    points), and its session goes on."""
    share = network.root / "quick"
    share.mkdir()
    (share / "gone.txt").write_bytes(b"here a moment ago, and gone the next moment")
    info = describe_bytes(b"here a moment ago, and gone the next moment", "gone.txt")
    answers: list[object] = []

    async def host(channel: Channel) -> None:
        hello = await channel.receive_message(Hello)
        await channel.receive_message(Connect)
        you = PeerInfo(hello.name, "127.0.0.1", hello.port)
        await channel.send(Welcome(you=you, peers=[], peers_version=0, catalog=[info]))
        await channel.receive_message(Publish)
        (share / "gone.txt").unlink()  # deleted before the challenge arrives
        await channel.send(Challenge("gone.txt", b"n" * 32))
        await channel.send(Ping())
        while not answers:
            message = await channel.receive()
            if isinstance(message, Pong | Proof):
                answers.append(message)
        await trio.sleep_forever()  # the session stays open until the test ends

    port = await network.serve(host, name=DATABASE_NAME)
    node = Node(name="quick", identity=network.identity("quick"), share_dir=share,
                database=("127.0.0.1", port), rescan_interval=60)  # fmt: skip
    await network.nursery.start(node.run)
    await until(lambda: answers)
    assert isinstance(answers[0], Pong), "no proof for a file it no longer has"
    assert node.session.channel is not None, "and the session lives on"


async def test_an_easy_bot_sometimes_picks_wrong_and_a_hard_one_harvests_maps(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = Network(nursery, tmp_path)
    await net.start_db(min_players=3, lobby_seconds=0, settings=quick(targets=2, treasure=1))
    files = {
        f"page-{i}.txt": f"page {i} of a book that every player may hunt".encode() for i in range(6)
    }
    await net.peer(files)
    easy, hard = await net.peer(), await net.peer()
    await until(lambda: easy.round is not None and hard.round is not None)
    wrong_always = bot.Level(pace=0.02, wrong=1.0)
    nursery.start_soon(lambda: bot.play(easy, level=wrong_always, rng=random.Random(1)))
    nursery.start_soon(lambda: bot.play(hard, level=bot.Level(pace=5, harvest=2)))
    targets = set(easy.round.targets)  # type: ignore[union-attr]
    await until(lambda: any(easy.view.file_source(n) for n in set(files) - targets))
    others = set(files) - set(hard.round.targets)  # type: ignore[union-attr]
    # before its first get (it waits 2.5 s or more), the hard bot knows who holds other files
    await until(lambda: any(hard.address_book.holders(n) for n in others), timeout=2)
    assert bot.LEVELS["easy"].pace > bot.LEVELS["normal"].pace > bot.LEVELS["hard"].pace


async def test_only_the_hosts_admin_tool_may_change_a_setting(game_network: Network) -> None:
    channel = await game_network.connect(game_network.db.port, name="sneaky")
    await channel.send(ChangeSetting("round-seconds", "100000"))
    with pytest.raises(RemoteError) as refused:
        await channel.receive_message(Settings)
    assert refused.value.code == ErrorCode.FORBIDDEN
    assert game_network.db.hunt.settings.round_seconds == 30


async def test_an_empty_or_tiny_file_is_never_a_target(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """`: > empty.txt` in a share made a target worth a first-finder bonus, proved with the hash
    of the nonce alone; a few bytes are as easily guessed from the catalog's hash."""
    net = Network(nursery, tmp_path)
    await net.start_db(min_players=2, lobby_seconds=0, settings=quick(targets=4, treasure=1))
    small = {"empty.txt": b"", "tiny.txt": b"x" * (rules.MIN_TARGET_BYTES - 1)}
    await net.peer({**small, "big-enough.txt": b"y" * rules.MIN_TARGET_BYTES})
    hunter = await net.peer()
    await until(lambda: hunter.round is not None and "big-enough.txt" in hunter.round.targets)
    assert hunter.round is not None and not set(small) & set(hunter.round.targets)
    assert hunter.session.channel is not None
    refused = events_of(hunter, events.FindRefused)
    await hunter.get("empty.txt")  # fetched, and claimed: no points
    await hunter.session.channel.send(Found("empty.txt"))
    await until(lambda: refused)
    assert "not a target of this round" in refused[0].reason  # type: ignore[attr-defined]
    assert net.db.hunt.players[hunter.name].score == 0
