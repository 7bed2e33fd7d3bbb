"""`rp2p-tui`: the game client. One screen: players, hunt, transfers, catalog, map and events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input

from reliablep2p.app import commands, words
from reliablep2p.peer.node import Node
from reliablep2p.proto import PlayerStats, RoundState

from . import core_events, model, palette, screenshot
from .bridge import CoreBridge
from .messages import (
    CommandDone,
    CommandFailed,
    CoreEvents,
    CoreFailed,
    CoreStarted,
    CoreStopped,
    FetchRequested,
)
from .news import RoundNews
from .screens.help import HelpScreen
from .screens.round_over import RoundOverScreen
from .screenshot import save_screenshot
from .widgets.addressbook import AddressBookTable
from .widgets.board import NARROW, Board
from .widgets.catalog import CatalogTable
from .widgets.command_line import CommandLine, take_focus_now
from .widgets.feed import Feed
from .widgets.hunt import HuntPanel
from .widgets.players import PlayersTable
from .widgets.search import CatalogSearch
from .widgets.status import StatusBar
from .widgets.transfers import TransfersPanel

FETCHES = commands.FETCHES


class GameApp(App[int]):
    """The game client for one player's `node`; the node runs inside, as a trio guest."""

    CSS_PATH = "app.tcss"
    TITLE = "ReliableP2P"
    BINDINGS = [
        # priority: taken by the app as each key comes, so the keys typed after it (already
        # on their way to the board) reach the line it opens (see `check_action`)
        Binding("colon", "command_line", "Command", key_display=":", priority=True),
        Binding("slash", "search", "Search", key_display="/", priority=True),
        Binding("r", "ready", "Ready"),
        Binding("s", "scoreboard", "Scores"),
        Binding("m", "map", "Map"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    def __init__(
        self, node: Node, *, batch_seconds: float = 0.05, notes: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.node = node
        self.notes = list(notes)
        """What joining had to say (e.g. the host did not answer where it was): the feed's first lines."""
        self.bridge = CoreBridge(self, node, batch_seconds=batch_seconds)
        self.connection = "starting"
        self.finished_round: tuple[RoundState, list[PlayerStats]] | None = None
        self.news = RoundNews(node.name)
        self.catalog_query = ""
        self.quitting = False
        self.left_unfinished: list[str] = []
        """What was still coming when the player quit: said after the screen is gone."""
        self.panels: list[Widget] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Board(id="board"):
            yield PlayersTable(id="players")
            yield HuntPanel(id="hunt")
            yield TransfersPanel(id="transfers")
            yield CatalogTable(id="catalog")
            yield AddressBookTable(id="addressbook")
            yield Feed(id="feed")
        yield CommandLine(lambda: self.node.catalog.keys(), id="command")
        yield CatalogSearch(id="search")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.panels = [self.query_one(panel) for panel in self.PANELS]
        self.sub_title = self.node.name or "starting"
        self.query_one(CommandLine).display = False
        self.query_one(CatalogSearch).display = False
        self.query_one(CatalogTable).focus()
        self.feed("press : for commands, ? for help")
        for note in self.notes:
            self.feed(note, "error")
        self.bridge.start()
        self.set_interval(1.0, self.tick)
        self.refresh_views(players=True, catalog=True, book=True, hunt=True)

    PANELS = (PlayersTable, HuntPanel, TransfersPanel, CatalogTable, AddressBookTable, Feed,
              StatusBar)  # fmt: skip

    def board_shown(self) -> bool:
        """Every panel is there (not yet, or no more, while the app starts or ends)."""
        return bool(self.panels) and all(panel.is_attached for panel in self.panels)

    def tick(self) -> None:
        """Once a second: the clocks."""
        if not self.board_shown():
            return
        self.query_one(HuntPanel).tick()
        self.query_one(StatusBar).tick(self.news.clock())

    # ------------------------------------------------------------------- from the core

    def on_core_started(self, message: CoreStarted) -> None:
        me = self.node.me
        self.sub_title = f"{me.name} · {me.host}:{me.port}"
        self.connection = "joining"
        self.news.joining_since = message.at
        where = "{}:{}".format(*self.node.database) if self.node.database else "nowhere"
        self.feed(f"listening on port {me.port}; joining the database peer at {where}")
        self.refresh_views(players=True)

    def on_core_events(self, message: CoreEvents) -> None:
        if not self.board_shown():
            return  # the app is ending: nobody is looking
        changed = core_events.show_events(self, message.events)
        self.refresh_views(
            players="players" in changed,
            catalog="catalog" in changed,
            book="book" in changed,
            hunt="hunt" in changed,
        )
        self.query_one(StatusBar).tick(self.news.clock())

    def round_over_screen(
        self, state: RoundState, board: list[PlayerStats], *, asked: bool = False
    ) -> RoundOverScreen:
        return RoundOverScreen(state, board, self.node.name, self.news.clock, asked=asked)

    def show_modal(self, screen: Screen[None]) -> None:
        """A screen over the board; when it closes, the board has the focus again."""
        self.push_screen(screen, callback=lambda _: self.focus_back())

    def focus_back(self) -> None:
        """After a screen over the board: a line still open (the round ended while the player
        typed) gets the focus again, else the board. Keys went to the catalog under an open
        line, and Enter there got the file under the cursor."""
        lines: list[Input] = [self.query_one(CommandLine), self.query_one(CatalogSearch)]
        if open_line := next((line for line in lines if line.display), None):
            take_focus_now(open_line)
        else:
            self.focus_board()

    def focus_board(self) -> None:
        """The catalog (or, narrow with the map shown, the address book) gets the focus."""
        board = self.query_one(Board)
        shown = AddressBookTable if board.has_class("-map") else CatalogTable
        self.query_one(shown).focus()

    def on_command_done(self, message: CommandDone) -> None:
        result = message.result
        if isinstance(result, commands.HelpListing):  # the terminal's columns, padded to 22,
            lines = [f"{usage}: {text}" for usage, text in result.entries]  # broke in the feed
        else:
            lines = words.result_lines(result)
        if message.command.verb in FETCHES:
            self.query_one(TransfersPanel).answered(message.command.name, " ".join(lines))
            return  # the feed has the transfer's own line already
        for line in lines:
            self.feed(line, "command")

    def on_command_failed(self, message: CommandFailed) -> None:
        name = message.command.name
        error = message.reason  # the line names the file: "get x: x: not in the catalog"
        self.notify(error, title=message.line, severity="error")
        self.feed(f"{message.line}: {error}", "error")
        if message.command.verb in FETCHES:
            self.query_one(TransfersPanel).failed(name, error)

    def on_core_failed(self, message: CoreFailed) -> None:
        self.connection = "stopped"
        self.notify(f"{message.error}\nCtrl+Q quits.", title="The network core stopped",
                    severity="error", timeout=120)  # fmt: skip
        self.feed(f"the network core stopped: {message.error}", "error")
        self.refresh_views(players=True)

    def on_core_stopped(self, message: CoreStopped) -> None:
        if self.connection not in ("stopped", "left"):
            self.connection = "left"
        self.refresh_views(players=True)

    # ---------------------------------------------------------------- views

    def refresh_views(
        self, *, players: bool = False, catalog: bool = False, book: bool = False,
        hunt: bool = False,
    ) -> None:  # fmt: skip
        node = self.node
        if not self.board_shown():
            return
        if players or book:
            rows = model.players(node, host_online=self.connection == "joined")
            online = model.online_count(node)
            self.query_one(PlayersTable).show(rows, online)
            me = next(p for p in rows if p.me)
            self.query_one(StatusBar).show(me, self.connection)
        if catalog:
            rows_shown = model.catalog(node, self.catalog_query)
            self.query_one(CatalogTable).show(rows_shown, query=self.catalog_query,
                                              total=len(node.catalog))  # fmt: skip
        if book:
            self.query_one(AddressBookTable).show(model.address_book(node))
        if hunt:
            have = {info.name for info in node.seeding()}
            paused = node.session.paused_left if self.connection != "joined" else None
            self.news.countdown.paused = paused  # the status bar's clock stands still too
            panel = self.query_one(HuntPanel)
            panel.show(node.round, node.name, have, paused=paused)
            in_game = sorted(p.name for p in model.players(node) if p.online and not p.host)
            panel.show_lobby(node.lobby, in_game)

    def feed(self, text: str, kind: str = "info") -> None:
        self.query_one(Feed).add(text, kind)

    # ------------------------------------------------------------- player actions

    def run_line(self, line: str) -> None:
        """Run one typed command: errors are one line, never a traceback."""
        line = line.strip()
        if not line:
            return
        try:
            command = commands.parse(line)
        except commands.CommandError as exc:  # told in the feed too, the line kept to mend
            self.notify(str(exc), title=line, severity="error")
            self.feed(f"{line}: {exc}", "error")
            self.query_one(CommandLine).open(line)
            return
        self.feed(f"> {line}", "command")
        if command.verb == "disconnect":
            self.action_quit_now()
            return
        if command.verb == "help":
            self.action_help()
        if command.verb in FETCHES:
            self.query_one(TransfersPanel).searching(command.name)
        self.bridge.submit(line, command)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if isinstance(event.input, CatalogSearch):
            event.input.close()  # the filter stays; Esc in the search clears it
            return
        line = event.value
        command_line = self.query_one(CommandLine)
        command_line.action_close()
        self.run_line(line)

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, CatalogSearch):
            event.stop()
            self.catalog_query = event.value.strip()
            self.refresh_views(catalog=True)

    def on_command_line_closed(self, message: CommandLine.Closed) -> None:
        if not self.query_one(CommandLine).display:  # (not opened again, with a typo to mend)
            self.focus_board()

    def action_search(self) -> None:
        search = self.query_one(CatalogSearch)
        search.value = self.catalog_query
        search.open()

    def action_ready(self) -> None:
        self.run_line("ready")

    def on_fetch_requested(self, message: FetchRequested) -> None:
        self.run_line(f"get {message.name}")

    def action_command_line(self) -> None:
        self.query_one(CommandLine).open()

    def action_map(self) -> None:
        """Narrow: the address book and the catalog take turns in the catalog's place."""
        board = self.query_one(Board)
        board.toggle_class("-map")
        shown = AddressBookTable if board.has_class("-map") else CatalogTable
        self.query_one(shown).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "map":  # wide, both are on the board already
            return self.screen.size.width < NARROW
        if action in ("search", "command_line"):  # typed into a line: a character of it
            return not isinstance(self.focused, Input) and self.screen is self.screen_stack[0]
        return True

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.show_modal(HelpScreen(self.news.clock))

    def action_scoreboard(self) -> None:
        if self.finished_round is None:
            self.notify("no round has finished yet; the players panel has the live scores")
            return
        state, board = self.finished_round
        self.show_modal(self.round_over_screen(state, board, asked=True))

    def action_save_screenshot(self) -> None:
        if (path := save_screenshot(self, screenshot.screenshot_folder())) is not None:
            self.feed(f"screenshot saved to {path}")

    async def action_quit(self) -> None:
        self.action_quit_now()

    def action_quit_now(self) -> None:
        """Say `disconnect` to everyone, stop the core, then exit (1 if the core had failed)."""
        if self.quitting:
            return
        self.quitting = True
        self.left_unfinished = self.query_one(TransfersPanel).unfinished()
        self.connection = "leaving"
        self.notify("saying goodbye to everyone…", timeout=10)
        self.refresh_views(players=True)
        self.run_worker(self._leave_and_exit(), exclusive=True, group="quit")

    async def on_unmount(self) -> None:
        """However the app ends, the core disconnects and finishes first."""
        await self.bridge.stop()

    async def _leave_and_exit(self) -> None:
        await self.bridge.stop()
        self.exit(1 if self.bridge.error is not None else 0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from palette.system_commands(self, screen)
        yield from (c for c in super().get_system_commands(screen)
                    if c.title not in ("Quit", "Screenshot"))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """`rp2p-tui`: its options, and what it says once the screen is gone (`program.py`)."""
    from .program import run

    run(argv)


if __name__ == "__main__":
    main()
