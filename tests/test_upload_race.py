"""An upload the database peer took for a name that other content won meanwhile is refused:
the uploader must not be told its file is backed up while the catalog has another under it."""

from __future__ import annotations

import pytest
import trio

from reliablep2p.net.channel import RemoteError
from reliablep2p.proto import CHUNK_SIZE, ErrorCode, Stored, Upload, describe_bytes

from .conftest import Network, random_bytes


async def test_content_uploaded_for_a_name_another_took_meanwhile_is_not_stored(
    network: Network,
) -> None:
    whole = random_bytes(3 * CHUNK_SIZE, seed=5)
    info = describe_bytes(whole, "movie.mkv")
    channel = await network.connect(network.db.port, name="player-8001")
    await channel.send(Upload(info))
    await channel.send_data(whole[:CHUNK_SIZE])  # the upload is under way...
    cut = whole[: CHUNK_SIZE + 10]  # ...when another player's first look at a copy wins
    await network.peer({"movie.mkv": cut})
    assert network.db.catalog["movie.mkv"].size == len(cut)
    for start in range(CHUNK_SIZE, len(whole), CHUNK_SIZE):
        await channel.send_data(whole[start : start + CHUNK_SIZE])
    with trio.fail_after(10), pytest.raises(RemoteError) as refused:
        await channel.receive_message(Stored)
    assert refused.value.code == ErrorCode.NAME_TAKEN
    assert network.db.catalog["movie.mkv"].size == len(cut)
