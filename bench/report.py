"""What a scenario hands back: a titled table, notes, and the issue's targets it checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Target:
    text: str
    value: str
    met: bool | None
    """None: not measured (or, with `reported`, measured against no number)."""
    reported: bool = False

    @property
    def verdict(self) -> str:
        if self.reported:
            return "reported (no number to meet)"
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)
    """Numbers other scenarios use (e.g. the raw socket limit)."""

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(row) + " |")
        self.lines.append("")

    def note(self, text: str) -> None:
        self.lines.append(text)

    def markdown(self) -> str:
        return f"## {self.title}\n\n" + "\n".join(self.lines).rstrip() + "\n"


def targets_table(sections: Sequence[Section]) -> str:
    rows = [t for s in sections for t in s.targets]
    out = [
        "## Targets (issues 6, 14 and 15)",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    out += [f"| {t.text} | {t.value} | {t.verdict} |" for t in rows]
    return "\n".join(out) + "\n"
