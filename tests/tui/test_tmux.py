"""`rp2p-tui` in a real terminal (tmux), against real `rp2p-db` and `rp2p-peer` processes."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import random_bytes
from tests.faults.cluster import BIN, Cluster, wait_for
from tests.tmux import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.mark.slow
def test_rp2p_tui_in_tmux_gets_a_file_from_a_real_peer_and_quits_cleanly(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "game")
    tmux = Tmux("get")
    data = random_bytes(300_000, seed=5)
    try:
        cluster.start_db()
        cluster.seeder("ada", {"treasure.bin": data, "notes.txt": b"look under the rug\n"})
        cluster.wait_cataloged("treasure.bin", "notes.txt")
        exit_file = tmp_path / "exit-status"
        tui = [str(BIN / "rp2p-tui"), *cluster.peer_args("me"), "--log", str(tmp_path / "tui.log")]
        tmux.start(f"{shlex.join(tui)}; echo $? > {exit_file}", 160, 45)

        def shows(*texts: str) -> bool:
            screen = tmux.screen()
            return all(text in screen for text in texts)

        wait_for(lambda: shows("Players", "ada", "me (you)", "vault", "treasure.bin", "notes.txt"),
                 20, "the players and the catalog on screen")  # fmt: skip
        tmux.type(":")
        wait_for(lambda: shows("command: get NAME"), 10, "the command line")
        tmux.type("get treas")
        wait_for(lambda: shows("get treasure.bin"), 10, "the completion")
        tmux.key("Tab", "Enter")
        landed = cluster.root / "share-me" / "treasure.bin"
        wait_for(lambda: landed.exists() and landed.read_bytes() == data, 30, "the file on disk")
        wait_for(lambda: shows("✓ treasure.bin", "from ada"), 10, "the finished transfer")
        assert "you have 1" in tmux.screen()
        tmux.key("C-q")
        wait_for(
            lambda: exit_file.exists() and exit_file.read_text().strip(), 20, "rp2p-tui to exit"
        )
        assert exit_file.read_text().strip() == "0"
        wait_for(lambda: "me left" in (cluster.root / "ada.log").read_text()
                 or "left: me" in (cluster.root / "ada.log").read_text(),
                 20, "ada to see me leave")  # fmt: skip
    finally:
        tmux.kill()
        cluster.close()


@pytest.mark.slow
def test_rp2p_tui_joins_with_the_code_typed_again_after_a_made_up_word(tmp_path: Path) -> None:
    """The prompt re-asked, and the corrected code typed there was added to the wrong one."""
    cluster = Cluster(tmp_path / "game")
    tmux = Tmux("code")
    try:
        cluster.start_db()
        args = cluster.peer_args("me")
        at = args.index("--code")
        del args[at : at + 2]  # no code: the screen asks for it
        tui = [str(BIN / "rp2p-tui"), *args, "--log", str(tmp_path / "tui.log")]
        tmux.start(shlex.join(tui), 120, 30)
        wait_for(lambda: "Type the join code" in tmux.screen(), 20, "the code prompt")
        made_up = cluster.code.rsplit("-", 1)[0] + "-zzzzq"
        tmux.type(made_up)
        tmux.key("Enter")
        wait_for(lambda: "'zzzzq' is not a word of join codes" in tmux.screen(), 10, "the re-ask")
        tmux.type(cluster.code)
        tmux.key("Enter")
        wait_for(lambda: "me (you)" in tmux.screen(), 30, "the game, joined")
    finally:
        tmux.kill()
        cluster.close()
