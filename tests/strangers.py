"""What a stranger on the LAN can do to a database peer: guess join codes, hold connections open.

Each attack comes from an address of its own on loopback (all of 127/8 is ours), so the tests
can tell the attacker's address from the rightful player's.
"""

from __future__ import annotations

import trio
from spake2 import SPAKE2_A  # type: ignore[import-untyped]

from reliablep2p.net.channel import Channel, ConnectionLost, RemoteError
from reliablep2p.net.enroll import DATABASE_SIDE, PLAYER_SIDE, seal
from reliablep2p.proto import PROTOCOL_VERSION, Enroll, EnrollChallenge, Error, Hello


async def guess(port: int, code: str, *, source: str) -> str:
    """One try of `code` on the enrollment port, from address `source`: what the guesser is
    told, as ``code: detail`` (a wrong guess is ``wrong-code: wrong join code``)."""
    spake = SPAKE2_A(code.encode(), idA=PLAYER_SIDE, idB=DATABASE_SIDE)  # any words at all
    number = int(code.split("-")[0])
    stream = await trio.open_tcp_stream("127.0.0.1", port, local_address=source)
    async with Channel(stream, timeout=10) as channel:
        try:
            await channel.send(Hello(version=PROTOCOL_VERSION, name="guesser", port=0))
            await channel.send(Enroll(number, spake.start()))
            challenge = await channel.receive_message(EnrollChallenge)
            await channel.send(seal(spake.finish(challenge.spake), PLAYER_SIDE, b"let me in"))
            reply = await channel.receive()
        except (RemoteError, ConnectionLost) as exc:
            return f"{exc.code}: {exc.detail}"
    if isinstance(reply, Error):
        return f"{reply.code}: {reply.message}"
    return f"answered {type(reply).__name__}"


async def hold_idle(port: int, count: int, *, source: str) -> list[trio.SocketStream]:
    """`count` connections from `source` that never say a word."""
    return [
        await trio.open_tcp_stream("127.0.0.1", port, local_address=source) for _ in range(count)
    ]
