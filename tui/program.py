"""`rp2p-tui` as a program: its options, the node they make, the game, and the lines printed
once the screen is gone (the evening, and any get left unfinished)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from reliablep2p.app import words
from reliablep2p.app.options import add_player_options, make_player

from .app import GameApp
from .join import ScreenChooser


def run(argv: Sequence[str] | None = None) -> None:
    """Join (asking for a code or a host on screen where it must), play, and say goodbye."""
    parser = argparse.ArgumentParser(
        prog="rp2p-tui",
        description="The game client: join the network, hunt for the round's files, share yours.",
    )
    add_player_options(parser)
    parser.add_argument("--log", metavar="FILE", help="write the log here (the screen has none)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details")
    args = parser.parse_args(argv)
    if args.log:
        logging.basicConfig(
            filename=args.log,
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(name)s %(message)s",
        )
    else:  # the screen is the log: nothing may write over it
        logging.getLogger().addHandler(logging.NullHandler())
        logging.lastResort = None
    notes: list[str] = []
    node = make_player(args, ScreenChooser(), notes)
    app = GameApp(node, notes=notes)
    app.run()
    if (row := node.evening.row(node.name)) is not None:
        print(words.my_evening(row))
    for line in app.left_unfinished:  # a Ctrl-Q mid-download said nothing of it
        print(line)
    sys.exit(app.return_code or 0)
