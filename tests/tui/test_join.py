"""Before the game: the code prompt and the host picker, driven by Pilot."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, OptionList, Static

from reliablep2p.net.discovery import Host
from tui.app import GameApp
from tui.join import JoinApp

from .conftest import BackgroundNetwork, shown_text, wait_until

ALICE = Host(b"\x01" * 16, "alice-laptop", [("192.168.1.20", 9000)])
BOB = Host(b"\x02" * 16, "bob-desktop", [("192.168.1.30", 9000)])


def test_the_code_prompt_refuses_a_mistyped_code_and_returns_a_good_one() -> None:
    async def scenario() -> None:
        app = JoinApp(why="carol has not joined a network yet")
        async with app.run_test(size=(80, 24)) as pilot:
            assert "carol has not joined a network yet" in str(app.query(Static)[0].render())
            assert app.query_one(Input).has_focus
            await pilot.press(*"orbit-lemon-sausage-ridge", "enter")
            problem = str(app.query_one("#problem", Static).render())
            assert "is not a join code" in problem and app.is_running
            app.query_one(Input).value = ""
            await pilot.press(*"piano 7 orbit lemon sausage ridge", "enter")
        assert app.return_value == "piano 7 orbit lemon sausage ridge"

    asyncio.run(scenario())


def test_a_code_typed_again_after_a_made_up_word_is_the_one_taken() -> None:
    """The re-ask kept the wrong code in the line, and the corrected one typed there was added
    to its end (never a code): the player's answer to the re-ask was never followed."""

    async def scenario() -> None:
        app = JoinApp(why="carol has not joined a network yet")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"piano-7-orbit-lemon-sausage-ridgy", "enter")
            problem = str(app.query_one("#problem", Static).render())
            assert problem == "'ridgy' is not a word of join codes: check its spelling"
            assert app.is_running
            await pilot.press(*"piano-7-orbit-lemon-sausage-ridge", "enter")
        assert app.return_value == "piano-7-orbit-lemon-sausage-ridge"

    asyncio.run(scenario())


def test_a_made_up_word_can_be_mended_where_it_is() -> None:
    """The wrong code stays on the line to mend: an arrow key keeps it, and the cursor."""

    async def scenario() -> None:
        app = JoinApp(why="carol has not joined a network yet")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"piano-7-orbit-lemon-sausage-ridgy", "enter")
            await pilot.press("end", "backspace", "e", "enter")
        assert app.return_value == "piano-7-orbit-lemon-sausage-ridge"

    asyncio.run(scenario())


def test_the_picker_lists_the_hosts_and_returns_the_chosen_one() -> None:
    async def scenario() -> None:
        app = JoinApp(hosts=[ALICE, BOB])
        async with app.run_test(size=(80, 24)) as pilot:
            options = app.query_one(OptionList)
            shown = [str(options.get_option_at_index(i).prompt) for i in range(2)]
            assert "alice-laptop  192.168.1.20:9000" in shown[0]
            assert "bob-desktop  192.168.1.30:9000" in shown[1]
            assert options.has_focus and options.highlighted == 0
            await pilot.press("down", "enter")
        assert app.return_value is BOB

    asyncio.run(scenario())


def test_escape_gives_up() -> None:
    async def scenario() -> None:
        app = JoinApp(hosts=[ALICE, BOB])
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("escape")
        assert app.return_value is None

    asyncio.run(scenario())


def test_what_joining_had_to_say_is_the_feeds_first_news(
    background_network: BackgroundNetwork,
) -> None:
    note = "alice-laptop did not answer; trying 127.0.0.1:9000, where it was last. ... --db"

    async def scenario() -> None:
        app = GameApp(background_network.player("me"), notes=[note])
        async with app.run_test(size=(160, 45)):
            await wait_until(lambda: app.connection == "joined", what="the app's node to join")
            assert "did not answer" in shown_text(app, "#feed")

    asyncio.run(scenario())


def test_the_code_prompt_shows_a_code_as_the_host_prints_it() -> None:
    """Enter on an empty prompt, or half a code: the example is a whole code, the network's
    word first, as `rp2p-db` prints it and as the prompt's placeholder shows."""

    async def scenario() -> None:
        app = JoinApp(why="carol has not joined a network yet")
        async with app.run_test(size=(100, 24)) as pilot:
            await pilot.press("enter")
            problem = str(app.query_one("#problem", Static).render())
            assert problem == "no join code typed: it looks like piano-7-orbit-lemon-sausage-ridge"
            await pilot.press(*"voice-821", "enter")
            problem = str(app.query_one("#problem", Static).render())
            assert problem.endswith("(it looks like piano-7-orbit-lemon-sausage-ridge)"), problem
            assert app.is_running

    asyncio.run(scenario())
