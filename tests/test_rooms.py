"""The house rules of `reliablep2p/` (docs/architecture.md), checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "reliablep2p"
ROOMS = ["proto", "storage", "net", "game", "peer", "database", "app"]
"""Bottom to top: a room may import only rooms below it."""
MAX_LINES = 450


def modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def imported_rooms(path: Path, source: str | None = None) -> set[str]:
    """The rooms the module at `path` imports from, relative imports resolved from its own
    package (a room's subpackage, such as `peer/swarm/`, reaches other rooms with ``...``)."""
    tree = ast.parse(path.read_text() if source is None else source)
    package = list(path.relative_to(CORE).parts[:-1])
    rooms = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            parts = (node.module or "").split(".")
            if parts[0] == "reliablep2p" and len(parts) > 1:
                rooms.add(parts[1])
            continue
        base = package[: len(package) - (node.level - 1)]
        target = [part for part in [*base, *(node.module or "").split(".")] if part]
        if target:
            rooms.add(target[0])
    return rooms


def test_relative_imports_of_a_subpackage_are_resolved() -> None:
    inside = CORE / "peer" / "swarm" / "example.py"
    source = "from ...app import cli\nfrom ..fetch import Fetcher\nfrom .crowd import Crowds\n"
    assert imported_rooms(inside, source) == {"app", "peer"}
    top = CORE / "peer" / "example.py"
    assert imported_rooms(top, "from ..proto import Get\nfrom .view import V\n") == {
        "proto",
        "peer",
    }


def test_every_room_imports_only_rooms_below_it() -> None:
    upward = []
    for path in modules():
        room = path.relative_to(CORE).parts[0]
        if room not in ROOMS:
            continue
        for other in imported_rooms(path) - {room}:
            if ROOMS.index(other) > ROOMS.index(room):
                upward.append(f"{path.relative_to(CORE)} imports {other}")
    assert not upward


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        str(p.relative_to(CORE)): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long


def private_uses(source: str) -> list[str]:
    """Reads of trio's private names, and of any object's private state by name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id == "trio" and not node.attr.startswith("__"):
                found.append(f"trio...{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trio._"):
            found.append(f"from {node.module}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "vars":
                found.append("vars(...)")
            named = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
            if node.func.id == "getattr" and any(
                isinstance(n, str) and n.startswith("_") and not n.startswith("__") for n in named
            ):
                found.append(f"getattr(..., {named[0]!r})")
    return found


def test_nothing_reads_private_state_of_trio_or_other_objects() -> None:
    private = {}
    for path in modules():
        if uses := private_uses(path.read_text()):
            private[str(path.relative_to(CORE))] = uses
    assert not private


def test_the_private_state_check_finds_what_the_old_tls_fast_path_did() -> None:
    old = """
import trio
def fast(stream):
    state = vars(stream)
    check = getattr(stream, "_check_status", None)
    return trio._core.current_task()
"""
    assert sorted(private_uses(old)) == [
        "getattr(..., '_check_status')",
        "trio..._core",
        "vars(...)",
    ]
