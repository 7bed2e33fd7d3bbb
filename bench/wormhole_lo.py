"""Run the `wormhole` command line with its transit kept on loopback.

magic-wormhole offers the other side a direct connection on every address the machine has; the
benchmark must only use 127.0.0.1, so this wrapper makes it offer (and listen on) 127.0.0.1 alone.
Everything else is the unmodified `wormhole` CLI. Run it with bench/.venv's Python.
"""

import sys

import wormhole.ipaddrs  # type: ignore[import-not-found]
from twisted.internet import endpoints  # type: ignore[import-not-found]
from wormhole.cli.cli import wormhole as cli  # type: ignore[import-not-found]

_server_from_string = endpoints.serverFromString


def _loopback_only(reactor, description):  # type: ignore[no-untyped-def]
    if description.startswith("tcp:") and "interface=" not in description:
        description += ":interface=127.0.0.1"
    return _server_from_string(reactor, description)


wormhole.ipaddrs.find_addresses = lambda: ["127.0.0.1"]
endpoints.serverFromString = _loopback_only

if __name__ == "__main__":
    sys.argv[0] = "wormhole"
    sys.exit(cli())
