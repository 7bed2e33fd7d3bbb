"""`rp2p-peer` with the swarm's debug lines stamped to the millisecond, for a round's timeline.

Run as ``python -m bench.tracepeer ARGS`` (the arguments of `rp2p-peer`) by scenario 7 when
BENCH_CROWD_TRACE is set: each line of the `rp2p.swarm` logger (a chunk asked, begun, sent,
stored) goes to stderr as ``@<unix time> <message>``, which `bench/crowdtrace.py` reads back.
The rest of the program logs as usual.
"""

from __future__ import annotations

import logging
import sys

from reliablep2p.app.cli import peer_main

MARK = "@"


def main() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{MARK}%(created).4f %(message)s"))
    swarm = logging.getLogger("rp2p.swarm")
    swarm.setLevel(logging.DEBUG)
    swarm.addHandler(handler)
    swarm.propagate = False
    sys.argv[0] = "rp2p-peer"
    peer_main()


if __name__ == "__main__":
    main()
