"""Look-alike names: invisible and bidi characters, decomposed accents and homoglyphs of names
already taken are refused; names in any script alone are welcome.

The pure rules first (`name_problem`, the UTS #39 `skeleton`), then the shared folder's NFC
mapping, then a real network: the database peer refuses each such file with one line the
publisher sees, and refuses a player whose name impersonates another.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from reliablep2p.app import words
from reliablep2p.net.enroll import enroll
from reliablep2p.net.identity import SecurityError
from reliablep2p.peer import events
from reliablep2p.proto import (
    ErrorCode,
    Lookalikes,
    ProtocolError,
    Publish,
    check_name,
    describe_bytes,
    name_problem,
    skeleton,
)
from reliablep2p.proto.lookalike import parse_confusables
from reliablep2p.storage.share import SharedFolder

from .conftest import Network, until
from .faults.cluster import Cluster, wait_for

CYRILLIC_A = "\u0430"
LATIN_PASSWORD = "password.txt"
CYRILLIC_PASSWORD = f"p{CYRILLIC_A}ssword.txt"

TRICKS = {
    "bidi override": "invoice\u202etxt.exe",
    "bidi isolate": "report\u2067cod.exe",
    "zero-width space": "pass\u200bword.txt",
    "zero-width joiner": "pass\u200dword.txt",
    "byte-order mark": "\ufeffnotes.txt",
    "soft hyphen": "pass\u00adword.txt",
    "decomposed accent": "re\u0301sume\u0301.txt",
    "C1 control": "bell\u0085.txt",
    "line separator": "two\u2028lines.txt",
}
"""Names that show as something other than what they are."""

WELCOME = ["Ελληνικά.txt", "日本語のファイル.md", "файл.pdf", "한국어.txt", "עברית.doc",
           "العربية.txt", "हिन्दी.txt", "naïve café.txt", "🎵 song.mp3", "❤️.txt"]  # fmt: skip
"""Ordinary names in many scripts (each NFC), none like another."""


def refused(name: str) -> str:
    with pytest.raises(ProtocolError) as caught:
        check_name(name)
    assert caught.value.code == ErrorCode.BAD_NAME
    return caught.value.detail


# --------------------------------------------------------------------------- the rules


SCRIPT_BLOCKS = {
    "Latin": (0x41, 0x24F), "Greek": (0x370, 0x3FF), "Cyrillic": (0x400, 0x4FF),
    "Armenian": (0x531, 0x587), "Hebrew": (0x5D0, 0x5EA), "Arabic": (0x620, 0x64A),
    "Devanagari": (0x904, 0x939), "Thai": (0xE01, 0xE30), "Georgian": (0x10D0, 0x10FA),
    "Ethiopic": (0x1200, 0x1248), "Hiragana": (0x3041, 0x3096), "Katakana": (0x30A1, 0x30FA),
    "Han": (0x4E00, 0x9FFF), "Hangul": (0xAC00, 0xD7A3),
}  # fmt: skip


@st.composite
def one_script_name(draw: st.DrawFn) -> str:
    """Letters of one script (block), in NFC, with or without an extension."""
    low, high = SCRIPT_BLOCKS[draw(st.sampled_from(sorted(SCRIPT_BLOCKS)))]
    letters = st.characters(min_codepoint=low, max_codepoint=high, categories=["L"])
    stem = unicodedata.normalize("NFC", draw(st.text(letters, min_size=1, max_size=40)))
    return stem + draw(st.sampled_from(["", ".txt", ".tar.gz"]))


@given(name=one_script_name())
def test_any_nfc_name_of_letters_in_one_script_is_welcome(name: str) -> None:
    check_name(name)
    assert Lookalikes([name]).clash(name) is None  # republishing it is no look-alike


@pytest.mark.parametrize("name", WELCOME)
def test_names_in_every_script_are_accepted_and_none_looks_like_another(name: str) -> None:
    check_name(name)
    assert Lookalikes([n for n in WELCOME if n != name]).clash(name) is None


@given(
    before=st.text(st.characters(categories=["L", "N"]), max_size=20),
    invisible=st.characters(categories=["Cf"]),
    after=st.text(st.characters(categories=["L", "N"]), max_size=20),
)
def test_any_name_with_a_format_character_is_refused(
    before: str, invisible: str, after: str
) -> None:
    reason = refused(before + invisible + after + ".txt")
    assert f"U+{ord(invisible):04X}" in reason


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_each_trick_is_refused_in_one_line_that_names_it(trick: str) -> None:
    reason = refused(TRICKS[trick])
    assert repr(TRICKS[trick]) in reason
    assert reason.isprintable()  # one line, the hidden character escaped: it flips nothing


@given(name=st.text(st.characters(categories=["L", "M"]), min_size=1, max_size=30))
def test_a_name_not_in_nfc_is_refused_and_its_nfc_form_is_not(name: str) -> None:
    nfd, nfc = unicodedata.normalize("NFD", name), unicodedata.normalize("NFC", name)
    if nfd != nfc:
        assert "NFC" in refused(nfd)
    assert "NFC" not in (name_problem(nfc) or "")


def test_a_homoglyph_of_a_name_already_taken_is_a_lookalike() -> None:
    taken = Lookalikes([LATIN_PASSWORD, "modern.txt", "file0.txt"])
    assert taken.clash(CYRILLIC_PASSWORD) == LATIN_PASSWORD
    assert taken.clash("rnodern.txt") == "modern.txt"  # r n looks like m
    assert taken.clash("fileO.txt") == "file0.txt"  # letter O and digit zero
    assert taken.clash("p\u03bfssword.txt") is None  # Greek omicron: not this name
    assert taken.clash("passwords.txt") is None
    assert taken.clash(LATIN_PASSWORD) is None  # the same name is no look-alike


def test_the_skeleton_is_unicodes_not_a_hand_written_one() -> None:
    assert skeleton(CYRILLIC_PASSWORD) == skeleton(LATIN_PASSWORD) == LATIN_PASSWORD
    assert skeleton("\u0417") == "3"  # CYRILLIC CAPITAL ZE looks like the digit three
    assert skeleton("pass\u034fword") == "password"  # a default-ignorable mark is dropped
    assert parse_confusables("0430 ;\t0061 ;\tMA\t# ( \u0430 → a )\n006D ;\t0072 006E ;\tMA\n") == {
        CYRILLIC_A: "a",
        "m": "rn",
    }


@given(text=st.text(max_size=20))
def test_the_skeleton_of_a_skeleton_is_itself(text: str) -> None:
    assert skeleton(skeleton(text)) == skeleton(text)


def test_a_name_taken_meanwhile_holds_its_skeleton_until_given_back() -> None:
    catalog: dict[str, object] = {}
    taken = Lookalikes(catalog)
    taken.add(LATIN_PASSWORD)  # being written to the catalog
    assert taken.clash(CYRILLIC_PASSWORD) == LATIN_PASSWORD
    taken.discard(LATIN_PASSWORD)  # it never made it
    assert taken.clash(CYRILLIC_PASSWORD) is None
    catalog["modern.txt"] = object()  # the catalog grew behind its back
    assert taken.clash("rnodern.txt") == "modern.txt"


# --------------------------------------------------------------------- the shared folder


def test_a_file_named_in_nfd_on_disk_is_shared_under_its_nfc_name(tmp_path: Path) -> None:
    nfc = "café.txt"
    (tmp_path / unicodedata.normalize("NFD", nfc)).write_bytes(b"latte")
    (tmp_path / TRICKS["bidi override"]).write_bytes(b"not shared")
    folder = SharedFolder(tmp_path)
    files = folder.scan()
    assert list(files) == [nfc]
    assert files[nfc] == describe_bytes(b"latte", nfc)
    assert folder.path_of(nfc).name == unicodedata.normalize("NFD", nfc)  # read where it is
    assert folder.path_of(nfc).read_bytes() == b"latte"


def test_of_two_forms_of_one_name_on_disk_the_nfc_one_is_shared(tmp_path: Path) -> None:
    nfc = "café.txt"
    (tmp_path / unicodedata.normalize("NFD", nfc)).write_bytes(b"decomposed")
    (tmp_path / nfc).write_bytes(b"composed")
    folder = SharedFolder(tmp_path)
    assert folder.scan() == {nfc: describe_bytes(b"composed", nfc)}  # one file, not two
    assert folder.path_of(nfc) == tmp_path / nfc


# --------------------------------------------------------------------------- the network


async def test_the_database_peer_refuses_each_lookalike_file_in_one_line(
    network: Network,
) -> None:
    nfd_cafe = unicodedata.normalize("NFD", "café.txt")
    owner = await network.peer(
        {LATIN_PASSWORD: b"the real one", **{n: n.encode() for n in WELCOME}}
    )
    (owner.share.path / nfd_cafe).write_bytes(b"latte")  # type: ignore[union-attr]
    await until(lambda: "café.txt" in network.db.catalog)

    impostor = await network.peer()
    refusals: dict[str, str] = {}
    lines: list[str] = []

    def heard(event: events.Event) -> None:
        if isinstance(event, events.PublishRefused):
            refusals[event.name] = event.reason
            lines.append(words.describe(event))

    impostor.subscribe(heard)
    (impostor.share.path / CYRILLIC_PASSWORD).write_bytes(b"a fake")  # type: ignore[union-attr]
    tricks = [describe_bytes(name.encode(), name) for name in TRICKS.values()]
    assert impostor.session.channel is not None
    await impostor.session.channel.send(Publish(tricks))  # as an older or hostile peer would
    await until(lambda: len(refusals) == len(TRICKS) + 1)

    assert "looks like 'password.txt'" in refusals[CYRILLIC_PASSWORD]
    for name in TRICKS.values():
        assert name not in network.db.catalog
        assert "\n" not in refusals[name]
    assert CYRILLIC_PASSWORD not in network.db.catalog
    assert not any("\u202e" in line for line in lines)  # no line shown to a person is flipped
    assert set(WELCOME) | {LATIN_PASSWORD, "café.txt"} == set(network.db.catalog)
    fetched = await impostor.get(nfd_cafe)  # typed in NFD, found in NFC, read from NFD on disk
    assert fetched.path.name == "café.txt" and fetched.path.read_bytes() == b"latte"


async def test_of_two_lookalikes_in_one_publish_one_is_cataloged(network: Network) -> None:
    peer = await network.peer(rescan_interval=3600)
    refusals: list[events.PublishRefused] = []
    peer.subscribe(lambda e: refusals.append(e) if isinstance(e, events.PublishRefused) else None)
    for name in (LATIN_PASSWORD, CYRILLIC_PASSWORD):
        (peer.share.path / name).write_bytes(name.encode())  # type: ignore[union-attr]
    await peer.rescan()  # both in one publish, both new to the vault
    await until(lambda: refusals and {LATIN_PASSWORD, CYRILLIC_PASSWORD} & set(network.db.catalog))
    [refusal] = refusals
    assert "published with it" in refusal.reason
    assert refusal.name not in network.db.catalog


async def test_a_player_named_like_another_by_homoglyph_is_refused(
    network: Network, tmp_path: Path
) -> None:
    code = await trio.to_thread.run_sync(lambda: network.db.store.new_invite(uses=9, seconds=60))
    port = network.db.enroll_port
    await enroll("127.0.0.1", port, code, "alice", tmp_path / "alice")
    impostors = {
        f"{CYRILLIC_A}lice": "looks like the player 'alice'",
        f"d{CYRILLIC_A}tabase": "looks like the reserved 'database'",
        "al\u200bice": "invisible character U+200B",
        "Jose\u0301": "NFC",
    }
    for name, reason in impostors.items():
        with pytest.raises(SecurityError, match=re.escape(reason)):
            await enroll("127.0.0.1", port, code, name, tmp_path / f"p{len(name)}")
    greek = await enroll("127.0.0.1", port, code, "Σοφία", tmp_path / "sofia")
    assert greek.name == "Σοφία"


@pytest.mark.slow
def test_real_processes_back_up_names_in_any_script_but_no_lookalike(tmp_path: Path) -> None:
    """`rp2p-db` and two `rp2p-peer`s: the impostor's file is refused in its own log, in words."""
    cluster = Cluster(tmp_path)
    try:
        cluster.start_db()
        nfd_cafe = unicodedata.normalize("NFD", "café.txt")  # as macOS names it on disk
        cluster.seeder(
            "alice", {LATIN_PASSWORD: b"real", "日本語.txt": b"nihongo", nfd_cafe: b"au lait"}
        )
        cluster.wait_cataloged(LATIN_PASSWORD, "日本語.txt", "café.txt")
        cluster.seeder("mallory", {CYRILLIC_PASSWORD: b"fake"})
        mallory_log = tmp_path / "mallory.log"
        refusal = f"will not take {CYRILLIC_PASSWORD}: looks like 'password.txt'"
        wait_for(
            lambda: mallory_log.exists() and refusal in mallory_log.read_text("utf-8"),
            60, "mallory to be told its file is refused",
        )  # fmt: skip
        assert f"refused {CYRILLIC_PASSWORD!r} from mallory" in cluster.db_log()
        assert f"cataloged {CYRILLIC_PASSWORD}" not in cluster.db_log()
    finally:
        cluster.close()


async def test_a_file_the_share_cannot_publish_is_told_once_in_words(network: Network) -> None:
    """A bidi override, a newline, a symlink and a subfolder were skipped without a word."""
    peer = await network.peer(rescan_interval=3600)
    told: list[str] = []
    peer.subscribe(lambda e: told.append(words.describe(e)) if isinstance(e, events.NotShared)
                   else None)  # fmt: skip
    share = peer.share.path  # type: ignore[union-attr]
    (share / "photo\u202egpj.exe").write_bytes(b"not a photo")
    (share / "two\nlines.txt").write_bytes(b"x")
    (share / "album").mkdir()
    (share / "link.txt").symlink_to(share / "photo\u202egpj.exe")
    await peer.rescan()
    await peer.rescan()  # nothing new: not told again
    assert sorted(told) == [
        "not shared: 'photo\\u202egpj.exe': its name contains the bidi control U+202E "
        "RIGHT-TO-LEFT OVERRIDE, which reorders what is shown",
        "not shared: 'two\\nlines.txt': its name contains NUL or a control character",
        "not shared: album/: it is a folder (only the files at the top of the share are shared)",
        "not shared: link.txt: it is a symbolic link (put the file itself in the folder)",
    ], told
