"""The swarm on loopback, in one process: fetchers of one file help each other with the chunks
they are still fetching, a search cannot be stalled by silent "holders", uploads are shared
fairly and kept under a cap."""

from __future__ import annotations

import pytest
import trio

from reliablep2p.net.channel import Channel
from reliablep2p.peer.swarm import finder
from reliablep2p.peer.swarm.engine import PROBE_TIMEOUT
from reliablep2p.peer.swarm.uploads import FairSlots, TokenBucket, parse_rate
from reliablep2p.peer.view import MAP_CAP
from reliablep2p.proto import CHUNK_SIZE, Connect, Get, Hello, Map, PeerInfo, Welcome
from reliablep2p.storage.partial import Download

from .conftest import Network, random_bytes, until

MIB = CHUNK_SIZE


async def test_fetchers_of_one_file_help_each_other_with_what_they_are_still_fetching(
    network: Network,
) -> None:
    data = random_bytes(12 * MIB + 777, seed=11)
    seeder = await network.peer({"crowd.bin": data}, max_upload=8 * MIB)
    fetchers = [await network.peer() for _ in range(4)]
    await until(lambda: all(len(f.peers) == len(fetchers) for f in fetchers))
    results = {}

    async def get(node: object) -> None:
        results[node] = await node.get("crowd.bin")  # type: ignore[attr-defined]

    async with trio.open_nursery() as nursery:  # all at once, as at a round's start
        for fetcher in fetchers:
            nursery.start_soon(get, fetcher)
    assert all(r.path.read_bytes() == data for r in results.values())
    names = {f.name for f in fetchers}
    for result in results.values():  # each found the others (they only knew the seeder)
        assert names & {who for who, _ in result.sources}, result.sources
    # chunks went out of downloads still under way, and the capped seeder sent far less than
    # a copy for everyone
    assert sum(f.files.sent_while_fetching for f in fetchers) > 0
    from_seeder = sum(n for r in results.values() for who, n in r.sources if who == seeder.name)
    assert from_seeder < 3 * len(data), f"the seeder sent {from_seeder / len(data):.1f} copies"


async def test_a_capped_source_that_keeps_sending_is_never_taken_for_a_dead_one(
    network: Network,
) -> None:
    data = random_bytes(3 * MIB, seed=12)
    seeder = await network.peer({"slow.bin": data}, max_upload=2 * MIB)
    fetcher = await network.peer(stall_timeout=0.3)  # a chunk takes 0.5 s at 2 MiB/s
    await until(lambda: len(fetcher.peers) == 1)
    started = trio.current_time()
    result = await fetcher.get("slow.bin")
    took = trio.current_time() - started
    assert result.sources == ((seeder.name, len(data)),) and result.path.read_bytes() == data
    assert took >= 0.8 * (len(data) - 2 * MIB / 10) / (2 * MIB), f"the cap was not kept: {took}"


