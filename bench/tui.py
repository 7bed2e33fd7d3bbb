"""Scenario 6: the TUI — how fast a big update reaches the screen, and CPU while idle.

(a) Headless: the real `GameApp` (textual's `run_test`) whose node is joined to a real database
peer with 99 other real nodes (in-process, in a trio run of their own in a thread): 100 players.
Each update is what the bridge delivers in one batch — a scoreboard in which every one of the 100
players' score changed (so every row changes and the table re-sorts) and a progress step of a
running transfer. Timed: from posting the batch to the app until the next frame is composed and
rendered to terminal output (the headless driver drops that output; we render it anyway, so the
cost is counted). Updates come at the bridge's pace (one batch per 50 ms); an update whose frame
is not out before the next one arrives is a skipped frame (textual then draws both at once).

(b) The real `rp2p-tui` process in tmux against real `rp2p-db` and three `rp2p-peer` processes, a
round running (so the hunt's clock ticks every second), nobody typing: its CPU time over
`IDLE_SECONDS`, from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import trio
from textual._compositor import CompositorUpdate
from textual.screen import Screen

from reliablep2p.database.peer import DatabasePeer
from reliablep2p.peer import events
from reliablep2p.peer.node import Node
from reliablep2p.proto import PlayerStats
from tui.app import GameApp
from tui.messages import CoreEvents

from .common import (
    Processes,
    cpu_seconds,
    fmt,
    free_port,
    log,
    logs_dir,
    scratch_dir,
    wait_listening,
)
from .report import Section, Target

BIN = Path(sys.executable).parent
PLAYERS = 100
UPDATES = 60
WARMUP = 5
PACE = 0.05
"""Seconds between updates: the bridge's batch interval."""
TRANSFER = 512 * 1024 * 1024
IDLE_SECONDS = 10.0
RESPONSIVE_MS = 50.0
"""Target: an update is on screen within one batch interval (no update waits for the next)."""
IDLE_CPU_PERCENT = 2.0


# ------------------------------------------------------------------- (a) updates, headless


