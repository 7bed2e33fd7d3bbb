"""A file cut off mid-copy and cataloged half-done is shared whole once its copy is finished.

The player copied a file into the share folder; the copy stopped half-way (and stood still
long enough to be published). Finishing the copy changes the content under the same name: the
player expects the finished file to be what the network shares, not a refusal for ever. Under a
name another player published, the refusal says so in one line.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import random_bytes
from .faults.cluster import Cluster, wait_for

NAME = "holiday.mkv"


def test_a_copy_finished_after_it_was_published_half_done_is_shared_whole(
    cluster: Cluster, tmp_path: Path
) -> None:
    whole = random_bytes(300_000, seed=31)
    alice = cluster.player("alice", {NAME: whole[:120_000]})
    cluster.wait_cataloged(NAME)

    cluster.share("alice").joinpath(NAME).write_bytes(whole)  # the copy goes on to the end
    wait_for(
        lambda: cluster.db_log().count(f"cataloged {NAME} ") >= 2,
        30, "the finished file to be cataloged",
    )  # fmt: skip
    assert "refused" not in cluster.peer_log("alice")
    out = cluster.fetch("bob", NAME, share=tmp_path / "bob")
    assert (tmp_path / "bob" / NAME).read_bytes() == whole, out
    alice.process.terminate()


def test_a_name_another_player_published_is_refused_in_one_line(cluster: Cluster) -> None:
    cluster.player("alice", {NAME: random_bytes(50_000, seed=32)})
    cluster.wait_cataloged(NAME)
    cluster.player("bob", {NAME: random_bytes(60_000, seed=33)})
    told = cluster.wait_said("bob", rf"will not take {NAME}: .*")
    assert told.group(0).endswith("another player's file already has this name"), told.group(0)


def test_an_edited_file_keeps_its_first_content_backed_up_under_the_name(
    cluster: Cluster, tmp_path: Path
) -> None:
    first = random_bytes(40_000, seed=34)
    cluster.player("alice", {NAME: first})
    cluster.wait_cataloged(NAME)
    cluster.share("alice").joinpath(NAME).write_bytes(random_bytes(90_000, seed=35))
    told = cluster.wait_said("alice", rf"will not take {NAME}: .*")
    assert told.group(0).endswith("kept in the catalog; share this one under another name")
    cluster.fetch("bob", NAME, share=tmp_path / "bob")
    assert (tmp_path / "bob" / NAME).read_bytes() == first
