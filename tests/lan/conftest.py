"""The `lan` fixture: a simulated LAN of network namespaces (`hosts.Lan`), removed at the end.

It needs root and iproute2. Where they are missing the LAN tests skip with the reason, unless
``RP2P_REQUIRE_LAN`` is set (CI sets it): then they fail, so CI can never pass without them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .hosts import Lan, remove_stale, unavailable


@pytest.fixture
def lan_ready() -> None:
    """Skip (or, with RP2P_REQUIRE_LAN, fail) where no LAN can be built; clear stale ones."""
    reason = unavailable()
    if reason is not None:
        if os.environ.get("RP2P_REQUIRE_LAN"):
            pytest.fail(f"RP2P_REQUIRE_LAN is set but {reason}", pytrace=False)
        pytest.skip(reason)
    remove_stale()


@pytest.fixture
def lan(lan_ready: None) -> Iterator[Lan]:
    network = Lan()
    try:
        yield network
    finally:
        network.close()
