"""What the core's events do to the screen: each one's feed line, the notices, the screens over
the board (a round's end, the evening's), and which panels are drawn again. The app hands every
batch here (`GameApp.on_core_events`) and draws what changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from reliablep2p.app import words
from reliablep2p.peer import events

from .screens.evening import EveningScreen
from .screens.help import HelpScreen
from .screens.round_over import RoundOverScreen
from .widgets.transfers import TransfersPanel

if TYPE_CHECKING:
    from .app import GameApp

FINAL_TITLES = {
    events.Kicked: "Removed from the network",
    events.VersionRefused: "Another protocol version",
    events.NamesTaken: "Choose a name",
    events.JoinRefused: "Cannot join",
}
"""The notice's title for each way the core stops trying to join."""


def show_events(app: GameApp, batch: Iterable[events.Event]) -> set[str]:
    """Tell each event of a batch, in order; the panels it changed ("players", "catalog",
    "book", "hunt") are drawn again by the caller, once for the whole batch."""
    changed: set[str] = set()
    transfers = app.query_one(TransfersPanel)
    for event in batch:
        if isinstance(event, events.TransferProgress):
            transfers.progress(event.name, event.source, event.done, event.total)
            continue
        text = words.describe(event)
        if isinstance(event, events.TransferDone):
            transfers.done(event.name, event.source, event.size, event.resumed_at, event.sources)
            if not event.planted:  # the host's "hid fresh treasure" line tells it
                app.feed(text, "got")
            changed |= {"catalog", "book", "hunt"}
        elif isinstance(event, events.TransferFailed):
            transfers.failed(event.name, event.reason)
            app.feed(text, "error")
        elif isinstance(event, events.Joined):
            app.connection = "joined"
            app.sub_title = f"{app.node.name} · {app.node.me.host}:{app.node.me.port}"
            app.feed(text, "join")
            changed |= {"players", "catalog", "book", "hunt"}
        elif isinstance(event, events.SessionLost):
            app.connection = "reconnecting…"
            app.feed(text, "error")
            changed |= {"players", "hunt"}
        elif isinstance(event, tuple(FINAL_TITLES)):
            app.connection = "kicked out" if isinstance(event, events.Kicked) else "stopped"
            title = FINAL_TITLES[type(event)]
            app.notify(f"{text}\nCtrl+Q quits.", title=title, severity="error",
                       timeout=3600)  # fmt: skip
            app.feed(text, "error")
            changed |= {"players", "hunt"}
        elif isinstance(event, events.PeersChanged):
            app.feed(text, "join" if event.joined else "leave")
            changed |= {"players", "book", "catalog"}
        elif isinstance(event, events.CatalogChanged):
            app.feed(text)
            changed.add("catalog")
        elif isinstance(event, events.MapChanged):
            changed |= {"book", "catalog", "players"}
        elif isinstance(event, events.SeedingChanged):
            changed |= {"catalog", "hunt"}
        elif isinstance(event, events.Scoreboard):
            changed.add("players")
            if app.finished_round is not None:
                state, _ = app.finished_round
                seen = app.news.seen
                if seen is not None and seen.number == state.number:
                    app.finished_round = (state, list(event.players))
                    for screen in app.screen_stack:
                        if isinstance(screen, RoundOverScreen):
                            screen.show_scoreboard(list(event.players))
        elif isinstance(event, events.RoundChanged):
            _round(app, event)
            changed |= {"hunt", "catalog", "players"}
        elif isinstance(event, events.LobbyChanged):
            _lobby(app, event)
            changed.add("hunt")
        elif isinstance(
            event, events.TreasurePlanted | events.TreasureExpired | events.FilesRemoved
        ):
            app.feed(text, "round")
            changed |= {"catalog", "book", "hunt"}
        elif isinstance(event, events.EveningOver):
            app.feed(text, "round")
            if isinstance(app.screen, RoundOverScreen):  # the evening's end takes its place
                app.pop_screen()
            app.show_modal(EveningScreen(list(event.players), app.node.name, app.node.round))
        elif isinstance(event, events.FindScored):
            app.notify(f"+{event.points} for {event.name}", title="Found!")
        else:
            if isinstance(event, events.Left):
                app.connection = "left"
            app.feed(text, "error" if words.is_trouble(event) else "info")
    return changed


def _lobby(app: GameApp, event: events.LobbyChanged) -> None:
    for text, kind in app.news.lobby(event.lobby):
        app.feed(text, kind)


def _round(app: GameApp, event: events.RoundChanged) -> None:
    lines, ended = app.news.round(event.round)
    for text, kind in lines:
        app.feed(text, kind)
    if ended:
        board = list(app.node.scoreboard)
        app.finished_round = (event.round, board)
        if not app.news.heard_at_end and not isinstance(
            app.screen, RoundOverScreen | HelpScreen | EveningScreen
        ):
            app.show_modal(app.round_over_screen(event.round, board))
    elif not event.round.over and isinstance(app.screen, RoundOverScreen | EveningScreen):
        app.screen.dismiss()  # a round runs (again): what ended is over, the board is back
