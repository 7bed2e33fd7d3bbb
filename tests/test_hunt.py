"""Rounds hosted by the database peer: bots play them, proofs guard the scores."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest
import trio

from reliablep2p.app import bot
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.game import rules as game
from reliablep2p.game.board import TOP_ROWS
from reliablep2p.game.settings import GameSettings
from reliablep2p.net.channel import Channel
from reliablep2p.peer.node import Node
from reliablep2p.proto import (
    Challenge,
    Connect,
    Found,
    Proof,
    Publish,
    Round,
    Scoreboard,
    Scored,
    Welcome,
    encode_message,
)

from .conftest import Network, until

SETS = [
    {
        f"scroll-{i}.txt": f"scroll {i} of the lost library of the old town\n".encode()
        for i in range(3)
    },
    {f"gem-{i}.bin": bytes([i]) * 2000 for i in range(3)},
    {
        f"map-{i}.md": f"# map {i}: where the treasure of the old town lies\n".encode()
        for i in range(3)
    },
]


@pytest.fixture
async def game_network(nursery: trio.Nursery, tmp_path: Path) -> Network:
    net = Network(nursery, tmp_path)
    await net.start_db(round_seconds=60, pause_seconds=600, min_players=2, lobby_seconds=0,
                       settings=GameSettings(60, 600, targets=5, treasure=2))  # fmt: skip
    return net


async def test_three_bots_play_a_whole_round_and_agree_on_the_result(
    game_network: Network,
) -> None:
    net = game_network
    bots: list[Node] = []
    for index, files in enumerate(SETS):
        node = await net.peer(files)
        net.nursery.start_soon(lambda n=node, i=index: bot.play(n, pace=0.02, rng=random.Random(i)))
        bots.append(node)
    await until(lambda: all(b.round is not None and b.round.over for b in bots), timeout=30)
    final = bots[0].round
    assert final is not None and final.winner
    # each hunted its own targets: none of them a file it seeded when the round began
    for b, files in zip(bots, SETS, strict=True):
        assert b.round is not None and b.round.targets
        assert not set(b.round.targets) & set(files)
        same = msgspec.structs.replace(b.round, targets=final.targets)
        assert same == final, "every bot saw the same finds, standings and winner"
    # the round ended early: everything was found by everyone
    hunted = {(b.name, t) for b in bots for t in b.round.targets}  # type: ignore[union-attr]
    assert hunted <= {(f.player, f.target) for f in final.finds}
    # the winner is who the rules say: the most points, ties to whoever got there first
    assert final.standings[0].player == final.winner
    assert [s.points for s in final.standings] == sorted(
        (s.points for s in final.standings), reverse=True
    )
    for standing in final.standings:
        found = sum(f.points for f in final.finds if f.player == standing.player)
        assert standing.points == found + standing.map_points
    # every player ends with the same scoreboard, and it adds up
    points = {s.player: s.points for s in final.standings}

    def settled() -> bool:
        rows = {row.name: row for row in bots[0].scoreboard}
        return (
            all(b.scoreboard == bots[0].scoreboard for b in bots)
            and all(rows[name].score == points.get(name, 0) for name in rows)
            and rows[final.winner].wins == 1
        )

    await until(settled)
    board = {row.name: row for row in bots[0].scoreboard}
    assert set(board) == {b.name for b in bots}
    for name, row in board.items():
        assert row.score == points.get(name, 0)
        assert row.files_found == len([f for f in final.finds if f.player == name])
        assert row.online
    assert board[final.winner].wins == 1
    # what a bot found, it seeds
    for b in bots:
        for find in final.finds:
            if find.player == b.name:
                assert b.view.file_source(find.target) is not None


async def test_scores_survive_a_restart_of_the_database_peer(
    game_network: Network, nursery: trio.Nursery
) -> None:
    net = game_network
    players = [await net.peer(SETS[0]), await net.peer(SETS[1])]
    await until(lambda: all(p.round is not None for p in players))
    finder, target = next(
        (p, t)
        for p in players
        for t in p.round.targets
        if p.view.file_source(t) is None  # type: ignore[union-attr]
    )
    await finder.get(target)
    await until(lambda: any(r.name == finder.name and r.score > 0 for r in finder.scoreboard))
    score = next(r.score for r in finder.scoreboard if r.name == finder.name)
    port = net.db.port
    net.db.stop()
    restarted = DatabasePeer(data_dir=net.root / "db", port=port, min_players=5, secure=True)
    await nursery.start(restarted.run)
    assert restarted.hunt.players[finder.name].score == score
    await until(lambda: finder.me.addr in restarted.registry.peers, timeout=20)
    await until(lambda: any(r.name == finder.name and r.online for r in finder.scoreboard))
    assert next(r.score for r in finder.scoreboard if r.name == finder.name) == score


async def test_a_vault_fallback_scores_less_than_a_find_from_a_peer(game_network: Network) -> None:
    net = game_network
    seeder = await net.peer(SETS[0])
    hunter = await net.peer()
    await until(lambda: hunter.round is not None)
    assert hunter.round is not None
    first, second = [t for t in hunter.round.targets if t in SETS[0]][:2]  # not treasure
    scored: list[int] = []
    hunter.subscribe(lambda e: scored.append(e.points) if hasattr(e, "points") else None)
    await hunter.get(first)  # from the seeder
    await until(lambda: len(scored) == 1)
    await seeder.leave()
    await until(lambda: not hunter.peers.peers)
    result = await hunter.get(second)  # nobody else has it: the vault
    assert result.from_vault
    await until(lambda: len(scored) == 2)
    assert scored == [game.PEER_POINTS + game.FIRST_BONUS, game.VAULT_POINTS + game.FIRST_BONUS]


# ----------------------------------------------------------------------- faked finds


async def cheater(net: Network) -> tuple[Channel, list[str]]:
    """A hand-driven player that holds nothing, waiting for a round."""
    channel = await net.connect(net.db.port, name="cheater", listen_port=40999)
    await channel.send(Connect())
    await channel.receive_message(Welcome)
    await channel.send(Publish([]))  # it holds nothing
    while True:
        message = await channel.receive()
        if isinstance(message, Round) and not message.state.over:
            return channel, message.state.targets


M = TypeVar("M")


async def next_of(channel: Channel, kind: type[M]) -> M:
    """The next message of `kind`, skipping the pushes (scoreboard, round, ...) in between."""
    while True:
        message = await channel.receive()
        if isinstance(message, kind):
            return message


async def verdict(channel: Channel) -> Scored:
    return await next_of(channel, Scored)


async def test_a_claim_without_a_proof_scores_nothing(game_network: Network) -> None:
    await game_network.peer(SETS[0])
    channel, targets = await cheater(game_network)
    await channel.send(Found(targets[0]))
    challenge = await next_of(channel, Challenge)
    await channel.send(Found("not-a-target.txt"))
    refused = await verdict(channel)
    assert refused.points == 0 and "not a target" in refused.message
    assert challenge.name == targets[0]
    assert game_network.db.hunt.players["cheater"].score == 0


async def test_a_wrong_proof_scores_nothing(game_network: Network) -> None:
    await game_network.peer(SETS[0])
    channel, targets = await cheater(game_network)
    await channel.send(Found(targets[0]))
    challenge = await next_of(channel, Challenge)
    guess = hashlib.sha256(challenge.nonce + targets[0].encode()).digest()
    await channel.send(Proof(targets[0], challenge.nonce, guess))
    result = await verdict(channel)
    assert result.points == 0 and "does not match" in result.message
    assert game_network.db.hunt.players["cheater"].score == 0


async def test_a_proof_for_another_nonce_scores_nothing(game_network: Network) -> None:
    seeder = await game_network.peer(SETS[0])
    channel, targets = await cheater(game_network)
    target = next(t for t in targets if t in SETS[0])
    await channel.send(Found(target))
    await next_of(channel, Challenge)
    stale = b"\x00" * 32  # a nonce we were not given, with a correct digest for it
    path = seeder.share.path / target  # type: ignore[union-attr]
    digest = hashlib.sha256(stale + path.read_bytes()).digest()
    await channel.send(Proof(target, stale, digest))
    result = await verdict(channel)
    assert result.points == 0 and "no open challenge" in result.message


async def test_a_player_that_does_not_hold_the_file_cannot_prove_it(game_network: Network) -> None:
    await game_network.peer(SETS[0])
    liar = await game_network.peer()
    await until(lambda: liar.round is not None)
    assert liar.round is not None
    target = liar.round.targets[0]
    await liar.get(target)
    await until(lambda: any(r.name == liar.name and r.score for r in liar.scoreboard))
    (liar.share.path / target).unlink()  # type: ignore[union-attr]
    await liar.rescan()
    second = next(t for t in liar.round.targets if t != target)
    (liar.share.path / second).write_bytes(b"not the real thing")  # type: ignore[union-attr]
    await liar.rescan()
    assert liar.view.file_source(second) is None
    await liar.session.claim(second)  # claims it anyway
    await trio.sleep(0.5)
    assert game_network.db.hunt.players[liar.name].files_found == 1


async def test_in_a_crowd_a_player_is_sent_the_top_rows_and_itself_not_everyone(
    network: Network,
) -> None:
    crowd = []
    for i in range(TOP_ROWS + 5):  # nobody has scored: the board goes by name
        channel = await network.connect(network.db.port, name=f"crowd{i:02}", listen_port=41000 + i)
        await channel.send(Connect())
        await channel.receive_message(Welcome)
        crowd.append(channel)
    last = await next_of(crowd[-1], Scoreboard)  # its first push: everyone had joined by then
    names = [row.name for row in last.players]
    assert names == [f"crowd{i:02}" for i in range(TOP_ROWS)] + [f"crowd{TOP_ROWS + 4:02}"]
    first = await next_of(crowd[0], Scoreboard)
    assert len(first.players) <= TOP_ROWS and first.players[0].name == "crowd00"
    assert len(encode_message(last)) < 100 * (TOP_ROWS + 1), "rows, not the whole board"


async def test_a_target_the_host_removes_leaves_the_round_which_goes_on(
    game_network: Network, tmp_path: Path
) -> None:
    from reliablep2p.app.admin import ask_removal
    from reliablep2p.net.identity import ADMIN_NAME
    from reliablep2p.peer.fetch import GetError
    from reliablep2p.proto import Remove

    net = game_network
    seeder = await net.peer(SETS[0])
    hunter = await net.peer()
    await until(lambda: hunter.round is not None and not hunter.round.over)
    assert hunter.round is not None
    target = next(t for t in hunter.round.targets if t in SETS[0])
    assert net.db.authority is not None
    admin = net.db.authority.identity(ADMIN_NAME, tmp_path / "admin", days=1)
    removed = await ask_removal("127.0.0.1", net.db.port, admin.client_context(), Remove(target))
    assert removed.names == [target]
    await until(lambda: hunter.round is not None and target not in hunter.round.targets)
    assert not hunter.round.over and hunter.round.targets, "the round goes on with the others"
    with pytest.raises(GetError, match="not in the catalog"):
        await hunter.get(target)
    await until(lambda: target not in seeder.catalog)
    assert (seeder.share.path / target).exists() if seeder.share else False, "its copy stays"


async def test_a_player_back_mid_evening_ends_it_with_what_the_host_told_everyone(
    game_network: Network,
) -> None:
    """A player who quit and came back saw only the rounds since; when the host stops, the
    evening it says it had is the one the goodnight table showed it, not a smaller one."""
    net = game_network
    first, second = await net.peer(SETS[0]), await net.peer(SETS[1])
    first_bot = trio.CancelScope()

    async def first_plays() -> None:
        with first_bot:
            await bot.play(first, pace=0.02, rng=random.Random(1))

    net.nursery.start_soon(first_plays)
    net.nursery.start_soon(lambda: bot.play(second, pace=0.02, rng=random.Random(2)))
    await until(lambda: first.round is not None and first.round.over, timeout=30)
    first_bot.cancel()
    await first.leave()
    share = net.root / "player1-again"
    share.mkdir()
    again = Node(name=first.name, identity=net.identity(first.name), share_dir=share,
                 database=("127.0.0.1", net.db.port), rng=random.Random(9))  # fmt: skip
    await net.nursery.start(again.run)
    await until(lambda: again.ready.is_set())
    told = {row.name: row for row in await net.db.say_goodnight()}
    assert told[first.name].rounds >= 1
    await until(lambda: again.evening.row(first.name) == told[first.name])