async def test_a_long_download_is_made_durable_while_its_chunks_still_arrive(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the `fsync` before the rename would flush is flushed as the download goes. Whole
    chunks from a capped source: when a sync is started, at least one chunk of 1/16 s is still
    to come, so its thread runs before the last one is in."""
    monkeypatch.setattr(Download, "SYNC_EVERY", 2 * MIB)
    synced_at: list[int] = []
    sync = Download.sync

    def noting(self: Download) -> None:
        synced_at.append(self.received)
        sync(self)

    monkeypatch.setattr(Download, "sync", noting)
    data = random_bytes(8 * MIB, seed=14)
    await network.peer({"long.bin": data}, max_upload=16 * MIB)
    fetcher = await network.peer()
    await until(lambda: len(fetcher.peers) == 1)
    result = await fetcher.get("long.bin")
    assert result.path.read_bytes() == data
    assert synced_at, "nothing was made durable before the end"
    assert all(2 * MIB <= received < len(data) for received in synced_at), synced_at


WAITED_OUT = PROBE_TIMEOUT - 0.1
"""A connection held this long was an asker waiting out its probe timeout: the holder's clock
starts at the accept, a little after the asker's (its dial is inside the timeout)."""


class SilentHolders:
    """Ports that accept connections and never say a word (not even TLS); each remembers how
    long every connection to it was held open before the asker gave up."""

    def __init__(self) -> None:
        self.held: dict[int, list[float]] = {}

    async def start(self, network: Network) -> int:
        port = 0

        async def hold(stream: trio.SocketStream) -> None:
            opened = trio.current_time()
            try:
                while await stream.receive_some():
                    pass  # whatever it says (a TLS hello), we never answer
            except trio.BrokenResourceError:
                pass
            self.held[port].append(trio.current_time() - opened)

        listeners = await network.nursery.start(trio.serve_tcp, hold, 0)
        port = listeners[0].socket.getsockname()[1]
        self.held[port] = []
        return port

    def timed_out(self) -> dict[int, list[float]]:
        """The holders some asker waited the whole probe timeout for, and their connections."""
        return {p: h for p, h in self.held.items() if any(t >= WAITED_OUT for t in h)}


async def test_a_map_naming_a_dozen_silent_holders_costs_one_short_timeout_once(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The vault is due after a probe's timeout here, not at the same 3 s: else a probe cut
    # short by the file arriving from the vault looks, to the holder, like one waited out.
    monkeypatch.setattr(finder, "VAULT_AFTER", PROBE_TIMEOUT + 1)
    files = {f"{n}.bin": random_bytes(MIB, seed=13 + i) for i, n in enumerate(["a", "b", "c"])}
    original = await network.peer(files)
    original.stop()  # the vault has them all
    holders = SilentHolders()
    silent = [await holders.start(network) for _ in range(12)]
    ghosts = [PeerInfo(f"ghost{i}", "127.0.0.1", port) for i, port in enumerate(silent)]

    async def liar(channel: Channel) -> None:
        await channel.receive_message(Hello)
        request = await channel.receive_message(Get)
        await channel.send(Map({request.name: ghosts}))

    port = await network.serve(liar, name="liar")
    session = await network.connect(network.db.port, name="liar", listen_port=port)
    await session.send(Connect())
    await session.receive_message(Welcome)
    fetcher = await network.peer()
    await until(lambda: [p.name for p in fetcher.peers] == ["liar"])

    for name in files:  # asked one after the other, twelve holders took minutes
        with trio.fail_after(PROBE_TIMEOUT + 5):  # one short timeout at most, not twelve
            result = await fetcher.get(name)
        assert result.from_vault and result.path.read_bytes() == files[name]
        assert len(fetcher.address_book.holders(name)) <= MAP_CAP
    # a "holder" that made us wait its timeout was never asked again, by any get (one whose
    # probe was cut short by the file arriving from the vault may be)
    waited = holders.timed_out()
    assert waited, f"no get waited for a silent holder: {holders.held}"
    assert all(held[-1] >= WAITED_OUT for held in waited.values()), waited
    assert all(sum(t >= WAITED_OUT for t in held) == 1 for held in waited.values()), waited


async def test_upload_slots_go_round_robin_among_requesters_least_spread_first() -> None:
    slots = FairSlots(1)
    order: list[str] = []

    async def wants(requester: str, rank: int = 0) -> None:
        async with slots.turn(requester, lambda: rank):
            order.append(requester)

    async def queue_behind_a_holder(*requests: tuple[str, int]) -> None:
        async with trio.open_nursery() as nursery, slots.turn("holder"):
            for waiting, (requester, rank) in enumerate(requests, start=1):
                nursery.start_soon(wants, requester, rank)
                await until(lambda n=waiting: slots.waiting() == n)  # in this order

    await queue_behind_a_holder(*[("first-come", 0)] * 3, *[("late", 0)] * 2)
    assert order == ["first-come", "late", "first-come", "late", "first-come"]
    order.clear()
    await queue_behind_a_holder(("sent-often", 3), ("fresh", 0))
    assert order == ["fresh", "sent-often"]


def test_the_token_bucket_spends_its_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=1000, burst=500)
    assert bucket.take(500, now=0) == 0
    assert bucket.take(1000, now=0) == 1.0  # in debt: wait until it is paid back
    assert bucket.take(0, now=1.0) == 0  # paid back by then
    assert bucket.take(250, now=1.25) == 0  # 250 saved up meanwhile


def test_rates_read_as_people_write_them() -> None:
    assert parse_rate("50M") == 50e6
    assert parse_rate("10MiB/s") == 10 * 1024 * 1024
    assert parse_rate("100mbit") == 12.5e6
    assert parse_rate("800k") == 800e3
    for bad in ("fast", "-5M", "10 parsecs", "12"):
        try:
            parse_rate(bad)
        except ValueError as exc:
            assert bad in str(exc)
        else:
            raise AssertionError(f"{bad!r} was taken for a rate")
