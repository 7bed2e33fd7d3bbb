"""An evening.json left from an earlier evening adds nothing to tonight's: the player quit
before the host's goodnight (or kept it from another host of the network), and the rounds it
counted then were counted again in the line said at the end ("won 0 of 2" after one round)."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from reliablep2p.app.options import keep_evening_in
from reliablep2p.app.profiles import Profile
from reliablep2p.game.evening import Evening
from reliablep2p.peer.node import Node
from reliablep2p.proto import EveningRow

from .conftest import Network, until

ONE_ROUND = {"min_players": 2, "lobby_seconds": 0, "round_seconds": 0.3, "pause_seconds": 600}
"""Each start of the host plays one short round, then waits ten minutes for the next."""


async def start_zoe(net: Network, profile: Profile) -> Node:
    """`zoe` as `rp2p-peer` starts her: with the evening her profile kept."""
    share = net.root / "zoe-share"
    share.mkdir(exist_ok=True)
    zoe = Node(name="zoe", identity=net.identity("zoe"), share_dir=share,
               database=("127.0.0.1", net.db.port), rescan_interval=0.1)  # fmt: skip
    keep_evening_in(profile, zoe)
    await net.nursery.start(zoe.run)
    return zoe


def rounds_kept(profile: Profile) -> int:
    kept = profile.kept_evening(time.time())
    row = next((row for row in kept.rows if row.name == "zoe"), None) if kept else None
    return row.rounds if row else 0


async def test_an_evening_kept_before_a_goodnight_she_missed_is_not_tonights(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = Network(nursery, tmp_path)
    db = await net.start_db(**ONE_ROUND)
    profile = Profile(tmp_path / "profiles" / "zoe")
    zoe = await start_zoe(net, profile)
    await net.peer({"gem.txt": b"a gem, long enough to hunt" * 20})
    await until(lambda: rounds_kept(profile) == 1)  # round 1 played and kept
    await zoe.leave()
    zoe.stop()
    await until(lambda: "zoe" not in db.online_players())
    await db.say_goodnight()  # to the others: zoe is gone, her evening.json stays
    db.stop()
    db = await net.start_db(port=db.port, **ONE_ROUND)  # the next evening, at the same host
    zoe = await start_zoe(net, profile)
    await until(lambda: zoe.evening.last == 2, timeout=20)  # tonight's first round is over
    row = zoe.evening.row("zoe")
    assert row is not None and row.rounds == 1, zoe.evening.rows()
    assert rounds_kept(profile) == 1


def test_the_evening_kept_goes_on_where_the_host_names_the_same_evening() -> None:
    kept = [EveningRow("zoe", 3, 1, 40, "gem", 15)]
    same, other, older = Evening(), Evening(), Evening()
    same.resume(kept, 7, named=5)
    same.heard(5)
    assert same.row("zoe") == kept[0] and same.last == 7
    other.resume(kept, 7, named=5)
    other.heard(9)  # another evening: what was kept is not tonight's
    assert other.rows() == [] and other.last == -1 and other.named == 9
    older.resume(kept, 7)  # kept before files named their evening: the 6 h rule alone
    older.heard(9)
    assert older.row("zoe") == kept[0]
