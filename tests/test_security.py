"""A private game network: only invited players get in, every link is authenticated and private."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio
from spake2 import SPAKE2_A  # type: ignore[import-untyped]

from reliablep2p.app import words
from reliablep2p.database.authority import NetworkAuthority
from reliablep2p.net.channel import ConnectionLost, RemoteError, open_channel
from reliablep2p.net.discovery import ask_network
from reliablep2p.net.enroll import DATABASE_SIDE, PLAYER_SIDE, enroll
from reliablep2p.net.identity import ADMIN_NAME, SecurityError
from reliablep2p.peer.fetch import GetError
from reliablep2p.peer.node import Node
from reliablep2p.proto import (
    PROTOCOL_VERSION,
    Connect,
    Enroll,
    Error,
    ErrorCode,
    File,
    Get,
    Hello,
    Kick,
    KickReport,
    Map,
    MapRequest,
    encode_message,
)
from reliablep2p.proto.codes import WORDS
from reliablep2p.proto.tags import tagged_code

from .conftest import Network, until
from .strangers import guess

MARKER = b"THE-TREASURE-IS-UNDER-THE-OAK-" * 1000


async def refused(port: int, tls: ssl.SSLContext | None) -> str:
    """Try a request with these credentials; the reason it was refused (TLS 1.3 checks the
    client's certificate after the client thinks the handshake is done, so the refusal may
    show as a broken connection at the first read or write)."""
    with pytest.raises(ConnectionLost) as caught:
        channel = await open_channel("127.0.0.1", port, name="intruder", listen_port=0, tls=tls)
        await channel.send(MapRequest())
        await channel.receive()
    return caught.value.detail


def foreign_context(root: Path, *, days: float = 365) -> ssl.SSLContext:
    """A certificate from another network (or an expired one from ours, with days < 0)."""
    other = NetworkAuthority.load_or_create(root / "other-ca")
    return other.identity("intruder", root / "intruder", days=days).client_context()


async def test_a_client_without_a_certificate_is_refused(network: Network, tmp_path: Path) -> None:
    seeder = await network.peer({"secret.txt": b"x"})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for port in (seeder.port, network.db.port):
        assert await refused(port, context)


async def test_a_plain_client_is_refused_before_any_message_is_read(network: Network) -> None:
    seeder = await network.peer({"secret.txt": b"x"})
    channel = await open_channel("127.0.0.1", seeder.port, name="plain", listen_port=0)
    await channel.send(Get("secret.txt"))
    with pytest.raises(ConnectionLost):
        await channel.receive()


async def test_in_plaintext_the_database_peer_only_tells_its_network_and_enrolls(
    network: Network,
) -> None:
    """Enrollment shares the database peer's port; a caller without TLS reaches nothing else."""
    await network.peer({"secret.txt": b"x"})
    for request in (Get("secret.txt"), MapRequest(), Connect(), Kick("player1")):
        async with await open_channel(
            "127.0.0.1", network.db.port, name=ADMIN_NAME, listen_port=1
        ) as channel:
            await channel.send(request)
            reply = await channel.receive()
            refused = "not-a-member" if isinstance(request, Connect) else "unexpected"
            assert isinstance(reply, Error) and reply.code == refused, (request, reply)
    assert "player1" not in network.db.revoked
    assert network.db.authority is not None
    info = await ask_network("127.0.0.1", network.db.port, name="newbie")
    assert info.tag == network.db.authority.tag and info.name == network.db.network_name


async def test_a_certificate_from_another_network_is_refused(
    network: Network, tmp_path: Path
) -> None:
    seeder = await network.peer({"secret.txt": b"x"})
    assert "TLS refused" in await refused(seeder.port, foreign_context(tmp_path))
    assert await refused(network.db.port, foreign_context(tmp_path))


async def test_an_expired_certificate_is_refused(network: Network, tmp_path: Path) -> None:
    seeder = await network.peer({"secret.txt": b"x"})
    assert network.db.authority is not None
    expired = network.db.authority.identity("old-timer", tmp_path / "old", days=-1)
    assert await refused(seeder.port, expired.client_context())


async def test_a_peer_cannot_pose_as_another_player(network: Network) -> None:
    victim = await network.peer()
    impostor = await network.peer()
    # the impostor listens on its own port but claims the victim's name in its Hello
    channel = await open_channel(
        "127.0.0.1", network.db.port, name=victim.name, listen_port=impostor.port,
        tls=impostor.dialer.tls,
    )  # fmt: skip
    await channel.aclose()
    # everyone still sees each player under the name in its certificate
    await until(lambda: len(victim.peers) == 1 and len(impostor.peers) == 1)
    assert [p.name for p in victim.peers] == [impostor.name]
    # and a connection to an address that is not who we expect is refused
    with pytest.raises(ConnectionLost, match="not"):
        await open_channel("127.0.0.1", impostor.port, name="x", listen_port=0,
                           tls=victim.dialer.tls, expect=victim.name)  # fmt: skip


