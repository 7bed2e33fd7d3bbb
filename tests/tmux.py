"""Driving a program in a real terminal: a private tmux server per test."""

from __future__ import annotations

import os
import subprocess


class Tmux:
    """A private tmux server (its own socket), so nothing else running in tmux is touched."""

    def __init__(self, name: str) -> None:
        self.socket = f"rp2p-test-{os.getpid()}-{name}"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def start(self, command: str, width: int, height: int) -> None:
        # COLUMNS/LINES inherited from the test's environment would pin the program to their
        # size instead of the window's.
        command = f"unset COLUMNS LINES; {command}"
        self.run("new-session", "-d", "-s", "game", "-x", str(width), "-y", str(height), command)

    def screen(self) -> str:
        try:
            return self.run("capture-pane", "-p", "-t", "game")
        except subprocess.CalledProcessError:
            return ""  # the session has ended

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "game", "-l", text)

    def key(self, *keys: str) -> None:
        self.run("send-keys", "-t", "game", *keys)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "game"],
                              capture_output=True).returncode == 0  # fmt: skip

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