class Others:
    """A database peer and PLAYERS-1 joined nodes in a trio run of their own (a thread)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.ready = threading.Event()
        self.token: trio.lowlevel.TrioToken | None = None
        self.cancel: trio.CancelScope | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Others:
        self.thread.start()
        if not self.ready.wait(120) or self.error is not None:
            raise RuntimeError(f"the other players did not start: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.token is not None and self.cancel is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self.cancel.cancel, trio_token=self.token)
        self.thread.join(30)

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self.cancel = nursery.cancel_scope
            db = DatabasePeer(data_dir=self.root / "db", port=0, min_players=10**6)
            await nursery.start(db.run)
            self.port = db.port
            nodes = [
                Node(
                    name=f"p{i:02d}",
                    share_dir=self.root / f"p{i}",
                    rescan_interval=3600,
                    database=("127.0.0.1", db.port),
                    rng=random.Random(i),
                )
                for i in range(PLAYERS - 1)
            ]
            for node in nodes:
                nursery.start_soon(node.run)
            with trio.fail_after(60):
                while not all(n.ready.is_set() for n in nodes):  # noqa: ASYNC110
                    await trio.sleep(0.01)
            self.token = trio.lowlevel.current_trio_token()
            self.ready.set()
            await trio.sleep_forever()


class Frames:
    """Every frame the app composes, rendered to terminal output as a real terminal would get."""

    def __init__(self, app: GameApp) -> None:
        self.times: list[float] = []
        self.waiter: asyncio.Event | None = None
        original = app._display

        def display(screen: Screen[object], renderable: object) -> None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                self.times.append(time.perf_counter())
                if self.waiter is not None:
                    self.waiter.set()
            original(screen, renderable)  # type: ignore[arg-type]

        app._display = display  # type: ignore[method-assign]

    async def next_after(self, moment: float, timeout: float = 5.0) -> float:
        while not self.times or self.times[-1] < moment:
            self.waiter = asyncio.Event()
            await asyncio.wait_for(self.waiter.wait(), timeout)
        return next(t for t in self.times if t >= moment)


def _scoreboard(names: list[str], step: int) -> list[PlayerStats]:
    rng = random.Random(step)
    return [
        PlayerStats(
            name,
            "127.0.0.1",
            1000 + i,
            rng.randrange(0, 500),
            rng.randrange(0, 20),
            rng.randrange(0, 200),
            online=True,
        )
        for i, name in enumerate(names)
    ]


async def _updates(root: Path, db_port: int) -> tuple[list[float], int, int]:
    node = Node(
        name="you",
        share_dir=root / "you",
        database=("127.0.0.1", db_port),
        rescan_interval=3600,
        rng=random.Random(0),
    )
    (root / "you").mkdir(exist_ok=True)
    app = GameApp(node)
    latencies: list[float] = []
    skipped = 0
    async with app.run_test(size=(160, 45)) as pilot:
        deadline = time.monotonic() + 60
        while len(node.peers) < PLAYERS - 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app's node sees {len(node.peers)} peers")
            await asyncio.sleep(0.05)
        await pilot.pause(0.5)
        frames = Frames(app)
        names = ["you", *sorted(p.name for p in node.peers)]
        for step in range(WARMUP + UPDATES):
            board = _scoreboard(names, step)
            done = (step + 1) * TRANSFER // (WARMUP + UPDATES + 1)
            batch = [
                events.Scoreboard(tuple(board)),
                events.TransferProgress("big.bin", "p01", done, TRANSFER),
            ]
            node.session.scoreboard = board  # what the session does with a scoreboard push
            posted = time.perf_counter()
            app.post_message(CoreEvents(batch))
            drawn = await frames.next_after(posted)
            if step >= WARMUP:
                latencies.append(drawn - posted)
                if drawn - posted > PACE:
                    skipped += 1
            await asyncio.sleep(max(0.0, PACE - (time.perf_counter() - posted)))
        rows = app.query_one("#players").row_count  # type: ignore[attr-defined]
        await app.action_quit()
        await pilot.pause(0.5)
    if rows != PLAYERS + 1:
        raise RuntimeError(f"the players table had {rows} rows, not {PLAYERS + 1}")
    return latencies, skipped, len(frames.times)


def measure_updates(root: Path) -> tuple[list[float], int, int]:
    logging.getLogger().setLevel(logging.WARNING)
    with Others(root) as others:
        return asyncio.run(_updates(root, others.port))


# ------------------------------------------------------------------- (b) idle CPU, in tmux


def measure_idle(root: Path, logs: Path) -> tuple[float, float] | None:
    """CPU % of an idle `rp2p-tui` in tmux over IDLE_SECONDS, and its own wall time; None
    without tmux."""
    if shutil.which("tmux") is None:
        return None
    session = f"rp2p-bench-{free_port()}"
    with Processes() as procs:
        port = free_port()
        db_log = logs / "db.log"
        db = procs.start(
            [
                BIN / "rp2p-db",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--insecure-lan",
                "--data",
                root / "db",
                "--round-seconds",
                "600",
                "--pause-seconds",
                "60",
                "--lobby-seconds",
                "0",
                "--enroll-port",
                free_port(),
            ],
            stdout=db_log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_listening(port, proc=db)
        for name in ("ada", "brick", "cosmo"):
            share = root / name
            share.mkdir()
            (share / f"{name}.txt").write_text(f"{name}'s file\n" * 100)
            procs.start(
                [
                    BIN / "rp2p-peer",
                    "--host",
                    "127.0.0.1",
                    "--db",
                    f"127.0.0.1:{port}",
                    "--share",
                    share,
                    "--name",
                    name,
                    "--insecure-lan",
                ],
                stdin=subprocess.PIPE,
                stdout=(logs / f"{name}.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
        (root / "you").mkdir()
        command = (
            f"unset COLUMNS LINES; exec {BIN / 'rp2p-tui'} --host 127.0.0.1 --insecure-lan "
            f"--db 127.0.0.1:{port} --share {root / 'you'} --name you --log {logs / 'tui.log'}"
        )
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", command],
            check=True,
        )
        try:
            pid = int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}"))
            deadline = time.monotonic() + 30
            while "round 1" not in _tmux("capture-pane", "-p", "-t", session):
                if time.monotonic() > deadline:
                    raise RuntimeError("rp2p-tui did not show a running round within 30 s")
                time.sleep(0.2)
            time.sleep(2.0)  # the join's burst of events is over
            before, started = cpu_seconds(pid), time.monotonic()
            time.sleep(IDLE_SECONDS)
            after, wall = cpu_seconds(pid), time.monotonic() - started
            if before is None or after is None:
                raise RuntimeError("rp2p-tui ended during the idle measurement")
            (logs / "tui-screen.txt").write_text(_tmux("capture-pane", "-p", "-t", session))
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                _tmux("send-keys", "-t", session, "C-q")
                time.sleep(1.5)
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return 100 * (after - before) / wall, wall


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


# ----------------------------------------------------------------------------- the section


def run() -> Section:
    with scratch_dir("tui") as root:
        (root / "a").mkdir()
        log(f"tui: {PLAYERS} players in-process, {UPDATES} updates into a headless GameApp")
        latencies, skipped, frames = measure_updates(root / "a")
        (root / "b").mkdir()
        log(f"tui: rp2p-tui in tmux, idle for {IDLE_SECONDS:g} s")
        idle = measure_idle(root / "b", logs_dir("tui"))
    ms = sorted(x * 1000 for x in latencies)
    median = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    section = Section("6. TUI")
    rows = [
        [f"update of {PLAYERS} players + a running transfer, posted → frame out (median)",
         f"{fmt(median)} ms"],
        ["same, 95th percentile / worst", f"{fmt(p95)} ms / {fmt(ms[-1])} ms"],
        [f"frames skipped (frame not out within {PACE * 1000:.0f} ms, before the next update)",
         f"{skipped} of {len(ms)}"],
        ["frames composed during the updates", str(frames)],
    ]  # fmt: skip
    if idle is None:
        rows.append(["CPU while idle (rp2p-tui in tmux)", "not measured: no tmux"])
    else:
        rows.append(
            [
                f"CPU while idle (rp2p-tui in tmux, round clock ticking, {idle[1]:.0f} s)",
                f"{idle[0]:.2f} %",
            ]
        )
    section.table(["measure", "value"], rows)
    section.note(
        f"Headless `GameApp` (160x45) joined to a real database peer with {PLAYERS - 1} other "
        f"real nodes; {UPDATES} updates one per {PACE * 1000:.0f} ms (the bridge's batch "
        "interval), each a scoreboard where every player's score changed plus a transfer "
        "progress step; timed to the next frame composed and rendered to terminal output."
    )
    section.targets.append(
        Target(
            f"TUI responsive with {PLAYERS} players (update on screen within "
            f"{RESPONSIVE_MS:.0f} ms, p95)",
            f"{fmt(p95)} ms, {skipped} skipped",
            p95 <= RESPONSIVE_MS,
        )
    )
    section.targets.append(
        Target(
            f"TUI idles near 0% CPU (≤ {IDLE_CPU_PERCENT:g} %)",
            "—" if idle is None else f"{idle[0]:.2f} %",
            None if idle is None else idle[0] <= IDLE_CPU_PERCENT,
        )
    )
    return section
