"""Before the game: ask for a join code, or which host to join, on screen.

`rp2p-tui` runs this small app (and only where it must) before the game starts: with no code and
no profile it asks for the code; with several hosts on the LAN and nothing to tell them apart it
shows them to pick from. `ScreenChooser` is the `joining.Chooser` that does it.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static

from reliablep2p.app.joining import describe
from reliablep2p.net.discovery import Host
from reliablep2p.net.identity import SecurityError
from reliablep2p.proto.codes import parse_code

EXAMPLE = "piano-7-orbit-lemon-sausage-ridge"


class JoinApp(App[str | Host | None]):
    """Asks one thing: a code (`why` says why), or a host among `hosts`; Esc gives up."""

    CSS = """
    #join { padding: 1 2; height: auto; }
    #problem { color: $error; }
    """
    BINDINGS = [Binding("escape,ctrl+q", "give_up", "Quit", priority=True)]
    TITLE = "ReliableP2P"

    def __init__(self, *, why: str = "", hosts: Sequence[Host] = ()) -> None:
        super().__init__()
        self.why = why
        self.hosts = list(hosts)

    def compose(self) -> ComposeResult:
        with Vertical(id="join"):
            if self.hosts:
                yield Static(f"{len(self.hosts)} hosts answered on this LAN. Which one do you "
                             "join? (↑ ↓, Enter; Esc quits)")  # fmt: skip
                yield OptionList(*(describe(host) for host in self.hosts), id="hosts")
            else:
                yield Static(f"{self.why}. Type the join code the host gave you "
                             "(rp2p-db prints it), then Enter; Esc quits.")  # fmt: skip
                yield Input(placeholder=EXAMPLE, id="code")
            yield Static("", id="problem")

    def on_mount(self) -> None:
        if self.hosts:
            hosts = self.query_one(OptionList)
            hosts.highlighted = 0
            hosts.focus()
        else:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            parse_code(text)  # a misspelt word is caught here, before any host sees it
        except SecurityError as exc:
            self.query_one("#problem", Static).update(str(exc))
            event.input.select_all()  # what is typed next replaces it (it was added to its end)
            return
        self.exit(text)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.exit(self.hosts[event.option_index])

    def action_give_up(self) -> None:
        self.exit(None)


class ScreenChooser:
    """The person at the terminal chooses (`joining.Chooser`)."""

    def pick(self, hosts: Sequence[Host]) -> Host | None:
        chosen = JoinApp(hosts=hosts).run()
        return chosen if isinstance(chosen, Host) else None

    def ask_code(self, why: str) -> str | None:
        code = JoinApp(why=why).run()
        return code if isinstance(code, str) else None
