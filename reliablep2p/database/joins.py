"""A player's session from `connect` to its end: admitted, listed, welcomed, called back.

A join is checked by name and address in O(1) (a LAN party joins by the thousand), listed at
once where the player calls from and called back after its welcome (`reach.py`); only an address
it does not call from is checked before it is listed there. Who may join is `admission.py`'s to say;
the session's game messages go where `play.py` says; its own messages are the database peer's
to read (`read`); when the session ends, the player leaves the list (and the other database
peers hear of both, through the `cluster`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, cast

import msgspec
import trio

from ..net.channel import Channel, ConnectionLost, keep_alive
from ..net.groups import first_protocol_error
from ..peer.peerlist import Addr, PeerRegistry
from ..peer.view import NetworkView
from ..proto import (
    Connect,
    ErrorCode,
    Hello,
    PeerInfo,
    RemoteProtocolError,
    Welcome,
    encode_welcome,
)
from .admission import admit
from .play import Play
from .pushes import Announcer
from .reach import ReachBack, listen_address
from .sessions import Session

if TYPE_CHECKING:
    from .cluster import Cluster

log = logging.getLogger("rp2p.db")


class Joins:
    """Serves `connect`: who is online, by address (`sessions`) and by name."""

    def __init__(
        self,
        *,
        sessions: dict[Addr, Session],
        registry: PeerRegistry,
        pushes: Announcer,
        play: Play,
        view: NetworkView,
        reach_back: ReachBack,
        read: Callable[[Session], Awaitable[None]],
        removed: Collection[bytes],
        cluster: Cluster | None,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.pushes = pushes
        self.play = play
        self.view = view
        self.removed = removed
        """The hashes removed from the network (a welcome lists them)."""
        self.cluster = cluster
        self.reach_back = reach_back
        self.read = read
        """Reads the session's messages until the player says goodbye."""
        self._addr_of: dict[str, Addr] = {}
        """Where each online player's session is (by name): a join checks its name in O(1)."""

    async def serve(self, channel: Channel, hello: Hello, request: Connect) -> None:
        if not 0 < hello.port < 65536:
            raise RemoteProtocolError(ErrorCode.MALFORMED, "connect needs the port you listen on")
        try:
            seen = channel.remote_host
        except OSError:  # it gave up waiting (a storm's backlog) and hung up: nothing to list
            raise ConnectionLost(ErrorCode.INTERNAL, "hung up before its welcome") from None
        host = listen_address(request.host, seen)
        peer = PeerInfo(name=hello.name, host=host, port=hello.port)
        problem = None
        if host != seen:  # an address it does not call from: listed there once it answers there
            problem = await self.reach_back.problem(peer, seen)
            if problem is not None:  # listed where we see it (nobody else's address), and marked
                peer = PeerInfo(name=hello.name, host=seen, port=hello.port, reachable=False)
        admit(peer, self.sessions, self.registry, self.view.revoked, self._addr_of)
        self.play.admitted(peer.name)
        version, others = self.pushes.listed()  # (before it joined: the others)
        self.registry.join(peer)
        session = self.pushes.new_session(peer, channel, version)
        session.plays = request.play
        self.sessions[peer.addr] = session
        self._addr_of[peer.name] = peer.addr
        self.pushes.note_news()
        if self.cluster is not None:
            self.cluster.joined(peer)
        if session.plays:
            self.play.arrived(session)
        log.info("%s joined from %s:%d (%d online)%s", peer.name, *peer.addr, len(self.sessions),
                 f"; cannot reach it back: {problem}" if problem else "")  # fmt: skip
        try:
            welcome = Welcome(
                you=peer,
                peers=cast("list[PeerInfo]", others.raw),  # encoded already: sent as it is
                peers_version=version,
                catalog=list(self.view.catalog.values()),
                revoked=sorted(self.view.revoked),
                databases=self.pushes.databases,
                removed=sorted(self.removed),
            )
            await channel.send(welcome, frame=encode_welcome(welcome, others))
            with session.scope, first_protocol_error():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.pushes.push_changes, session)
                    nursery.start_soon(keep_alive, channel)
                    if host == seen:
                        nursery.start_soon(self._reach_back_later, session, seen)
                    await self.read(session)
                    nursery.cancel_scope.cancel()
        finally:
            session.end()
            if self.sessions.get(peer.addr) is session:
                del self.sessions[peer.addr]
                del self._addr_of[peer.name]
                self.registry.leave(peer.addr)
                self.pushes.note_news()
                if self.cluster is not None:
                    self.cluster.left(session.peer)  # as last said (perhaps unreachable)
                self.play.left(session)
                log.info("%s left (%d online)", peer.name, len(self.sessions))

    async def _reach_back_later(self, session: Session, seen: str) -> None:
        """Call a player back where it calls from, after its welcome (a join storm's joins
        wait for no call back); one that does not answer is marked unreachable in the next
        `update_peers`, to itself too."""
        problem = await self.reach_back.problem(session.peer, seen, later=True)
        if problem is None or self.sessions.get(session.peer.addr) is not session:
            return
        session.peer = msgspec.structs.replace(session.peer, reachable=False)
        self.registry.update(session.peer)
        self.pushes.note_news()
        if self.cluster is not None:
            self.cluster.joined(session.peer)
        log.info("cannot reach %s back: %s", session.peer.name, problem)
