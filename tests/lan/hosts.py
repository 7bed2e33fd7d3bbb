"""A simulated LAN: network namespaces as separate hosts, for tests with real processes.

Each `Host` is a network namespace with its own interfaces, addresses and routes; processes run
in it with ``ip netns exec``. Hosts sit on subnets (10.77.N.0/24): each subnet is a bridge, and
every bridge lives in one more namespace of its own (the switch), so nothing is added to the
machine's own network and no traffic can leave the namespaces made here. A router namespace
between two subnets forwards between them (and, as a real router, no broadcast). A host may
have a rate: ``tc tbf`` on its side of the link (uplink) and on the switch side (downlink).

Every namespace is named ``rp2plan-PID-...`` after the test process that made it; `close()`
removes them, and `remove_stale()` removes those whose process is gone (a test killed by a
timeout cannot clean up).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.tmux import Tmux

PREFIX = "rp2plan"
SUBNETS = "10.77"
"""Every address the LAN hands out is 10.77.N.K, inside namespaces this module made."""
FIRST_HOST = 10
"""Hosts get .10, .11, ... on a subnet; a router gets .1."""
COMMAND_TIMEOUT = 10.0


def unavailable() -> str | None:
    """Why the simulated LAN cannot be built here, or None if it can."""
    if os.geteuid() != 0:
        return "the simulated LAN needs root (network namespaces)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"the simulated LAN needs `{tool}` (iproute2)"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args: str) -> str:
    """Run `ip ARGS`; a failure raises with what `ip` said."""
    return _check(["ip", *args])


def _check(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def remove_namespace(namespace: str) -> None:
    """Kill whatever runs in `namespace`, then delete it (its links go with it)."""
    for _ in range(50):
        pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
        alive = [int(p) for p in pids.stdout.split()]
        if not alive:
            break
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def remove_stale() -> list[str]:
    """Remove the namespaces of test processes that no longer run; their names."""
    stale = []
    for namespace in namespaces():
        match = re.fullmatch(rf"{PREFIX}-(\d+)-.+", namespace)
        if match and not _running(int(match.group(1))):
            remove_namespace(namespace)
            stale.append(namespace)
    return stale


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(eq=False)
class Subnet:
    """One broadcast domain: 10.77.N.0/24 on a bridge in the switch namespace."""

    number: int
    bridge: str
    router: Host | None = None
    hosts: list[Host] = field(default_factory=list)
    _next: int = FIRST_HOST

    @property
    def cidr(self) -> str:
        return f"{SUBNETS}.{self.number}.0/24"

    @property
    def gateway(self) -> str:
        return f"{SUBNETS}.{self.number}.1"

    def take_address(self) -> str:
        address = f"{SUBNETS}.{self.number}.{self._next}"
        self._next += 1
        return address


@dataclass(eq=False)
class Host:
    """A network namespace standing for one machine on the LAN."""

    lan: Lan
    name: str
    namespace: str
    addresses: list[str] = field(default_factory=list)
    """One per interface: eth0, eth1, ... in the order of its subnets."""

    @property
    def address(self) -> str:
        """The address on its first interface (eth0)."""
        return self.addresses[0]

    def command(self, argv: list[str | Path]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *(str(a) for a in argv)]

    def run(
        self, argv: list[str | Path], *, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on this host to the end; its output is captured."""
        done = subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{self.name}: {argv} exited {done.returncode}: {done.stderr}")
        return done

    def popen(self, argv: list[str | Path], **options: object) -> subprocess.Popen[str]:
        """Start a command on this host; the LAN kills it at the end if it still runs."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(self.command(argv), text=True, env=env, **options)  # type: ignore[call-overload]
        self.lan.processes.append(process)
        return process

    def tmux(self, name: str) -> Tmux:
        """A private tmux server whose programs run on this host (the server starts in it)."""
        tmux = HostTmux(f"{self.name}-{name}", self)
        self.lan.terminals.append(tmux)
        return tmux

    def ip(self, *args: str) -> str:
        return ip("-n", self.namespace, *args)

    def sysctl(self, setting: str) -> None:
        _check(self.command(["sysctl", "-qw", setting]))


class HostTmux(Tmux):
    """`Tmux` whose server, and so every program it runs, is in a host's namespace."""

    def __init__(self, name: str, host: Host) -> None:
        super().__init__(name)
        self.host = host

    def start(self, command: str, width: int, height: int) -> None:
        command = f"unset COLUMNS LINES; {command}"
        _check(self.host.command(["tmux", "-L", self.socket, "new-session", "-d", "-s", "game",
                                  "-x", str(width), "-y", str(height), command]))  # fmt: skip

    def kill(self) -> None:
        """Stop the server, and remove its socket (a server whose last program ended leaves it)."""
        super().kill()
        folder = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.geteuid()}"
        (folder / self.socket).unlink(missing_ok=True)


