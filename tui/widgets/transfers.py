"""Transfers: a progress bar per running get (rate, source), then how it ended."""

from __future__ import annotations

import collections
import time
from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, ProgressBar

from reliablep2p.app.phrases import from_whom

from .. import model

KEEP_FINISHED = 8
"""Finished and failed entries kept below the running ones."""
RATE_WINDOW = 3.0
"""Seconds of progress the rate is measured over."""


class Transfer(Widget):
    """One get: what and from whom, then a bar with the rate and the time left while bytes move."""

    def __init__(self, name: str) -> None:
        super().__init__(classes="running")
        self.file = name
        self.sent: dict[str, int] = {}
        """Who sent how much so far (each batch of progress counts for its source): a swarm's
        get has several at once, and the label named whichever sent the last chunk."""
        self.last_done = 0
        self.shown_from = ""
        self.started = time.monotonic()
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.label = Label(f"{name}  searching…", classes="transfer-label", markup=False)
        self.bar = ProgressBar(show_eta=False)
        self.stats = Label("", classes="transfer-stats", markup=False)
        self.stats_shown = ""

    def compose(self) -> ComposeResult:
        yield self.label
        with Horizontal(classes="transfer-bar"):
            yield self.bar
            yield self.stats

    def progress(self, source: str, done: int, total: int) -> None:
        """A batch of progress: the rate is measured between batches, over the last seconds."""
        now = time.monotonic()
        # what came since the last batch counts for this one's source (the first batch of a
        # resumed get holds what was on disk already: it counts for nobody)
        counted = max(0, done - self.last_done) if self.last_done else 0
        self.sent[source] = self.sent.get(source, 0) + counted
        self.last_done = max(done, self.last_done)
        if (whom := from_whom(list(self.sent.items()), source)) != self.shown_from:
            self.shown_from = whom  # (the rate is the whole get's: sources come and go)
            self.label.update(f"{self.file}  ← {whom}")
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW:
            self.samples.popleft()
        first_time, first_done = self.samples[0]
        if now - first_time >= 0.2:
            speed = (done - first_done) / (now - first_time)
        else:  # too soon to measure between batches: since we asked
            speed = done / max(now - self.started, 0.05)
        self.bar.update(total=total, progress=done)
        left = f" · {model.clock((total - done) / speed)}" if speed > 0 else ""
        stats = f"{model.fraction(done, total)} · {model.rate(speed)}{left}"
        # The stats take the width they need from the bar: only a new width needs a layout
        # of the screen, not each progress step.
        self.stats.update(stats, layout=cell_len(stats) != cell_len(self.stats_shown))
        self.stats_shown = stats

    def finish(
        self, source: str, size: int, resumed_at: int = 0, sources: Sequence[tuple[str, int]] = ()
    ) -> None:
        """Done; a resumed get says from where (the time is the rest's: it read as a rate
        above the link's)."""
        seconds = time.monotonic() - self.started
        self.bar.update(total=max(size, 1), progress=max(size, 1))
        whom = from_whom(sources or list(self.sent.items()), source)
        line = f"✓ {self.file}  ← {whom}  {model.size(size)} in {seconds:.1f} s"
        if resumed_at:
            line += f", resumed at {model.size(resumed_at)}"
        self.label.update(line)
        self.set_classes("done")

    def fail(self, reason: str) -> None:
        self.label.update(f"✗ {self.file}: {reason}")
        self.set_classes("failed")


class TransfersPanel(VerticalScroll):
    BORDER_TITLE = "Transfers"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.running: dict[str, Transfer] = {}
        self.can_focus = False

    def compose(self) -> ComposeResult:
        yield Label("No transfers yet: pick a catalog file and press Enter, or type :get NAME",
                    id="no-transfers")  # fmt: skip

    def _entry(self, name: str) -> Transfer:
        entry = self.running.get(name)
        if entry is None:
            entry = self.running[name] = Transfer(name)
            self.mount(entry, before=0)
            self._trim()
            self._subtitle()
        return entry

    def searching(self, name: str) -> None:
        """We asked for `name`; nothing has arrived yet."""
        self._entry(name)
        self._subtitle()

    def progress(self, name: str, source: str, done: int, total: int) -> None:
        self._entry(name).progress(source, done, total)

    def done(
        self, name: str, source: str, size: int, resumed_at: int = 0,
        sources: Sequence[tuple[str, int]] = (),
    ) -> None:  # fmt: skip
        entry = self.running.pop(name, None) or Transfer(name)
        if not entry.is_attached:
            self.mount(entry, before=0)
        entry.finish(source, size, resumed_at, sources)
        self._trim()
        self._subtitle()

    def failed(self, name: str, reason: str) -> None:
        entry = self.running.pop(name, None)
        if entry is None:
            return  # told already (a failed get reports as an event and as a command error)
        entry.fail(reason)
        self._subtitle()

    def answered(self, name: str, text: str) -> None:
        """The get finished without transfer events (we had the file already)."""
        entry = self.running.pop(name, None)
        if entry is not None:
            entry.label.update(f"✓ {text}")
            entry.set_classes("done")
            self._subtitle()

    def unfinished(self) -> list[str]:
        """A line for each get still running (a player who quits now keeps what came)."""
        lines = []
        for name, entry in self.running.items():
            if entry.last_done and (total := int(entry.bar.total or 0)):
                lines.append(f"{name}: {model.fraction(entry.last_done, total)} kept; get it "
                             "again to go on from there")  # fmt: skip
        return lines

    def _trim(self) -> None:
        finished = [w for w in self.query(Transfer) if w.file not in self.running or
                    self.running[w.file] is not w]  # fmt: skip
        for widget in finished[KEEP_FINISHED:]:
            widget.remove()

    def _subtitle(self) -> None:
        self.query_one("#no-transfers").display = False
        self.border_subtitle = f"{len(self.running)} running" if self.running else "idle"
