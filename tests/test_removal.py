"""What the database peer itself does about removed files and who shared what, in process: a
player that never heard of a removal is refused by the database peer too, only the admin tool
may remove, and `ask_shared` tells each player its own files alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliablep2p.app.admin import ask_removal
from reliablep2p.net.channel import RemoteError
from reliablep2p.net.identity import ADMIN_NAME
from reliablep2p.proto import (
    AskShared,
    Connect,
    Publish,
    Rejected,
    Remove,
    SharedFiles,
    Welcome,
    describe_bytes,
)

from .conftest import Network, until


async def test_the_database_peer_refuses_removed_content_under_any_name(
    network: Network, tmp_path: Path
) -> None:
    owner = await network.peer({"secret.txt": b"private", "other.txt": b"public"})
    await network.peer({"mine.txt": b"someone else's"})
    assert network.db.authority is not None
    admin = network.db.authority.identity(ADMIN_NAME, tmp_path / "admin", days=1)
    await ask_removal("127.0.0.1", network.db.port, admin.client_context(), Remove("secret.txt"))
    await until(lambda: "secret.txt" not in owner.catalog)

    # a player that does not know (an older one, or one written by hand) publishes it again
    channel = await network.connect(network.db.port, name="mallory", listen_port=40998)
    await channel.send(Connect())
    welcome = await channel.receive_message(Welcome)
    assert welcome.removed == [describe_bytes(b"private", "x").hash]
    await channel.send(Publish([describe_bytes(b"private", "renamed.txt")]))
    while not isinstance(message := await channel.receive(), Rejected):
        pass
    assert message.names == ["renamed.txt"]
    assert message.reasons == ["the host removed this file from the network"]
    assert "renamed.txt" not in network.db.catalog
    await channel.aclose()

    # what each player shared, and nobody but the admin tool removes
    async with await network.connect(network.db.port, name=owner.name) as asking:
        await asking.send(AskShared())
        shared = await asking.receive_message(SharedFiles)
    assert [info.name for info in shared.files] == ["other.txt"]
    tls = network.tls(owner.name)
    with pytest.raises(RemoteError, match="only the host's admin tool may remove"):
        await ask_removal("127.0.0.1", network.db.port, tls, Remove("other.txt"))  # type: ignore[arg-type]
    assert "other.txt" in network.db.catalog
