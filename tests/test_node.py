"""The four protocol keys and the views, between real nodes over loopback sockets."""

from __future__ import annotations

import contextlib
import itertools
import socket

import pytest
import trio

from reliablep2p.app import commands, words
from reliablep2p.database import pushes
from reliablep2p.database.peer import DatabasePeer
from reliablep2p.net import channel as wire
from reliablep2p.net.channel import READ_TIMEOUT, Channel, secure
from reliablep2p.peer import events
from reliablep2p.peer.fetch import GetError
from reliablep2p.peer.node import Node
from reliablep2p.proto import (
    CHUNK_SIZE,
    PROTOCOL_VERSION,
    Bye,
    Connect,
    Disconnect,
    Error,
    File,
    Get,
    Hello,
    Map,
    MapRequest,
    Message,
    PeerInfo,
    UpdatePeers,
    Welcome,
    describe_bytes,
    encode_message,
)

from .conftest import Network, random_bytes, until

CROWD = 100
"""Players in a burst from one address (the per-address cap on waiting connections is 128)."""


async def raw_session(net: Network, port: int, name: str | None = None) -> Channel:
    """A hand-driven session with the database peer, as a peer listening on `port`."""
    channel = await net.connect(net.db.port, name=name or f"raw-{port}", listen_port=port)
    await channel.send(Connect())
    return channel


# ----------------------------------------------------------------------------- connect


async def test_connect_welcomes_with_peer_list_and_catalog(network: Network) -> None:
    seeder = await network.peer({"maze.txt": b"a maze"})
    channel = await raw_session(network, 40001)
    welcome = await channel.receive_message(Welcome)
    assert [p.port for p in welcome.peers] == [seeder.port]
    assert [f.name for f in welcome.catalog] == ["maze.txt"]
    assert welcome.catalog[0] == describe_bytes(b"a maze", "maze.txt")
    # listed at once where it calls from; called back after the welcome: nobody listens there
    assert welcome.you == PeerInfo("raw-40001", "127.0.0.1", 40001)
    while not isinstance(update := await channel.receive(), UpdatePeers) or not update.updated:
        pass  # the scoreboard, the seeder's map size...
    assert update.updated == [PeerInfo("raw-40001", "127.0.0.1", 40001, reachable=False)]


async def test_a_file_appearing_in_the_share_is_published_and_pushed_to_everyone(
    network: Network,
) -> None:
    seeder = await network.peer()
    other = await network.peer()
    assert seeder.share is not None
    (seeder.share.path / "late.txt").write_bytes(b"arrived later")
    await until(lambda: "late.txt" in other.catalog)
    assert other.catalog["late.txt"].size == len(b"arrived later")


# ------------------------------------------------------------------------ update_peers


async def test_update_peers_tells_everyone_about_joins_and_leaves(network: Network) -> None:
    a = await network.peer()
    b = await network.peer()
    await until(lambda: b.me.addr in a.peers.peers and a.me.addr in b.peers.peers)
    c = await network.peer()
    await until(lambda: c.me.addr in a.peers.peers and c.me.addr in b.peers.peers)
    assert {p.port for p in c.peers} == {a.port, b.port}
    c.stop()  # a crash: no disconnect, the database peer notices the session drop
    await until(lambda: c.me.addr not in a.peers.peers and c.me.addr not in b.peers.peers)


async def test_a_burst_of_joins_costs_each_peer_one_small_delta(network: Network) -> None:
    watcher = await raw_session(network, 40002)
    welcome = await watcher.receive_message(Welcome)
    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(network.peer)
    seen: set[int] = set()
    updates = []
    while len(seen) < 8:
        update = await watcher.receive()
        if not isinstance(update, UpdatePeers):
            continue  # the session also carries the scoreboard
        updates.append(update)
        seen |= {p.port for p in update.joined}
    assert updates[0].base == welcome.peers_version
    assert all(u.base == prev.version for prev, u in itertools.pairwise(updates))
    assert len(updates) < 8, "joins were not coalesced"
    assert all(len(encode_message(u)) < 80 * 8 for u in updates)