async def test_a_kicked_player_is_refused_everywhere_at_once(network: Network) -> None:
    seeder = await network.peer({"loot.txt": b"gold"})
    rogue = await network.peer()
    told: list[str] = []
    rogue.subscribe(lambda event: told.append(words.describe(event)))
    await until(lambda: len(seeder.peers) == 1)
    admin = await network.connect(network.db.port, name=ADMIN_NAME)
    await admin.send(Kick(rogue.name))
    # the answer comes once every other online peer refuses the name
    assert await admin.receive_message(KickReport) == KickReport(rogue.name, [seeder.name], [])
    assert rogue.name in seeder.revoked and not seeder.peers.peers
    await until(lambda: "the host removed you from the network (kicked out)" in told[-1])
    # the rogue's certificate no longer opens any door
    assert rogue.name in network.db.revoked
    with pytest.raises(GetError):
        await rogue.secure_get("loot.txt", "127.0.0.1", seeder.port)
    with pytest.raises(RemoteError, match="kicked out") as refused:  # told why, inside TLS
        channel = await open_channel("127.0.0.1", network.db.port, name=rogue.name,
                                     listen_port=0, tls=rogue.dialer.tls)  # fmt: skip
        await channel.send(MapRequest())
        await channel.receive_message(Map)
    assert refused.value.code == ErrorCode.FORBIDDEN


async def test_a_connection_opened_before_the_kick_cannot_ask_after_it(network: Network) -> None:
    seeder = await network.peer({"loot.txt": b"gold"})
    rogue = await network.peer()
    early = await open_channel("127.0.0.1", seeder.port, name=rogue.name, listen_port=0,
                               tls=rogue.dialer.tls)  # fmt: skip
    admin = await network.connect(network.db.port, name=ADMIN_NAME)
    await admin.send(Kick(rogue.name))
    await admin.receive_message(KickReport)
    with pytest.raises((ConnectionLost, RemoteError)):
        await early.send(Get("loot.txt"))
        await early.receive_message(File)


async def test_only_the_admin_may_kick(network: Network) -> None:
    player = await network.peer()
    channel = await network.connect(network.db.port, name="sneaky")
    await channel.send(Kick(player.name))
    reply = await channel.receive()
    assert getattr(reply, "code", "") == "forbidden"
    assert player.name not in network.db.revoked


# ---------------------------------------------------------------------------- join codes


async def test_the_right_code_enrolls_and_the_player_joins(
    network: Network, nursery: trio.Nursery, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=1, seconds=60))
    identity = await enroll("127.0.0.1", network.db.enroll_port, code, "newbie", tmp_path / "me")
    assert identity.name == "newbie"
    assert (identity.key_path.stat().st_mode & 0o777) == 0o600
    node = Node(
        identity=identity, share_dir=tmp_path / "share", database=("127.0.0.1", network.db.port)
    )
    await nursery.start(node.run)
    await until(lambda: node.ready.is_set())
    assert "newbie" in {p.name for s in [network.db.registry.peers.values()] for p in s}


def wrong_code(code: str) -> str:
    """The same invite number with other words: a well-formed, wrong code."""
    number, *words = code.split("-")
    return "-".join([number, *(WORDS[(WORDS.index(w) + 1) % len(WORDS)] for w in words)])


async def test_a_wrong_code_is_refused_and_teaches_nothing(
    network: Network, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=5, seconds=60))
    with pytest.raises(SecurityError, match="wrong join code"):
        await enroll("127.0.0.1", network.db.enroll_port, wrong_code(code), "eve", tmp_path / "eve")
    assert not (tmp_path / "eve").exists()


async def test_wrong_guesses_are_slowed_and_never_use_up_the_code(
    network: Network, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=5, seconds=60))
    port = network.db.enroll_port
    told = [await guess(port, wrong_code(code), source="127.0.0.2") for _ in range(4)]
    assert told[0] == "wrong-code: wrong join code"
    assert all(t == "busy: too many join tries from 127.0.0.2; wait 1 s and try again"
               for t in told[1:]), told  # fmt: skip
    identity = await enroll("127.0.0.1", port, code, "rightful", tmp_path / "me")
    assert identity.name == "rightful"


async def test_a_misspelt_code_is_caught_before_it_costs_a_try(
    network: Network, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=5, seconds=60))
    number, first, *rest = code.split("-")
    with pytest.raises(SecurityError, match="check its spelling"):
        await enroll("127.0.0.1", network.db.enroll_port, "-".join([number, first + "x", *rest]),
                     "typo", tmp_path / "typo")  # fmt: skip
    spoken = " ".join([number, first.upper(), *rest])  # typed as heard: spaces, any case
    identity = await enroll("127.0.0.1", network.db.enroll_port, spoken, "typo", tmp_path / "me")
    assert identity.name == "typo"


