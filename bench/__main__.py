"""`make bench`: every scenario of issues 6 and 14, side by side with its references.

Prints the tables and writes them, with the machine's description, to bench/RESULTS.md.
Sizes come from environment variables (see bench/README.md); defaults follow the issue.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable

from . import crowd, joinstorm, lanlink, learning, transfer, tui, vault
from .common import BENCH, MIB, env_int, env_list, log, machine_description, raise_fd_limit
from .report import Section, targets_table

SCENARIOS = ("transfer", "join", "search", "vault", "tui", "crowd")
CROWD_PARTS = ("crowd", "link", "sources")
"""What `crowd` runs on the simulated LAN: the flash crowd (7), one fast link (8), many sources (9)."""


def main() -> int:
    started = time.monotonic()
    raise_fd_limit()
    only = [s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()]
    chosen = [s for s in SCENARIOS if not only or s in only]
    rounds = env_int("BENCH_ROUNDS", 3)
    sections: list[Section] = []
    raw_limit = float("nan")

    failed = False

    def attempt(name: str, title: str, scenario: Callable[[], list[Section]]) -> list[Section]:
        """Run one scenario; a failure is reported in its section and the others still run."""
        nonlocal failed
        try:
            return scenario()
        except Exception as exc:
            failed = True
            log(f"{name} failed:\n{traceback.format_exc()}")
            section = Section(title)
            section.note(f"**Failed in this run:** {type(exc).__name__}: {exc}")
            return [section]

    if "transfer" in chosen:
        size = env_int("BENCH_TRANSFER_MIB", 512) * MIB
        small = env_int("BENCH_SMALL_MIB", 64) * MIB
        found = attempt(
            "transfer", "1. Transfer throughput", lambda: list(transfer.run(rounds, size, small))
        )
        raw_limit = found[0].facts.get("raw_mib_s", raw_limit)
        sections += found
    if "join" in chosen:
        sizes = env_list("BENCH_JOIN_SIZES", [50, 500, 2000])
        join_rounds = env_int("BENCH_JOIN_ROUNDS", 1)  # N=2,000 on both links: ~2 min a round
        paused = os.environ.get("BENCH_JOIN_GC", "paused") != "on"
        sections += attempt(
            "join", "3. Join storm", lambda: [joinstorm.run(sizes, join_rounds, gc_paused=paused)]
        )
    if "search" in chosen:
        peers = env_int("BENCH_SEARCH_PEERS", 100)
        files = env_int("BENCH_SEARCH_FILES", 1000)
        gets = env_int("BENCH_SEARCH_GETS", 50)
        sections += attempt(
            "search", "4. Search learning", lambda: [learning.run(peers, files, gets)]
        )
    if "vault" in chosen:
        fetchers = env_int("BENCH_VAULT_FETCHERS", 100)
        size = env_int("BENCH_VAULT_MIB", 8) * MIB
        sections += attempt(
            "vault", "5. Vault under load", lambda: [vault.run(fetchers, size, rounds, raw_limit)]
        )
    if "tui" in chosen:
        sections += attempt("tui", "6. TUI", lambda: [tui.run()])
    if "crowd" in chosen:
        sections += _crowd(attempt, rounds)

    elapsed = time.monotonic() - started
    text = _document(sections, elapsed, rounds, chosen)
    print(text)
    if only:
        log("BENCH_ONLY is set: bench/RESULTS.md is left as it was (a partial run)")
    else:
        (BENCH / "RESULTS.md").write_text(text)
        log(f"wrote bench/RESULTS.md ({elapsed:.0f} s of benchmarks)")
    return 1 if failed else 0


def _crowd(attempt: Callable[[str, str, Callable[[], list[Section]]], list[Section]],
           rounds: int) -> list[Section]:  # fmt: skip
    """Scenarios 7 to 9, each on a simulated LAN of its own."""
    parts = os.environ.get("BENCH_CROWD_PARTS", "").replace(" ", "").split(",")
    parts = [p for p in CROWD_PARTS if p in parts] or list(CROWD_PARTS)
    found: list[Section] = []
    if "crowd" in parts:
        sizes = env_list("BENCH_CROWD_SIZES", [6, 12])
        crowd_rounds = env_int("BENCH_CROWD_ROUNDS", rounds)
        size, mbit = env_int("BENCH_CROWD_MIB", 40), env_int("BENCH_CROWD_MBIT", 100)
        found += attempt("crowd", "7. LAN flash crowd",
                         lambda: [crowd.run(sizes, crowd_rounds, size, mbit)])  # fmt: skip
    if "link" in parts:
        size, mbit = env_int("BENCH_LINK_MIB", 256), env_int("BENCH_LINK_MBIT", 1000)
        found += attempt("link", "8. One transfer on a LAN link",
                         lambda: [lanlink.run_link(rounds, size, mbit)])  # fmt: skip
    if "sources" in parts:
        count, size = env_int("BENCH_SOURCES", 8), env_int("BENCH_SOURCES_MIB", 512)
        mbit = env_int("BENCH_LINK_MBIT", 1000)
        found += attempt("sources", "9. Memory with many sources",
                         lambda: [lanlink.run_sources(count, size, mbit)])  # fmt: skip
    return found


def _document(sections: list[Section], elapsed: float, rounds: int, chosen: list[str]) -> str:
    machine = "\n".join(f"| {k} | {v} |" for k, v in machine_description())
    settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_")}
    parts = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/__main__.py) from one real run; do not edit by hand.",
        "",
        "| machine | |",
        "|---|---|",
        machine,
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M %Z')}, {rounds} rounds per scenario, "
        f"benchmarks took {elapsed:.0f} s; settings: "
        + (", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults")
        + ". Scenarios 1 to 6 run on 127.0.0.1; 7 to 9 on a simulated LAN of network namespaces.",
        "",
    ]
    parts += [s.markdown() for s in sections]
    parts.append(targets_table(sections))
    return "\n".join(parts)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every scenario has ended its processes and removed its files
        log("interrupted: nothing written")
        sys.exit(130)