async def test_a_join_is_encoded_once_for_every_player_it_is_pushed_to(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Players at the same version are sent the very same bytes: the database peer encodes
    (and compresses) a peer-list delta once, not once per session."""
    players = [await network.peer() for _ in range(5)]
    await until(lambda: all(len(p.peers) == 4 for p in players))
    encoded: list[type] = []

    def counted(message: Message) -> bytes:
        encoded.append(type(message))
        return encode_message(message)

    monkeypatch.setattr(wire, "encode_message", counted)  # where each session's send encodes
    monkeypatch.setattr(pushes, "encode_message", counted, raising=False)
    late = await network.peer()
    await until(lambda: all(late.me.addr in p.peers.peers for p in players))
    assert encoded.count(UpdatePeers) == 1, encoded


async def test_a_crowd_waiting_in_the_backlog_is_let_in_at_once(plain_network: Network) -> None:
    # a join storm: the connections are made (by the kernel) before the host accepts any
    net = plain_network
    with contextlib.ExitStack() as crowd:
        probes = [crowd.enter_context(socket.socket()) for _ in range(CROWD)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))  # a distinct port for each player to say it listens on
        ports = [probe.getsockname()[1] for probe in probes]
        for number, port in enumerate(ports):
            caller = crowd.enter_context(socket.create_connection(("127.0.0.1", net.db.port)))
            join = Hello(PROTOCOL_VERSION, f"crowd{number}", port), Connect()
            caller.sendall(b"".join(encode_message(message) for message in join))
        for _ in range(40):  # passes of the scheduler: the old accept loop took one per pass
            await trio.lowlevel.checkpoint()
        assert len(net.db.sessions) == CROWD


# -------------------------------------------------------------------------- disconnect


async def test_disconnect_removes_the_node_from_peer_lists_and_address_books(
    network: Network,
) -> None:
    seeder = await network.peer({"key.bin": b"\x01" * 100})
    fetcher = await network.peer()
    await fetcher.get("key.bin")
    assert [p.port for p in fetcher.address_book.holders("key.bin")] == [seeder.port]
    await until(lambda: fetcher.me.addr in seeder.peers.peers)
    await seeder.leave()
    # the goodbye itself, not the database peer's next update, already cleaned up
    assert seeder.me.addr not in fetcher.peers.peers
    assert fetcher.address_book.holders("key.bin") == []


async def test_disconnect_tries_a_failing_peer_once_more_then_skips_it(network: Network) -> None:
    attempts = 0

    async def hang_up(channel: Channel) -> None:
        nonlocal attempts
        attempts += 1
        await channel.aclose()

    rude_port = await network.serve(hang_up, name="rude")
    rude = await raw_session(network, rude_port, "rude")
    await rude.receive_message(Welcome)
    leaver = await network.peer()
    polite = await network.peer()
    await until(lambda: len(leaver.peers) == 2)
    with trio.fail_after(10):
        await leaver.leave()
    assert attempts == 2
    assert leaver.me.addr not in polite.peers.peers


async def test_database_peer_drops_a_peer_that_says_disconnect(network: Network) -> None:
    a = await network.peer()
    b = await network.peer()
    await until(lambda: len(a.peers) == 1)
    await b.leave()
    await until(lambda: b.me.addr not in network.db.registry.peers)
    assert list(network.db.registry.peers) == [a.me.addr]


# --------------------------------------------------------------------------------- get


async def test_get_streams_the_file_from_a_holder_and_verifies_it(network: Network) -> None:
    data = random_bytes(3 * CHUNK_SIZE + 123)
    seeder = await network.peer({"treasure.bin": data})
    fetcher = await network.peer()
    result = await fetcher.get("treasure.bin")
    assert result.source == seeder.name and not result.from_vault
    assert result.path.read_bytes() == data
    assert result.path.parent == fetcher.share.path  # type: ignore[union-attr]
    assert [info.name for info in fetcher.seeding()] == ["treasure.bin"]


async def test_a_non_holder_answers_get_with_its_map(network: Network) -> None:
    seeder = await network.peer({"clue.txt": b"look left"})
    learner = await network.peer()
    await learner.request_map("127.0.0.1", seeder.port)
    assert [p.port for p in learner.address_book.holders("clue.txt")] == [seeder.port]
    channel = await network.connect(learner.port, name="asker")
    await channel.send(Get("clue.txt"))
    reply = await channel.receive_message(Map)
    assert [p.port for p in reply.holders["clue.txt"]] == [seeder.port]


async def test_get_asks_known_holders_first_and_learns_from_maps(network: Network) -> None:
    seeder = await network.peer({"gem.txt": b"shiny"})
    for _ in range(4):
        await network.peer()
    fetcher = await network.peer()
    await fetcher.request_map("127.0.0.1", seeder.port)
    result = await fetcher.get("gem.txt")
    assert result.probes == 1 and result.source == seeder.name


async def test_get_falls_back_to_the_vault_when_no_peer_has_the_file(network: Network) -> None:
    data = random_bytes(CHUNK_SIZE + 5, seed=3)
    seeder = await network.peer({"lost.bin": data})
    seeder.stop()
    fetcher = await network.peer()
    await until(lambda: seeder.me.addr not in fetcher.peers.peers)
    result = await fetcher.get("lost.bin")
    assert result.from_vault and result.source == "vault"
    assert result.path.read_bytes() == data


async def test_get_of_an_empty_file_works(network: Network) -> None:
    await network.peer({"empty.txt": b""})
    fetcher = await network.peer()
    result = await fetcher.get("empty.txt")
    assert result.path.read_bytes() == b""


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", ".hidden", "a/b", "nul\x00byte"])
async def test_get_refuses_path_tricks_before_any_io(network: Network, name: str) -> None:
    fetcher = await network.peer()
    with pytest.raises(GetError, match="refused file name"):
        await fetcher.get(name)


async def test_get_refuses_a_name_outside_the_catalog(network: Network) -> None:
    fetcher = await network.peer()
    with pytest.raises(GetError, match="not in the catalog"):
        await fetcher.get("nowhere.txt")


async def test_a_peer_answers_a_path_trick_with_a_bad_name_error(network: Network) -> None:
    seeder = await network.peer({"ok.txt": b"ok"})
    channel = await network.connect(seeder.port, name="trickster")
    await channel.send(Get("../../etc/passwd"))
    reply = await channel.receive_message(Error)
    assert reply.code == "bad-name"


async def test_a_source_serving_bad_bytes_is_dropped_and_the_vault_used(network: Network) -> None:
    data = random_bytes(2 * CHUNK_SIZE, seed=9)
    honest = await network.peer({"real.bin": data})
    honest.stop()
    info = network.catalog_entry("real.bin")

    async def liar(channel: Channel) -> None:
        await channel.receive_message(Hello)
        request = await channel.receive_message(Get)
        await channel.send(File(request.name, info.size, info.hash))
        await channel.send_data(b"\x00" * CHUNK_SIZE)
        await trio.sleep(5)

    liar_port = await network.serve(liar, name="liar")
    session = await raw_session(network, liar_port, "liar")
    await session.receive_message(Welcome)
    fetcher = await network.peer()
    await until(lambda: [p.port for p in fetcher.peers] == [liar_port])
    result = await fetcher.get("real.bin")
    assert result.from_vault and result.probes == 2
    assert result.path.read_bytes() == data
    assert fetcher.address_book.holders("real.bin") == []
    work_dir = fetcher.share.path / ".rp2p"  # type: ignore[union-attr]
    assert list(work_dir.iterdir()) == [], "the bad partial file was left behind"


# -------------------------------------------------------------------------- secure-get


async def test_secure_get_fetches_from_the_named_peer(network: Network) -> None:
    await network.peer({"map.txt": b"x marks"})
    second = await network.peer({"other.txt": b"other"})
    await second.get("map.txt")
    fetcher = await network.peer()
    result = await fetcher.secure_get("map.txt", "127.0.0.1", second.port)
    assert result.source == second.name
    assert result.path.read_bytes() == b"x marks"


async def test_secure_get_from_the_database_peer_comes_from_the_vault(network: Network) -> None:
    await network.peer({"map.txt": b"x marks"})
    fetcher = await network.peer()
    result = await fetcher.secure_get("map.txt", "127.0.0.1", network.db.port)
    assert (result.source, result.from_vault) == ("vault", True)
    assert result.path.read_bytes() == b"x marks"


async def test_secure_get_fails_when_the_named_peer_lacks_the_file(network: Network) -> None:
    await network.peer({"map.txt": b"x marks"})
    empty = await network.peer()
    fetcher = await network.peer()
    with pytest.raises(GetError, match="does not have it"):
        await fetcher.secure_get("map.txt", "127.0.0.1", empty.port)


# ------------------------------------------------------------------------------- views


async def test_views_show_catalog_address_book_seeding_and_peers(network: Network) -> None:
    seeder = await network.peer({"a.txt": b"aaa", "b.txt": b"bb"})
    me = await network.peer()
    result = await commands.execute(me, commands.parse(f"secure-get a.txt {seeder.port}"))
    lines = words.result_lines(result)
    assert lines == [f"got a.txt (3 bytes) from {seeder.name} after 1 probe"]
    catalog = words.result_lines(commands.view(me, "list"))
    assert catalog[0].startswith("a.txt  3 B") and catalog[0].endswith("(have)")
    assert catalog[1].startswith("b.txt  2 B") and "(have)" not in catalog[1]
    assert words.result_lines(commands.view(me, "address-book")) == [
        f"a.txt: {seeder.name} (127.0.0.1:{seeder.port})",
        "map size 1",
    ]
    assert words.result_lines(commands.view(me, "seeding")) == ["a.txt  3 B"]
    assert words.result_lines(commands.view(me, "peers")) == [
        f"{seeder.name}  127.0.0.1:{seeder.port}"
    ]


async def test_map_command_merges_a_peers_address_book(network: Network) -> None:
    seeder = await network.peer({"a.txt": b"aaa"})
    me = await network.peer()
    lines = words.result_lines(await commands.execute(me, commands.parse(f"map {seeder.port}")))
    assert lines == [f"map from port {seeder.port}: 1 entries; ours now has 1"]


# ------------------------------------------------------------------------------ events


async def test_events_report_joins_finds_and_map_growth(network: Network) -> None:
    seen: list[events.Event] = []
    me = await network.peer()
    me.subscribe(seen.append)
    seeder = await network.peer({"x.txt": b"x"})
    await until(lambda: "x.txt" in me.catalog)
    await me.get("x.txt")
    kinds = [type(e) for e in seen]
    assert events.PeersChanged in kinds and events.CatalogChanged in kinds
    done = [e for e in seen if isinstance(e, events.TransferDone)]
    assert words.describe(done[0]) == f"got x.txt (1 bytes) from {seeder.name} after 1 probe"
    assert any(isinstance(e, events.MapChanged) and e.size == 1 for e in seen)


# ------------------------------------------------------------------ the database peer


async def test_database_peer_restart_keeps_the_catalog_and_peers_rejoin(
    network: Network, nursery: trio.Nursery
) -> None:
    data = random_bytes(CHUNK_SIZE * 2 + 1, seed=4)
    seeder = await network.peer({"keep.bin": data})
    fetcher = await network.peer()
    seeder.stop()
    port = network.db.port
    network.db.stop()
    await until(lambda: fetcher.session.channel is None)
    restarted = DatabasePeer(data_dir=network.root / "db", port=port, secure=network.secure)
    await nursery.start(restarted.run)
    assert list(restarted.catalog) == ["keep.bin"]
    await until(lambda: fetcher.me.addr in restarted.registry.peers, timeout=20)
    result = await fetcher.get("keep.bin")
    assert result.from_vault and result.path.read_bytes() == data


async def test_peers_keep_sharing_while_the_database_peer_is_down_and_rejoin_by_themselves(
    network: Network, nursery: trio.Nursery
) -> None:
    data = random_bytes(CHUNK_SIZE + 7, seed=5)
    seeder = await network.peer({"shared.bin": data})
    fetcher = await network.peer()
    seen: list[events.Event] = []
    fetcher.subscribe(seen.append)
    port = network.db.port
    network.db.stop()
    await until(lambda: fetcher.session.channel is None and seeder.session.channel is None)
    assert [type(e) for e in seen if isinstance(e, events.SessionLost | events.Joined)] == [
        events.SessionLost
    ]
    result = await fetcher.get("shared.bin")
    assert result.source == seeder.name and result.path.read_bytes() == data
    restarted = DatabasePeer(data_dir=network.root / "db", port=port, secure=network.secure)
    await nursery.start(restarted.run)
    await until(
        lambda: {fetcher.me.addr, seeder.me.addr} <= set(restarted.registry.peers), timeout=20
    )
    await until(lambda: any(isinstance(e, events.Joined) for e in seen), timeout=20)
    lost_then_joined = [type(e) for e in seen if isinstance(e, events.SessionLost | events.Joined)]
    assert lost_then_joined == [events.SessionLost, events.Joined]


async def test_same_content_under_two_names_is_stored_once(network: Network) -> None:
    await network.peer({"one.txt": b"same bytes", "two.txt": b"same bytes"})
    blobs = [p for p in network.db.vault.root.rglob("*") if p.is_file()]
    assert len(blobs) == 1


async def test_a_name_taken_by_other_content_is_rejected(network: Network) -> None:
    await network.peer({"clash.txt": b"first"})
    notices: list[str] = []
    late = await network.peer()
    late.subscribe(lambda e: notices.append(words.describe(e)))
    (late.share.path / "clash.txt").write_bytes(b"second")  # type: ignore[union-attr]
    await until(lambda: any("will not take clash.txt" in n for n in notices))
    assert network.db.catalog["clash.txt"] == describe_bytes(b"first", "clash.txt")


async def test_an_unknown_request_gets_a_typed_error(network: Network) -> None:
    channel = await network.connect(network.db.port)
    await channel.send(Bye())
    reply = await channel.receive_message(Error)
    assert reply.code == "unexpected"


async def test_a_wrong_protocol_version_is_refused(network: Network) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", network.db.port)
    tls = network.tls("future")
    assert tls is not None
    channel = Channel(await secure(stream, tls, server_side=False))
    await channel.send(Hello(version=PROTOCOL_VERSION + 1, name="future", port=0))
    await channel.send(MapRequest())
    reply = await channel.receive_message(Error)
    assert reply.code == "version"


async def test_a_peer_acknowledges_disconnect_with_bye(network: Network) -> None:
    peer = await network.peer()
    channel = await network.connect(peer.port, listen_port=1)
    await channel.send(Disconnect())
    await channel.receive_message(Bye)


async def test_a_join_waits_for_a_welcome_slower_than_a_read_timeout(
    plain_network: Network, nursery: trio.Nursery
) -> None:
    # a database peer letting a crowd in welcomes them in turn: giving up would queue again
    called = 0

    async def busy_host(stream: trio.SocketStream) -> None:
        nonlocal called
        called += 1
        channel = Channel(stream)
        hello = await channel.receive_message(Hello)
        await channel.receive_message(Connect)
        await trio.sleep(READ_TIMEOUT + 1)
        you = PeerInfo(hello.name, "127.0.0.1", hello.port)
        await channel.send(Welcome(you=you, peers=[], peers_version=0, catalog=[], revoked=[]))
        await trio.sleep_forever()

    listeners = await nursery.start(trio.serve_tcp, busy_host, 0)
    node = Node(name="patient", share_dir=plain_network.root / "patient",
                database=("127.0.0.1", listeners[0].socket.getsockname()[1]))  # fmt: skip
    await nursery.start(node.run)
    with trio.fail_after(READ_TIMEOUT + 10):
        await node.ready.wait()
    assert called == 1 and node.session.failed_tries == 0, "it waited, and did not call again"