async def test_players_on_one_machine_joining_at_once_take_turns_and_all_get_in(
    network: Network, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=8, seconds=60))
    joined: list[str] = []

    async def join(name: str) -> None:
        identity = await enroll("127.0.0.1", network.db.enroll_port, code, name, tmp_path / name)
        joined.append(identity.name)

    async with trio.open_nursery() as nursery:
        for index in range(8):
            nursery.start_soon(join, f"bot{index}")
    assert sorted(joined) == [f"bot{index}" for index in range(8)]


async def test_one_address_may_hold_only_a_few_join_conversations_open(
    network: Network, tmp_path: Path
) -> None:
    """Enrollment shares the main port: silent connections there follow the main port's rules
    (tests/faults/test_strangers.py); join conversations that stall have a cap of their own."""
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=1, seconds=60))
    idle = [
        await start_enrolling(network.db.enroll_port, int(code.split("-")[0]), "127.0.0.2")
        for _ in range(20)
    ]
    try:
        with trio.fail_after(5):  # the 4 over the cap of 16 are told busy at once, not in 15 s
            for stream in idle[16:]:
                told = b""
                while data := await stream.receive_some():
                    told += data
                assert b"busy" in told and b"too many join conversations" in told, told
        with trio.fail_after(5):  # a newcomer from elsewhere still joins
            identity = await enroll(
                "127.0.0.1", network.db.enroll_port, code, "late", tmp_path / "me"
            )
        assert identity.name == "late"
    finally:
        for stream in idle:
            await stream.aclose()


async def start_enrolling(port: int, number: int, source: str) -> trio.SocketStream:
    """A join conversation from `source` that says `enroll`, then nothing more."""
    spake = SPAKE2_A(b"any guess", idA=PLAYER_SIDE, idB=DATABASE_SIDE)
    stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=source)
    hello = Hello(version=PROTOCOL_VERSION, name="staller", port=0)
    await stream.send_all(encode_message(hello) + encode_message(Enroll(number, spake.start())))
    return stream


async def test_a_single_use_code_works_once_and_names_stay_unique(
    network: Network, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=1, seconds=60))
    await enroll("127.0.0.1", network.db.enroll_port, code, "first", tmp_path / "a")
    with pytest.raises(SecurityError, match="no such join code"):
        await enroll("127.0.0.1", network.db.enroll_port, code, "second", tmp_path / "b")
    again = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=2, seconds=60))
    with pytest.raises(SecurityError, match="taken"):
        await enroll("127.0.0.1", network.db.enroll_port, again, "first", tmp_path / "c")


async def test_a_code_for_another_network_is_never_tried_on_this_host(
    network: Network, tmp_path: Path
) -> None:
    """The code's first words name its network; another network's host never sees the guess."""
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=1, seconds=60))
    assert network.db.authority is not None
    mine = network.db.authority.tag
    other = bytes([mine[0] ^ 1]) + mine[1:]
    for _ in range(5):  # more tries than the 3 wrong guesses that kill an invite
        with pytest.raises(SecurityError, match="the code was not tried there"):
            await enroll(
                "127.0.0.1", network.db.port, tagged_code(code, other), "eve", tmp_path / "e"
            )
    with pytest.raises(SecurityError, match="not tried there"):  # nor on another host than chosen
        await enroll("127.0.0.1", network.db.port, code, "eve", tmp_path / "e", tag=other)
    identity = await enroll(
        "127.0.0.1", network.db.port, tagged_code(code, mine), "newbie", tmp_path / "me"
    )
    assert identity.name == "newbie" and identity.network_tag == mine


async def test_an_expired_code_is_refused(network: Network, tmp_path: Path) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=5, seconds=-1))
    with pytest.raises(SecurityError, match="no such join code"):
        await enroll("127.0.0.1", network.db.enroll_port, code, "late", tmp_path / "late")


# --------------------------------------------------------------------- what is on the wire


async def test_file_bytes_never_cross_the_wire_in_clear(network: Network) -> None:
    seeder = await network.peer({"treasure.txt": MARKER})
    captured = bytearray()

    async def relay(source: trio.SocketStream, sink: trio.SocketStream) -> None:
        try:
            while data := await source.receive_some():
                captured.extend(data)
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await sink.aclose()

    async def proxy(client: trio.SocketStream) -> None:
        upstream = await trio.open_tcp_stream("127.0.0.1", seeder.port)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(relay, client, upstream)
            nursery.start_soon(relay, upstream, client)

    listeners = await network.nursery.start(trio.serve_tcp, proxy, 0)
    proxy_port = listeners[0].socket.getsockname()[1]
    fetcher = await network.peer()
    result = await fetcher.secure_get("treasure.txt", "127.0.0.1", proxy_port)
    assert result.path.read_bytes() == MARKER
    assert len(captured) > len(MARKER)
    assert b"THE-TREASURE" not in captured and b"treasure.txt" not in captured
