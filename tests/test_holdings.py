"""What the database peer counts a player as holding (its scoreboard, its rounds' targets)
follows what the player published and what the catalog trusts, though it is worked out once
and kept between changes (every push round asks it of every player)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliablep2p.app.admin import ask_removal
from reliablep2p.database.sessions import Session
from reliablep2p.net.identity import ADMIN_NAME
from reliablep2p.peer.versioned import Versioned
from reliablep2p.proto import (
    Connect,
    Need,
    Publish,
    Remove,
    Stored,
    Upload,
    Welcome,
    describe_bytes,
)

from .conftest import Network, until


def test_a_versioned_dict_counts_every_kind_of_change() -> None:
    counted: Versioned[str, int] = Versioned(a=1)
    changes = [
        lambda: counted.__setitem__("b", 2),
        lambda: counted.pop("b"),
        lambda: counted.update({"c": 3}),
        lambda: counted.setdefault("d", 4),
        lambda: counted.__delitem__("d"),
        lambda: counted.popitem(),
        lambda: counted.__ior__({"e": 5}),
        lambda: counted.clear(),
    ]
    for change in changes:
        before = counted.version
        change()
        assert counted.version > before


async def test_holdings_follow_a_publish_the_catalog_and_a_removal(
    network: Network, tmp_path: Path
) -> None:
    db = network.db

    def holds() -> frozenset[str] | None:
        online = db.online_players().get("hand")
        return None if online is None else online.holdings

    new, old = b"brought to the network now", b"the catalog has this one"
    await network.peer({"old.txt": old})
    async with await network.connect(db.port, name="hand", listen_port=40997) as session:
        await session.send(Connect())
        await session.receive_message(Welcome)
        await session.send(
            Publish([describe_bytes(old, "mine.txt"), describe_bytes(new, "new.txt")])
        )
        while not isinstance(message := await session.receive(), Need):
            pass
        assert message.names == ["new.txt"]
        await until(lambda: holds() == frozenset({"mine.txt"}))  # a publish, and it is kept

        # the catalog changes under it: the upload of what the vault lacked
        async with await network.connect(db.port, name="hand", listen_port=40997) as upload:
            await upload.send(Upload(describe_bytes(new, "new.txt")))
            await upload.send_data(new)
            await upload.receive_message(Stored)
        await until(lambda: holds() == frozenset({"mine.txt", "new.txt"}))

        assert db.authority is not None  # the host removes one: the player holds it no more
        admin = db.authority.identity(ADMIN_NAME, tmp_path / "admin", days=1)
        await ask_removal("127.0.0.1", db.port, admin.client_context(), Remove("new.txt"))
        await until(lambda: holds() == frozenset({"mine.txt"}))


async def test_counting_who_plays_works_out_nobodys_holdings(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's countdown asks at every join and publish how many play and whether all are
    ready: that look makes no player's `Online` (a storm's N of them at each of N joins was a
    quarter of the database peer's CPU). A player that joins again from its own address is
    counted once, and one that left not at all."""
    db = network.db
    players = [await network.peer() for _ in range(3)]
    names = {p.name for p in players}
    await until(lambda: set(db.online_players()) == names)
    worked_out: list[str] = []
    holdings = db.play.holdings

    def counted(session: Session) -> frozenset[str]:
        worked_out.append(session.peer.name)
        return holdings(session)

    monkeypatch.setattr(db.play, "holdings", counted)
    online = db.online_players()
    assert len(online) == 3 and players[0].name in online and set(online) == names
    assert worked_out == []
    assert online[players[1].name].peer == players[1].me and worked_out == [players[1].name]
    async with await network.connect(db.port, name="rejoiner", listen_port=40996) as first:
        await first.send(Connect())
        await first.receive_message(Welcome)
        await first.send(Publish([]))
        await until(lambda: "rejoiner" in db.online_players())
        async with await network.connect(db.port, name="rejoiner", listen_port=40996) as again:
            await again.send(Connect())  # the same player, from its own address: the first ends
            await again.receive_message(Welcome)
            assert "rejoiner" not in db.online_players(), "not in the game until it publishes"
            await again.send(Publish([]))
            await until(lambda: "rejoiner" in db.online_players())
            assert len(db.online_players()) == 4
    players[2].stop()
    await until(lambda: set(db.online_players()) == names - {players[2].name})
