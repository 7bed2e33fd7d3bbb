"""What the database peer counts a player as holding (its scoreboard, its rounds' targets)
follows what the player published and what the catalog trusts, though it is worked out once
and kept between changes (every push round asks it of every player)."""

from __future__ import annotations

from pathlib import Path

from reliablep2p.app.admin import ask_removal
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
