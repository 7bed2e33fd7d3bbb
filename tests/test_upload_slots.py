"""An upload cut off as it takes its slot gives the slot back: a seeder never runs out of them.

A fetcher that hangs up (its get done elsewhere, a stall, the endgame) cancels the upload
serving it; one cancelled at the very moment it took a free slot kept it for good. After
`UPLOAD_SLOTS` such moments (four then) the seeder sent nothing to anyone again, while pinging
every link it had (its requests "wait their turn"), so its fetchers waited for ever: in
tests/faults/test_load.py on one core, 7 to 17 of 200 fetchers sat linked to such a seeder
with 0 bytes until the test's limit.
"""

from __future__ import annotations

import trio

from reliablep2p.peer.swarm.uploads import UPLOAD_SLOTS, FairSlots


async def test_an_upload_cancelled_as_it_takes_a_free_slot_gives_it_back() -> None:
    slots = FairSlots()
    for _ in range(UPLOAD_SLOTS):
        with trio.CancelScope() as hung_up:
            hung_up.cancel()  # the fetcher hung up: the upload is cancelled where it stands
            async with slots.turn("gone"):
                await trio.lowlevel.checkpoint()  # as its send would be
                raise AssertionError("a cancelled upload sent its chunk")
    with trio.fail_after(5):  # an upload for the next fetcher still gets one
        async with slots.turn("next"):
            pass
    assert slots.free == UPLOAD_SLOTS
