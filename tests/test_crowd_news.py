"""What a source link tells its fetcher besides chunks (`peer/swarm/upload.py`), seen from the
fetcher's end of a real `Channel`: in a crowd each pair of peers fetch from each other, so news
of a chunk the fetcher told us it holds is left out, and `sent` hints come only from a source
holding the whole file (where the crowd's first copies come from)."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from reliablep2p.net.channel import Channel
from reliablep2p.peer.swarm.crowd import Partial, Swarming
from reliablep2p.peer.swarm.upload import Offer, UploadLink
from reliablep2p.peer.swarm.uploads import Uploads
from reliablep2p.proto import CHUNK_SIZE, Chunk, Chunks, File, Have, Sent, describe_bytes
from reliablep2p.storage.partial import Download

from .conftest import random_bytes

MIB = CHUNK_SIZE
ASKER = ("10.0.0.7", 7000)
"""The fetcher's address, as our peer list has it."""


def _link(offer: Offer, swarming: Swarming) -> tuple[UploadLink, Channel]:
    ours, theirs = trio.testing.memory_stream_pair()
    link = UploadLink(
        Channel(ours), offer, requester="f07", asker=ASKER, uploads=Uploads(),
        crowds=swarming.crowds, spreads=swarming.spreads, sent=lambda index, length: None,
        holdings=swarming.holdings,
    )  # fmt: skip
    return link, Channel(theirs)


async def test_a_fetching_source_tells_only_the_chunks_its_fetcher_lacks_and_no_sent_hints(
    tmp_path: Path,
) -> None:
    data = random_bytes(6 * MIB, seed=31)
    info = describe_bytes(data, "news.bin")
    download = Download(info, tmp_path / "news.part", tmp_path / "news.bin")
    partial = Partial(download)
    swarming = Swarming()
    swarming.holdings.add(info.name, ASKER, [1])  # its `have` to us, on our link to it
    link, fetcher = _link(Offer(info, download.part_path, partial), swarming)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(link.run)
        await fetcher.receive_message(File)
        swarming.spreads.claimed(info.name, 4, object())  # another fetcher asked us for 4
        for index in (1, 2):  # we verify 1 and 2; the fetcher holds 1 already
            download.store_chunk(index, data[index * MIB : (index + 1) * MIB])
            partial.stored(index)
        have = await fetcher.receive_message(Have)
        assert have.indices == [2]
        await fetcher.send(Chunks([2]))  # the next frame: the chunk, no `sent` hint before it
        assert (await fetcher.receive_message(Chunk, Sent)) == Chunk(2)
        nursery.cancel_scope.cancel()
    download.abandon()


async def test_a_holder_hints_what_others_asked_for_except_what_its_fetcher_holds(
    tmp_path: Path,
) -> None:
    data = random_bytes(6 * MIB, seed=32)
    info = describe_bytes(data, "whole.bin")
    (tmp_path / "whole.bin").write_bytes(data)
    swarming = Swarming()
    swarming.holdings.add(info.name, ASKER, [4])
    link, fetcher = _link(Offer(info, tmp_path / "whole.bin"), swarming)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(link.run)
        await fetcher.receive_message(File)
        for index in (4, 5):  # other fetchers asked for 4 and 5; ours holds 4
            swarming.spreads.claimed(info.name, index, object())
        sent = await fetcher.receive_message(Sent)
        assert sent.indices == [5]
        nursery.cancel_scope.cancel()
