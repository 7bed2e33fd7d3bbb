"""What a source link tells its fetcher besides chunks (`peer/swarm/upload.py`), seen from the
fetcher's end of a real `Channel`: in a crowd each pair of peers fetch from each other, so news
of a chunk the fetcher told us it holds is left out, and `sent` hints come only from a source
holding the whole file (where the crowd's first copies come from)."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from reliablep2p.net.channel import Channel
from reliablep2p.peer.swarm.crowd import CROWD_TOLD, Partial, Swarming
from reliablep2p.peer.swarm.news import TELL_EVERY, News
from reliablep2p.peer.swarm.upload import Offer, UploadLink
from reliablep2p.peer.swarm.uploads import Uploads
from reliablep2p.proto import (
    CHUNK_SIZE,
    Chunk,
    Chunks,
    Crowd,
    File,
    Have,
    PeerInfo,
    Sent,
    describe_bytes,
)
from reliablep2p.storage.partial import Download

from .conftest import random_bytes

MIB = CHUNK_SIZE
ASKER = ("10.0.0.7", 7000)
"""The fetcher's address, as our peer list has it."""


def _link(
    offer: Offer, swarming: Swarming, uploads: Uploads | None = None
) -> tuple[UploadLink, Channel]:
    ours, theirs = trio.testing.memory_stream_pair()
    link = UploadLink(
        Channel(ours), offer, requester="f07", asker=ASKER, uploads=uploads or Uploads(),
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


async def test_a_busy_links_news_goes_out_at_once_then_batched_at_most_every_tell_every(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    """Time moves only when the test says (no autojump: the link's keep-alive never fires).
    The link is busy: its fetcher asked for a chunk, which waits for the one upload slot."""
    data = random_bytes(6 * MIB, seed=33)
    info = describe_bytes(data, "paced.bin")
    download = Download(info, tmp_path / "paced.part", tmp_path / "paced.bin")
    partial = Partial(download)
    uploads = Uploads(slots=1)
    link, fetcher = _link(Offer(info, download.part_path, partial), Swarming(), uploads)
    heard: list[object] = []
    taken, release = trio.Event(), trio.Event()

    async def hold_the_slot() -> None:
        async with uploads.slots.turn("another fetcher"):
            taken.set()
            await release.wait()

    async def listen() -> None:
        while True:
            heard.append(await fetcher.receive_message(Have))

    async def verify_at(at: float, index: int) -> None:
        mock_clock.jump(at - trio.current_time())
        download.store_chunk(index, data[index * MIB : (index + 1) * MIB])
        partial.stored(index)
        await trio.testing.wait_all_tasks_blocked()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold_the_slot)
        await taken.wait()
        nursery.start_soon(link.run)
        await fetcher.receive_message(File)
        nursery.start_soon(listen)
        await verify_at(0.0, 1)
        assert heard == [Have([1])]  # the first news at once
        await fetcher.send(Chunks([1]))  # it waits for our slot: the link is busy
        await verify_at(0.1, 2)
        await verify_at(0.2, 3)
        assert heard == [Have([1])]  # within the pace: held back
        mock_clock.jump(TELL_EVERY - 0.2)
        await trio.testing.wait_all_tasks_blocked()
        assert heard == [Have([1]), Have([2, 3])]  # together, in one message
        await verify_at(5.0, 4)
        assert heard[-1] == Have([4])  # after a quiet spell, at once again
        release.set()
        nursery.cancel_scope.cancel()
    download.abandon()


async def test_an_idle_links_news_of_every_chunk_goes_out_at_once(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    """Its fetcher takes nothing from us: until it hears, our uplink idles towards it."""
    data = random_bytes(4 * MIB, seed=34)
    info = describe_bytes(data, "idle.bin")
    download = Download(info, tmp_path / "idle.part", tmp_path / "idle.bin")
    partial = Partial(download)
    link, fetcher = _link(Offer(info, download.part_path, partial), Swarming())
    heard: list[object] = []

    async def listen() -> None:
        while True:
            heard.append(await fetcher.receive_message(Have))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(link.run)
        await fetcher.receive_message(File)
        nursery.start_soon(listen)
        for index in (0, 1, 2):
            mock_clock.jump(0.05)
            download.store_chunk(index, data[index * MIB : (index + 1) * MIB])
            partial.stored(index)
            await trio.testing.wait_all_tasks_blocked()
            assert heard[-1] == Have([index])  # each at once, within the pace
        nursery.cancel_scope.cancel()
    download.abandon()


def test_news_waits_for_its_pace_and_comes_in_one_message_of_each_kind() -> None:
    news = News(every=0.25)
    assert news.take(10.0) == []  # nothing to tell
    news.have.append(1)
    assert news.take(10.0) == [Have([1])]
    news.have += [2, 3]
    news.spread.append(5)
    peer = PeerInfo("f09", "10.0.0.9", 7000)
    news.crowd += [peer] * 20
    assert news.due_at() == 10.25
    assert news.take(10.2) == []  # too soon: kept
    assert news.take(10.25) == [Have([2, 3]), Sent([5]), Crowd([peer] * CROWD_TOLD)]
    assert not news.pending


def test_news_of_enough_chunks_goes_out_before_its_pace() -> None:
    """On a fast link a quarter second is many chunks: news that late is of no use to trade."""
    news = News(every=0.25, enough=4)
    news.have.append(1)
    assert news.take(10.0) == [Have([1])]
    news.have += [2, 3]
    news.spread.append(7)
    assert news.take(10.01) == []  # 3 chunks: they wait for the pace
    news.have.append(4)
    assert news.take(10.01) == [Have([2, 3, 4]), Sent([7])]  # 4: at once


def test_news_of_a_chunk_goes_out_at_once_on_an_idle_link() -> None:
    news = News(every=0.25, enough=4)
    news.have.append(1)
    assert news.take(10.0) == [Have([1])]
    news.spread.append(7)
    assert news.take(10.01, idle=True) == []  # a hint waits for the pace
    news.have.append(2)
    assert news.take(10.01) == []  # busy: the pace
    assert news.take(10.01, idle=True) == [Have([2]), Sent([7])]
