"""`rp2p-db`'s options for where its stores are: `--store`, `--vault` and the object store's.

By default everything is in `--data` (SQLite and the local vault). The option values are only
checked here; the stores are made (and their clients imported) by `storage.stores`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..storage.stores import Stores


def store_url(text: str) -> str:
    if not text.startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE)"
        )
    return text


def vault_url(text: str) -> str:
    if not text.startswith("s3://") or len(text) <= len("s3://"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a vault URL (s3://BUCKET[/PREFIX])")
    return text


def endpoint_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text.rstrip("/")


def cache_mib(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MiB") from None
    if number < 0:
        raise argparse.ArgumentTypeError("the cache cannot be smaller than 0 MiB")
    return number


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """`--store`: what `rp2p-db invite` and `kick` need besides `--data`."""
    parser.add_argument("--store", type=store_url, metavar="URL",
                        help="keep the metadata (catalog, members, scores) in PostgreSQL, "
                        "e.g. postgresql://rp2p@127.0.0.1:5432/rp2p (default: SQLite in --data)")  # fmt: skip


def add_store_options(parser: argparse.ArgumentParser) -> None:
    add_store_option(parser)
    parser.add_argument("--vault", type=vault_url, metavar="URL",
                        help="keep the backed-up files in an S3-compatible object store, "
                        "s3://BUCKET[/PREFIX] (default: the vault folder in --data); credentials "
                        "from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")  # fmt: skip
    parser.add_argument("--s3-endpoint", type=endpoint_url, metavar="URL",
                        help="the object store's address, e.g. http://127.0.0.1:8333 for "
                        "SeaweedFS (default: AWS_ENDPOINT_URL, else AWS S3)")  # fmt: skip
    parser.add_argument("--s3-region", metavar="NAME",
                        help="the object store's region (AWS_REGION, else us-east-1)")  # fmt: skip
    parser.add_argument("--vault-cache-mib", type=cache_mib, default=512, metavar="MIB",
                        help="local cache of chunks read from the object store (512)")  # fmt: skip


def stores_from(args: argparse.Namespace, data: Path) -> Stores:
    """The stores the options name (StoreError with one line if they cannot be made)."""
    from ..storage.stores import open_stores

    return open_stores(
        data,
        store=args.store,
        vault=args.vault,
        s3_endpoint=args.s3_endpoint,
        s3_region=args.s3_region,
        cache_bytes=args.vault_cache_mib * 1024 * 1024,
    )
