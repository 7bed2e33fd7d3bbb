"""Finding the database peer on the LAN: it announces itself, a player asks and listens.

The database peer sends an `Announce` (its network's tag and name, and the address and TCP port
to dial) on every IPv4 interface it listens on, by UDP broadcast and by the link-local multicast
group `GROUP`, every `ANNOUNCE_EVERY` seconds, and at once, by unicast, to a player's `Query`.
A player sends queries the same two ways from a socket of its own (where the answers come back)
and also listens on the discovery port, so a host that starts later is heard too.

Every socket on the discovery port sets SO_REUSEADDR and SO_REUSEPORT, so several rp2p
processes on one machine (a host that also plays, the demo, two hosts) share it: broadcast and
multicast datagrams reach every one of them. Interfaces are the listening address's only: a node
listening on 127.0.0.1 neither announces nor asks beyond this machine.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import trio

from ..proto import AskNetwork, ErrorCode, NetworkInfo
from ..proto.discovery import (
    DISCOVERY_PORT,
    DISCOVERY_TIMEOUT,
    MAX_DATAGRAM,
    MAX_NETWORK_NAME,
    Announce,
    Host,
    Query,
    decode_datagram,
    encode_datagram,
)
from .channel import ConnectionLost, open_channel

log = logging.getLogger("rp2p.discovery")

GROUP = "224.0.0.167"
"""Link-local (never routed, TTL 1). Not assigned by IANA to rp2p: a choice, like the port."""
ANNOUNCE_EVERY = 3.0
SETTLE = 0.3
"""After the first answer, how long a player still listens for other hosts' answers."""
QUERY_AT = (0.0, 0.3, 1.0)
"""When a player (re)sends its query, in seconds after it starts: UDP may drop one."""
ANSWERS_PER_SECOND = 50
"""Queries answered per second at most: a flood of spoofed queries is not amplified far."""


@dataclass(frozen=True)
class Interface:
    """An IPv4 interface to announce or ask on."""

    name: str
    address: str
    network: ipaddress.IPv4Network
    broadcast: str | None

    @property
    def loopback(self) -> bool:
        return ipaddress.IPv4Address(self.address).is_loopback


def lan_interfaces(listen_host: str) -> list[Interface]:
    """The IPv4 interfaces a node listening on `listen_host` can be reached on, up ones only."""
    import psutil  # type: ignore[import-untyped]  # here: a player with a profile never needs it

    everywhere = listen_host in ("", "0.0.0.0", "::")
    wanted = "" if everywhere else _ipv4_of(listen_host)
    stats = psutil.net_if_stats()
    found = []
    for name, addresses in psutil.net_if_addrs().items():
        if name in stats and not stats[name].isup:
            continue
        for address in addresses:
            if address.family != socket.AF_INET or not address.netmask:
                continue
            if not everywhere and address.address != wanted:
                continue
            network = ipaddress.IPv4Interface(f"{address.address}/{address.netmask}").network
            broadcast = address.broadcast
            if broadcast is None and network.prefixlen < 31:
                broadcast = str(network.broadcast_address)  # loopback has none listed
            found.append(Interface(name, address.address, network, broadcast))
    return sorted(found, key=lambda i: (i.loopback, i.name, i.address))


def _ipv4_of(host: str) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        try:
            return socket.gethostbyname(host)
        except OSError:
            return host


def default_network_name() -> str:
    """What a network is called when its host says nothing: the host machine's name."""
    name = "".join(c for c in socket.gethostname() if c.isprintable())
    return name.encode()[:MAX_NETWORK_NAME].decode(errors="ignore") or "rp2p"


def lan_addresses(interfaces: Iterable[Interface]) -> list[str]:
    """The addresses friends on other machines can dial (this machine's own if none)."""
    interfaces = list(interfaces)
    outside = [i.address for i in interfaces if not i.loopback]
    return outside or [i.address for i in interfaces]


