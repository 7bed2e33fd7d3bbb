"""Friends join with the code alone: real `rp2p-db` and `rp2p-peer` processes, no `--db`.

Two hosts announce two networks on this machine's loopback (one UDP port between them, as two
hosts on one LAN share it). Players given only a code find the host of the code's network, share
and fetch files through it, come back later with no code at all, and the other host never hears
a code. A player in both networks with no code to tell them apart gets the list and exit 1.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import free_udp_port
from .faults.cluster import BIN, free_port, wait_for

pytestmark = pytest.mark.slow


class Lan:
    """Processes on loopback sharing one discovery port and one user data dir for profiles."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.udp = free_udp_port()
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(root / "xdg")}
        self.processes: list[subprocess.Popen[str]] = []

    def host(self, name: str) -> tuple[int, list[str]]:
        """Start `rp2p-db`; its TCP port and the lines it printed for friends."""
        port = free_port()
        printed = self.root / f"{name}.out"
        with printed.open("w") as out:
            self.spawn(
                "rp2p-db", "--host", "127.0.0.1", "--port", str(port), "--data", self.root / name,
                "--discovery-port", str(self.udp), "--network-name", name,
                "--pause-seconds", "3600", stdout=out, log=name,
            )  # fmt: skip
        wait_for(lambda: printed.read_text().count("\n") >= 4, 30, f"{name} to print 4 lines")
        return port, printed.read_text().splitlines()

    def player(self, name: str, *args: str, log: str | None = None) -> subprocess.Popen[str]:
        """`rp2p-peer`; it reads commands from a pipe we keep open (a seeder stays until told)."""
        return self.spawn(
            "rp2p-peer", "--host", "127.0.0.1", "--name", name,
            "--discovery-port", str(self.udp), "--share", self.root / f"share-{name}", *args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, log=log or name,
        )  # fmt: skip

    def run(self, name: str, *args: str) -> tuple[int, str, str]:
        """A player to the end: its exit status, what it printed, and its log."""
        process = self.player(name, *args, log=f"{name}-{len(self.processes)}")
        out, _ = process.communicate(timeout=60)
        return process.returncode, out, self.log(f"{name}-{len(self.processes) - 1}")

    def spawn(self, program: str, *args: object, log: str, **options: object) -> subprocess.Popen[str]:  # fmt: skip
        with (self.root / f"{log}.log").open("a") as errors:
            process = subprocess.Popen(
                [str(BIN / program), *map(str, args)], text=True, env=self.env, stderr=errors,
                **options,  # type: ignore[call-overload]
            )  # fmt: skip
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=20)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


