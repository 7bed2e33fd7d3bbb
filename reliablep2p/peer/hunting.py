"""What a player does for the hunt when its database peer asks: prove a find.

Run as tasks of the session (`session.py`), so a slow disk never holds up its other pushes.
"""

from __future__ import annotations

import trio

from ..net.channel import Channel
from ..proto import Challenge, Proof
from ..storage.share import possession_proof
from .view import NetworkView


async def answer_challenge(view: NetworkView, channel: Channel, challenge: Challenge) -> None:
    """Prove we hold the bytes of a find we claimed."""
    source = view.file_source(challenge.name)
    if source is None:
        return  # we no longer hold it: no proof, no points
    try:
        digest = await trio.to_thread.run_sync(possession_proof, source[1], challenge.nonce)
    except OSError:
        return  # deleted since: no proof, no points
    await channel.send(Proof(challenge.name, challenge.nonce, digest))