async def _discovery_socket(port: int, interfaces: Sequence[Interface]) -> trio.socket.SocketType:
    """A socket on the shared discovery port, in the multicast group on every interface."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        await sock.bind(("", port))
        for interface in interfaces:
            _membership(sock, socket.IP_ADD_MEMBERSHIP, interface)
    except BaseException:
        sock.close()
        raise
    return sock


def _membership(sock: trio.socket.SocketType, option: int, interface: Interface) -> None:
    """Join (or leave) the multicast group on one interface."""
    membership = socket.inet_aton(GROUP) + socket.inet_aton(interface.address)
    try:
        sock.setsockopt(socket.IPPROTO_IP, option, membership)
    except OSError as exc:  # no multicast there (broadcast still works), or it went away
        log.debug("multicast group on %s: %s", interface.name, exc)


async def _sending_socket(interface: Interface) -> trio.socket.SocketType:
    """A socket that sends out of `interface` only, with its address as the source."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface.address)
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        await sock.bind((interface.address, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def _send_out(
    sock: trio.socket.SocketType, interface: Interface, data: bytes, port: int
) -> None:
    """One datagram to everyone on the interface's link: broadcast and multicast."""
    for destination in (interface.broadcast, GROUP):
        if destination is None:
            continue
        try:
            await sock.sendto(data, (destination, port))
        except (OSError, trio.ClosedResourceError) as exc:  # a link that went away: next round
            log.debug("cannot send to %s on %s: %s", destination, interface.name, exc)


# ----------------------------------------------------------------------- the database peer


class Beacon:
    """The database peer's side: announce every few seconds, and answer queries at once.

    The interfaces are looked up again before every round, so a host whose address changed (a
    new DHCP lease, a laptop moved to another network) is announced at its new address.
    """

    def __init__(
        self,
        tag: bytes,
        name: str,
        tcp_port: int,
        find_interfaces: Callable[[], Sequence[Interface]],
        *,
        port: int = DISCOVERY_PORT,
        interval: float = ANNOUNCE_EVERY,
    ) -> None:
        self.tag = tag
        self.name = name
        self.tcp_port = tcp_port
        self.find_interfaces = find_interfaces
        self.port = port
        self.interval = interval
        self.answered = 0
        """Queries answered (for tests and the log)."""
        self._senders: dict[Interface, trio.socket.SocketType] = {}

    @property
    def interfaces(self) -> list[Interface]:
        """Where it announces now."""
        return list(self._senders)

    def announcement(self, interface: Interface) -> bytes:
        return encode_datagram(Announce(self.tag, self.name, interface.address, self.tcp_port))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Announce until cancelled. Raises OSError at start if the port cannot be shared."""
        interfaces = await trio.to_thread.run_sync(self.find_interfaces)
        listener = await _discovery_socket(self.port, interfaces)
        try:
            await self._use(listener, interfaces)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._announce_every, listener)
                nursery.start_soon(self._answer_queries, listener)
                task_status.started()
        finally:
            listener.close()
            for sock in self._senders.values():
                sock.close()
            self._senders.clear()

    async def _use(self, listener: trio.socket.SocketType, interfaces: Sequence[Interface]) -> None:
        """Announce on exactly these interfaces from now on."""
        for gone in [i for i in self._senders if i not in interfaces]:
            self._senders.pop(gone).close()
            _membership(listener, socket.IP_DROP_MEMBERSHIP, gone)
            log.info("no longer announcing on %s (%s)", gone.name, gone.address)
        for new in [i for i in interfaces if i not in self._senders]:
            try:
                self._senders[new] = await _sending_socket(new)
            except OSError as exc:  # went away meanwhile: the next round looks again
                log.debug("cannot announce on %s: %s", new.name, exc)
                continue
            _membership(listener, socket.IP_ADD_MEMBERSHIP, new)

    async def _announce_every(self, listener: trio.socket.SocketType) -> None:
        first = True
        while True:
            if not first:
                await self._use(listener, await trio.to_thread.run_sync(self.find_interfaces))
            first = False
            for interface, sock in list(self._senders.items()):
                await _send_out(sock, interface, self.announcement(interface), self.port)
            await trio.sleep(self.interval)

    async def _answer_queries(self, listener: trio.socket.SocketType) -> None:
        window_start, answers = trio.current_time(), 0
        while True:
            data, source = await listener.recvfrom(MAX_DATAGRAM + 1)
            query = decode_datagram(data)
            if not isinstance(query, Query) or query.tag not in (b"", self.tag):
                continue  # announcements (ours too), other networks' queries, garbage
            if trio.current_time() - window_start >= 1:
                window_start, answers = trio.current_time(), 0
            if answers >= ANSWERS_PER_SECOND:
                continue
            answers += 1
            host, port = source[0], source[1]
            senders = list(self._senders.items())
            near = [s for s in senders if ipaddress.IPv4Address(host) in s[0].network]
            for interface, sock in near or senders:
                try:
                    await sock.sendto(self.announcement(interface), (host, port))
                except (OSError, trio.ClosedResourceError) as exc:
                    log.debug("cannot answer %s:%d: %s", host, port, exc)
            self.answered += 1


# -------------------------------------------------------------------------------- players


async def discover(
    interfaces: Sequence[Interface],
    *,
    port: int = DISCOVERY_PORT,
    wanted: Callable[[bytes], bool] = lambda tag: True,
    tag: bytes = b"",
    timeout: float = DISCOVERY_TIMEOUT,
    settle: float = SETTLE,
) -> list[Host]:
    """The database peers on the LAN whose tag is `wanted`, by name.

    Returns `settle` seconds after the first wanted one answers (others answering the same
    query arrive within milliseconds), or after `timeout` with what was heard (maybe nothing).
    `tag` asks only that network's hosts to answer.
    """
    found: dict[bytes, Host] = {}
    heard = trio.Event()
    query = encode_datagram(Query(tag))
    senders: list[tuple[Interface, trio.socket.SocketType]] = []
    sockets: list[trio.socket.SocketType] = []
    try:
        try:
            sockets.append(await _discovery_socket(port, interfaces))
        except OSError as exc:  # the answers to our queries still come to our own sockets
            log.debug("cannot listen on UDP port %d: %s", port, exc)
        for interface in interfaces:
            sock = await _sending_socket(interface)
            senders.append((interface, sock))
            sockets.append(sock)

        def note(announce: Announce) -> None:
            if wanted(announce.tag):
                host = found.setdefault(announce.tag, Host(announce.tag, announce.name))
                host.add((announce.host, announce.port))
                heard.set()

        with trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:
                for sock in sockets:
                    nursery.start_soon(_hear, sock, note)
                nursery.start_soon(_ask, senders, query, port)
                await heard.wait()
                await trio.sleep(settle)
                nursery.cancel_scope.cancel()
    finally:
        for sock in sockets:
            sock.close()
    return sorted(found.values(), key=lambda h: (h.name, h.tag))


async def _hear(sock: trio.socket.SocketType, note: Callable[[Announce], None]) -> None:
    while True:
        try:
            data, _ = await sock.recvfrom(MAX_DATAGRAM + 1)
        except OSError as exc:  # e.g. ICMP unreachable reported on the socket: go on
            log.debug("discovery socket: %s", exc)
            await trio.sleep(0.05)
            continue
        message = decode_datagram(data)
        if isinstance(message, Announce):
            note(message)


async def _ask(
    senders: Sequence[tuple[Interface, trio.socket.SocketType]], query: bytes, port: int
) -> None:
    start = trio.current_time()
    for at in QUERY_AT:
        await trio.sleep_until(start + at)
        for interface, sock in senders:
            await _send_out(sock, interface, query, port)


async def ask_network(host: str, port: int, *, name: str, timeout: float = 3.0) -> NetworkInfo:
    """Ask a database peer which network it is, in plaintext (raises `ProtocolError`)."""
    with trio.move_on_after(timeout):
        async with await open_channel(
            host, port, name=name, listen_port=0, timeout=timeout
        ) as channel:
            await channel.send(AskNetwork())
            return await channel.receive_message(NetworkInfo)
    silent = "did not say which network it is"
    raise ConnectionLost(ErrorCode.TIMEOUT, f"{host}:{port} {silent}", address=(host, port),
                         cause=silent)  # fmt: skip


def unreachable_hint(port: int) -> str:
    """One line for a player whom no announcement reached."""
    return (
        f"no host answered on this LAN (UDP port {port}); if the host is on another subnet "
        "or its firewall drops broadcasts, ask for its address and add --db HOST:PORT"
    )