def test_friends_join_with_the_code_alone_and_the_other_network_never_hears_it(
    tmp_path: Path,
) -> None:
    lan = Lan(tmp_path)
    try:
        alice_port, alice_lines = lan.host("alice-laptop")
        bob_port, bob_lines = lan.host("bob-desktop")
        code = re.search(r"join code: (\S+)", bob_lines[0])
        assert code, bob_lines
        bob_code = code.group(1)
        assert bob_lines[1] == f"LAN addresses: 127.0.0.1  (TCP {bob_port}, UDP {lan.udp})"
        assert bob_lines[2] == (
            f"friends join with:  rp2p-tui --code {bob_code} --discovery-port {lan.udp}"
        )
        assert bob_lines[3] == (
            f"or, if they do not find it:  rp2p-tui --db 127.0.0.1:{bob_port} --code {bob_code}"
        )

        invite = subprocess.run([BIN / "rp2p-db", "invite", "--data", tmp_path / "bob-desktop"],
                                capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
        assert invite.stdout.split("-")[0] == bob_code.split("-")[0], invite.stdout

        # carol seeds a file in bob's network, joining with the code alone
        (tmp_path / "share-carol").mkdir()
        (tmp_path / "share-carol" / "map.txt").write_text("X marks the spot\n")
        carol = lan.player("carol", "--code", bob_code)
        wait_for(lambda: "cataloged map.txt" in lan.log("bob-desktop"), 30, "carol's file")

        # dave fetches it with the code alone, from carol
        status, out, _ = lan.run("dave", "--code", bob_code, "--get", "map.txt")
        assert status == 0 and "got map.txt " in out and "from carol" in out, out
        assert (tmp_path / "share-dave" / "map.txt").read_text() == "X marks the spot\n"
        # ... and later with no code at all: his profile remembers the network and its host
        (tmp_path / "share-dave" / "map.txt").unlink()
        status, out, _ = lan.run("dave", "--get", "map.txt")
        assert status == 0 and "got map.txt " in out, out

        # nobody ever tried a code on alice's host
        assert "code" not in lan.log("alice-laptop"), lan.log("alice-laptop")
        assert "carol" not in lan.log("alice-laptop") and "dave" not in lan.log("alice-laptop")
        assert "dave joined the network with a code" in lan.log("bob-desktop")

        # dave joins alice's network too; now, with no code, he must say which
        alice_code = re.search(r"join code: (\S+)", alice_lines[0])
        assert alice_code, alice_lines
        elsewhere = str(tmp_path / "share-dave-at-alice")
        status, _, log = lan.run(
            "dave", "--code", alice_code.group(1), "--share", elsewhere, "--get", "map.txt"
        )
        assert status == 1 and "map.txt: not in the catalog" in log, log  # but he is in
        assert "dave joined the network with a code" in lan.log("alice-laptop")
        (tmp_path / "share-dave" / "map.txt").unlink()
        status, out, log = lan.run("dave", "--get", "map.txt")
        assert status == 1 and out == "", out
        assert "2 hosts answered on this LAN; choose one with --db HOST:PORT:" in log, log
        assert f"alice-laptop  127.0.0.1:{alice_port}" in log, log
        assert f"bob-desktop  127.0.0.1:{bob_port}" in log, log
        status, out, _ = lan.run("dave", "--db", f"127.0.0.1:{bob_port}", "--get", "map.txt")
        assert status == 0 and "got map.txt " in out, out
        carol.terminate()
        assert carol.wait(timeout=20) == 0
    finally:
        lan.close()


def test_friends_with_the_same_login_and_no_name_all_play_and_keep_their_names(
    tmp_path: Path,
) -> None:
    """Every machine ran `rp2p-peer --port 8001` and was named player-8001: the second friend
    was refused. With no --name a player is its login name, NAME-2 where that is taken."""
    lan = Lan(tmp_path)

    def as_machine(machine: str, *args: str, log: str) -> subprocess.Popen[str]:
        lan.env = {**lan.env, "LOGNAME": "student", "USER": "student",
                   "XDG_DATA_HOME": str(tmp_path / machine)}  # fmt: skip
        return lan.spawn(
            "rp2p-peer", "--host", "127.0.0.1", "--discovery-port", str(lan.udp),
            "--share", tmp_path / f"share-{machine}", *args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, log=log,
        )  # fmt: skip

    try:
        _, lines = lan.host("bob-desktop")
        code = re.search(r"join code: (\S+)", lines[0])
        assert code, lines
        (tmp_path / "share-one").mkdir()
        (tmp_path / "share-one" / "map.txt").write_text("X marks the spot\n")
        as_machine("one", "--code", code.group(1), log="one")
        wait_for(lambda: "cataloged map.txt" in lan.log("bob-desktop"), 30, "one's file")
        assert "student joined the network with a code" in lan.log("bob-desktop")

        two = as_machine("two", "--code", code.group(1), "--get", "map.txt", log="two")
        out, _ = two.communicate(timeout=60)
        assert two.returncode == 0 and "got map.txt " in out, (out, lan.log("two"))
        said = "student is taken in bob-desktop's network: you play as student-2"
        assert said in lan.log("two"), lan.log("two")
        assert "student-2 joined the network with a code" in lan.log("bob-desktop")

        (tmp_path / "share-two" / "map.txt").unlink()  # the next evening: no code, same name
        again = as_machine("two", "--get", "map.txt", log="two-again")
        out, _ = again.communicate(timeout=60)
        assert again.returncode == 0 and "got map.txt " in out, (out, lan.log("two-again"))
        assert "taken" not in lan.log("two-again") and "student-3" not in lan.log("bob-desktop")

        named = as_machine("three", "--code", code.group(1), "--name", "student", log="three")
        _, _ = named.communicate(timeout=60)
        assert named.returncode == 1
        assert "student is taken; choose another name with --name NAME" in lan.log("three")
    finally:
        lan.close()
