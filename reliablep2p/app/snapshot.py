"""`rp2p-db backup DIR`: the command line of `database/snapshot.py`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .admin import DEFAULT_DATA
from .storeoptions import store_url, vault_url


def backup(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rp2p-db backup",
        description="Write a consistent copy of the database peer's data into DIR (new or "
        "empty), even while it runs; 'rp2p-db --data DIR' starts from it.",
    )
    parser.add_argument("dir", type=Path, help="where the copy goes (a new or empty folder)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the database peer's data")
    parser.add_argument("--store", type=store_url, metavar="URL",
                        help="the PostgreSQL it keeps its metadata in, if it does")  # fmt: skip
    parser.add_argument("--vault", type=vault_url, metavar="URL",
                        help="the object store it keeps its vault in, if it does")  # fmt: skip
    args = parser.parse_args(argv)
    from ..database.snapshot import BackupRefused
    from ..database.snapshot import backup as make_backup

    if args.store:
        print("the metadata is in PostgreSQL: back it up with pg_dump "
              f"(pg_dump --format=custom --file=rp2p.dump '{args.store}'); copying the rest")  # fmt: skip
    if args.vault:
        print(f"the vault is in the object store {args.vault}: copy the bucket with its own "
              "tools (e.g. rclone sync, aws s3 sync); copying the rest")  # fmt: skip
    try:
        report = make_backup(args.data, args.dir, sqlite=args.store is None,
                             local_vault=args.vault is None, say=print)  # fmt: skip
    except BackupRefused as exc:
        print(f"rp2p-db backup: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"rp2p-db backup: cannot write {args.dir}: {exc.strerror}", file=sys.stderr)
        return 1
    parts = []
    if args.store is None:
        parts.append(f"{report.files} cataloged files")
    if args.vault is None:
        parts.append(f"{report.blobs} blobs ({report.blob_bytes:,} bytes)")
    parts.append("the keys (" + ", ".join(report.keys) + ")" if report.keys else "no keys")
    print(f"backed up {', '.join(parts)} into {args.dir}"
          + (f"; dropped {len(report.dropped)} files removed meanwhile" if report.dropped else ""))  # fmt: skip
    if report.damaged:
        print(f"rp2p-db backup: {len(report.damaged)} damaged blobs were not copied",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0
