"""The simulated LAN itself: hosts reach each other, a router keeps broadcasts in, rates hold,
nothing leads out, and every namespace goes away."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.faults.cluster import wait_for

from . import hosts
from .hosts import Lan

PYTHON = sys.executable

LISTEN_UDP = """
import socket, struct, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
udp.bind(("", 5353))
if len(sys.argv) > 1:
    udp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                   struct.pack("4s4s", socket.inet_aton(sys.argv[1]), socket.inet_aton("0.0.0.0")))
print("ready", flush=True)
udp.settimeout(20)
print(udp.recvfrom(100)[0].decode(), flush=True)
"""

SEND_UDP = """
import socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
udp.sendto(sys.argv[2].encode(), (sys.argv[1], 5353))
"""

SINK_TCP = """
import socket
server = socket.create_server(("", 6000))
print("ready", flush=True)
connection, _ = server.accept()
total = 0
while data := connection.recv(1 << 16):
    total += len(data)
print(total, flush=True)
"""

SEND_TCP = """
import socket, sys, time
with socket.create_connection((sys.argv[1], 6000), timeout=10) as tcp:
    start = time.monotonic()
    tcp.sendall(bytes(int(sys.argv[2])))
    tcp.shutdown(socket.SHUT_WR)
    tcp.recv(1)
print(time.monotonic() - start, flush=True)
"""


def listener(host: hosts.Host, script: str, *args: str) -> subprocess.Popen[str]:
    process = host.popen([PYTHON, "-c", script, *args], stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def answer(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate(timeout=20)
    return out.strip()


def test_a_router_forwards_between_subnets_but_keeps_broadcasts_in(lan: Lan) -> None:
    near, far = lan.subnet(), lan.subnet()
    lan.router("router", near, far)
    speaker, neighbour, stranger = (lan.host("speaker", subnets=[near]),
                                    lan.host("neighbour", subnets=[near]),
                                    lan.host("stranger", subnets=[far]))  # fmt: skip
    assert stranger.address.startswith("10.77.2.")
    heard_nearby = listener(neighbour, LISTEN_UDP)
    heard_far = listener(stranger, LISTEN_UDP)
    speaker.run([PYTHON, "-c", SEND_UDP, "10.77.1.255", "broadcast"])
    # the far host hears the unicast sent after the broadcast first: the broadcast never came
    speaker.run([PYTHON, "-c", SEND_UDP, stranger.address, "unicast"])
    assert answer(heard_nearby) == "broadcast"
    assert answer(heard_far) == "unicast"


def test_multicast_reaches_a_member_on_the_same_subnet(lan: Lan) -> None:
    speaker, member = lan.host("speaker"), lan.host("member")
    heard = listener(member, LISTEN_UDP, "239.77.0.1")
    speaker.run([PYTHON, "-c", SEND_UDP, "239.77.0.1", "hello group"])
    assert answer(heard) == "hello group"


@pytest.mark.parametrize("limited", ["sender", "sink"])
def test_a_host_rate_limits_what_it_sends_and_receives(lan: Lan, limited: str) -> None:
    rates = {"sender": None, "sink": None, limited: "40mbit"}
    sender, sink_host = (lan.host(name, rate=rate) for name, rate in rates.items())
    size = 5_000_000  # 1 s at 40 Mbit/s
    sink = listener(sink_host, SINK_TCP)
    took = float(sender.run([PYTHON, "-c", SEND_TCP, sink_host.address, str(size)]).stdout)
    assert answer(sink) == str(size)
    assert took > 0.8, f"{size} B at 40 Mbit/s took {took:.2f} s"


def test_nothing_leads_out_of_the_lan(lan: Lan) -> None:
    host = lan.host("alone")
    for outside in ("192.168.1.1", "172.16.0.1", "8.8.8.8", "10.1.0.1"):
        route = host.run(["ip", "route", "get", outside], check=False)
        assert route.returncode != 0 and "unreachable" in route.stderr, route


@pytest.mark.usefixtures("lan_ready")
def test_every_namespace_goes_even_with_a_process_running_in_it() -> None:
    lan = Lan()
    try:
        lan.host("busy").popen(["sleep", "600"])
        assert any(n.startswith(lan.tag) for n in hosts.namespaces())
    finally:
        lan.close()
    assert not [n for n in hosts.namespaces() if n.startswith(lan.tag)]


@pytest.mark.usefixtures("lan_ready")
def test_namespaces_left_by_a_test_process_that_died_are_removed() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = f"{hosts.PREFIX}-{gone.pid}-left"
    hosts.ip("netns", "add", stale)
    started = time.monotonic()
    assert stale in hosts.remove_stale()
    wait_for(lambda: stale not in hosts.namespaces(), 5, "the stale namespace to go")
    assert time.monotonic() - started < 5
