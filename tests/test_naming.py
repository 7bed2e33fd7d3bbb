"""The name a player gets when it gives none (`app.naming`): valid, and different per login."""

from __future__ import annotations

import pytest

from reliablep2p.app import naming
from reliablep2p.proto.checks import MAX_NAME_BYTES, name_problem


@pytest.mark.parametrize(
    ("login", "expected"),
    [("alice", "alice"), ("Zoë Smith", "Zoë-Smith"), ("dom\\ain/bob", "dom-ain-bob"),
     (".hidden", "hidden"), ("evil\u202egnp", "evilgnp"), ("tab\there", "tab-here")],
)  # fmt: skip
def test_the_default_name_is_the_login_name_made_valid(
    monkeypatch: pytest.MonkeyPatch, login: str, expected: str
) -> None:
    monkeypatch.setattr(naming, "_login", lambda: login)
    name = naming.default_name(8001)
    assert name == expected and name_problem(name) is None


def test_a_login_with_nothing_valid_falls_back_to_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(naming, "_login", lambda: "\u200b")
    monkeypatch.setattr(naming.socket, "gethostname", lambda: "lab-pc-3")
    assert naming.default_name(8001) == "lab-pc-3"
    monkeypatch.setattr(naming.socket, "gethostname", lambda: "")
    assert naming.default_name(8001) == "player-8001"


def test_a_long_login_leaves_room_for_every_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(naming, "_login", lambda: "é" * MAX_NAME_BYTES)
    names = naming.candidates(naming.default_name(8001))
    assert len(names) == naming.SUFFIXES and names[1].endswith("-2")
    assert all(name_problem(name) is None for name in names), names
