"""A stop asked for (SIGINT, SIGTERM, SIGHUP) while `rp2p-db` is still starting: said in one line.

Without this a SIGTERM before the program's trio signal receiver is open killed it silently (the
log ended at the store's schema, nothing else) and a Ctrl-C was a traceback. While the start is
synchronous (the store prepared, the keys made) a signal unwinds it like Ctrl-C does; from
`trio.run` on it is only noted, until the program's own receiver takes over and reads the note.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import trio

STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""A hangup (the host's terminal or ssh session closed) is a stop like SIGTERM: it killed the
database peer outright, while starting or serving, without a word. Under `nohup` (SIGHUP ignored)
it stays ignored. SIGQUIT (Ctrl-\\) keeps its default, an immediate exit with a core dump: it is
the operator's way out when an orderly stop hangs, and the core is what tells why."""


def stop_signals() -> tuple[signal.Signals, ...]:
    """The stops this process heeds: those of STOPS it was not started ignoring (nohup)."""
    return tuple(s for s in STOPS if signal.getsignal(s) is not signal.SIG_IGN)


class StoppedWhileStarting(BaseException):
    """A stop signal came before the program was ready; nothing was started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def status(self) -> int:
        """What a shell reports for a program ended by this signal."""
        return 128 + self.signum

    def say(self, program: str) -> int:
        """One line on standard error; the exit status."""
        name = signal.Signals(self.signum).name
        print(f"{program}: stopped by {name} while starting; nothing was served", file=sys.stderr)
        return self.status


class StartGuard:
    """Installs the handlers at once; `raising()` for the synchronous part, `noting()` after."""

    def __init__(self) -> None:
        self.asked: int | None = None
        self._raise = True
        self.signals = stop_signals()
        for signum in self.signals:
            signal.signal(signum, self._heard)

    def _heard(self, signum: int, frame: FrameType | None) -> None:
        if self.asked is None:
            self.asked = signum
        if self._raise:
            self._raise = False  # once: the unwinding is not interrupted again
            raise StoppedWhileStarting(signum)

    def noting(self) -> None:
        """From here on a signal is only noted (inside `trio.run` nothing may be raised into
        the scheduler); raises at once if one came before."""
        self._raise = False
        if self.asked is not None:
            raise StoppedWhileStarting(self.asked)


async def hear_stops(guard: StartGuard, *, task_status: trio.TaskStatus[trio.Event]) -> None:
    """Hear the stops for the whole run (one noted before counts); the event is set at the
    first."""
    stop = trio.Event()
    with trio.open_signal_receiver(*guard.signals) as signals:
        task_status.started(stop)
        if guard.asked is None:
            async for signum in signals:
                guard.asked = signum
                break
        stop.set()
        await trio.sleep_forever()  # the receiver stays open: a second stop is not a kill


async def cancel_at(stop: trio.Event, scope: trio.CancelScope) -> None:
    """Cancel `scope` (the start) at the first stop; one that is over is not touched by it."""
    await stop.wait()
    scope.cancel()