class Lan:
    """Hosts, subnets and routers in namespaces of this test process; `close()` removes them.

    ``lan.subnet()`` makes a subnet, ``lan.host("db")`` a host on the first one (made if
    needed), ``lan.host("x", subnets=[a, b])`` a host with an interface on each,
    ``lan.router("r", a, b)`` a router between two. ``rate="200mbit"`` limits a host's link.
    """

    def __init__(self) -> None:
        self.tag = f"{PREFIX}-{os.getpid()}"
        self.subnets: list[Subnet] = []
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen[str]] = []
        self.terminals: list[Tmux] = []
        self._links = 0
        self.switch = f"{self.tag}-switch"
        self._made: list[str] = []
        try:
            self._add_namespace(self.switch)
            ip("-n", self.switch, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def _add_namespace(self, namespace: str) -> None:
        if namespace in namespaces():  # left by an earlier test of this process that failed
            remove_namespace(namespace)
        ip("netns", "add", namespace)
        self._made.append(namespace)

    def subnet(self) -> Subnet:
        number = len(self.subnets) + 1
        bridge = f"br{number}"
        ip("-n", self.switch, "link", "add", bridge, "type", "bridge")
        ip("-n", self.switch, "link", "set", bridge, "up")
        subnet = Subnet(number, bridge)
        self.subnets.append(subnet)
        return subnet

    def host(
        self, name: str, *, subnets: list[Subnet] | None = None, rate: str | None = None
    ) -> Host:
        """A host with one interface per subnet (default: the first subnet), routes via their
        routers to the other subnets, and a multicast route on eth0."""
        if subnets is None:
            subnets = self.subnets[:1] or [self.subnet()]
        host = self._new_host(name)
        for index, subnet in enumerate(subnets):
            self._attach(host, subnet, f"eth{index}", subnet.take_address(), rate=rate)
        host.ip("route", "add", "224.0.0.0/4", "dev", "eth0")
        for subnet in subnets:
            if subnet.router is not None:
                self._route_via(host, subnet)
        return host

    def router(self, name: str, *subnets: Subnet) -> Host:
        """A host between `subnets` that forwards packets (not broadcasts) among them."""
        router = self._new_host(name)
        router.sysctl("net.ipv4.ip_forward=1")
        for index, subnet in enumerate(subnets):
            assert subnet.router is None, f"subnet {subnet.number} has a router already"
            self._attach(router, subnet, f"eth{index}", subnet.gateway)
            subnet.router = router
            for host in subnet.hosts:
                if host is not router:
                    self._route_via(host, subnet)
        return router

    def _new_host(self, name: str) -> Host:
        assert name not in self.hosts, f"there is a host {name} already"
        host = Host(self, name, f"{self.tag}-{name}")
        self._add_namespace(host.namespace)
        host.ip("link", "set", "lo", "up")
        # a host on two subnets answers on one interface what it heard on the other
        host.sysctl("net.ipv4.conf.all.rp_filter=0")
        host.sysctl("net.ipv4.conf.default.rp_filter=0")
        self.hosts[name] = host
        return host

    def _attach(
        self, host: Host, subnet: Subnet, device: str, address: str, *, rate: str | None = None
    ) -> None:
        self._links += 1
        outside = f"v{self._links}"
        ip("-n", self.switch, "link", "add", outside, "type", "veth",
           "peer", "name", device, "netns", host.namespace)  # fmt: skip
        ip("-n", self.switch, "link", "set", outside, "master", subnet.bridge, "up")
        host.ip("addr", "add", f"{address}/24", "brd", "+", "dev", device)
        host.ip("link", "set", device, "up")
        if rate is not None:
            limit = ["root", "tbf", "rate", rate, "burst", "256kb", "latency", "100ms"]
            _check(host.command(["tc", "qdisc", "add", "dev", device, *limit]))  # uplink
            ip("netns", "exec", self.switch, "tc", "qdisc", "add", "dev", outside, *limit)
        host.addresses.append(address)
        subnet.hosts.append(host)

    def _route_via(self, host: Host, subnet: Subnet) -> None:
        """The other subnets through `subnet`'s router (the connected ones stay direct)."""
        assert subnet.router is not None
        routes = host.ip("route", "show")
        if f"{SUBNETS}.0.0/16" not in routes:
            host.ip("route", "add", f"{SUBNETS}.0.0/16", "via", subnet.gateway)

    def close(self) -> None:
        """Stop every process and terminal, then remove every namespace (links go with them)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        for terminal in self.terminals:
            terminal.kill()
        for namespace in reversed(self._made):
            remove_namespace(namespace)
