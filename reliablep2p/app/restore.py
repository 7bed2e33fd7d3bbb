"""`rp2p-peer restore`: bring back every file this player ever shared, from the vault.

For a deleted folder, or a new laptop given the player's profile (its key and certificate):
the database peer says which catalog files this player published, and each one that is not
in the folder is fetched from the vault, every chunk verified against the catalog and the file
renamed into place whole. A file already there and intact is left alone; a file whose name is
taken by other content is never overwritten (one line says so). Exit status 0 when every
file is back, 1 when one is not.
"""

from __future__ import annotations

import argparse
import logging
import sys

import trio

from ..peer.fetch import GetError
from ..peer.node import Node
from ..proto import FileInfo, ProtocolError
from .options import add_player_options, make_player, start_node

JOIN_TIMEOUT = 15.0


def restore(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rp2p-peer restore",
        description="Bring back every file this player ever shared, from the database "
        "peer's vault into its folder: --share, or ./port_PORT with --port (give the player's "
        "--name or --profile, as it ran). Files already there are left alone.",
    )
    add_player_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    node = make_player(args, plays=False)
    return trio.run(_restore, node)


async def _restore(node: Node) -> int:
    async with trio.open_nursery() as nursery:
        if not await start_node(nursery, node, "rp2p-peer restore"):
            return 2
        with trio.move_on_after(JOIN_TIMEOUT):
            await node.ready.wait()
        if not node.ready.is_set() or node.session.gave_up.is_set():
            host, port = node.database or ("?", 0)
            print(f"rp2p-peer restore: database peer {host}:{port} unreachable", file=sys.stderr)
            status = 1
        else:
            status = await restore_files(node)
        if not node.session.gave_up.is_set():
            await node.leave()
        nursery.cancel_scope.cancel()
    return status


async def restore_files(node: Node) -> int:
    """Fetch what we shared and lack; one line per file and a summary; the exit status."""
    share = node.share
    assert share is not None
    try:
        files = await node.fetcher.shared_by_me()
    except ProtocolError as exc:
        print(f"rp2p-peer restore: cannot ask the database peer: {exc.detail}", file=sys.stderr)
        return 1
    total = sum(info.size for info in files)
    print(f"{node.name} shared {len(files)} files ({total:,} bytes) still in the catalog;"
          f" restoring into {share.path}", flush=True)  # fmt: skip
    restored = kept = taken = failed = 0
    restored_bytes = 0
    for number, info in enumerate(files, 1):
        step = f"[{number}/{len(files)}] {info.name}"
        outcome = _already_there(node, info)
        if outcome == "intact":
            kept += 1
            print(f"{step}: already here, intact", flush=True)
            continue
        if outcome == "taken":
            taken += 1
            print(f"{step}: not restored: {share.path_of(info.name)} holds other content"
                  " (left as it is; move it aside and restore again)", flush=True)  # fmt: skip
            continue
        try:
            result = await node.fetcher.fetch_from_vault(info.name)
        except GetError as exc:
            failed += 1
            print(f"{step}: not restored: {exc}", flush=True)
            continue
        restored += 1
        restored_bytes += result.size
        print(f"{step}: restored ({result.size:,} bytes, verified)", flush=True)
    print(f"restored {restored} files ({restored_bytes:,} bytes), {kept} already here, "
          f"{taken} not overwritten, {failed} failed", flush=True)  # fmt: skip
    return 0 if taken == failed == 0 else 1


def _already_there(node: Node, info: FileInfo) -> str:
    """'intact' (the same content is there), 'taken' (something else has the name) or ''."""
    share = node.share
    assert share is not None
    mine = share.get(info.name)
    if mine is not None:
        return "intact" if mine.hash == info.hash else "taken"
    return "taken" if share.path_of(info.name).exists() else ""
