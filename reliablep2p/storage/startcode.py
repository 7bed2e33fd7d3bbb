"""The join code `rp2p-db` prints at start: the same one every start while it is still good.

The code the host told friends yesterday keeps working and is the one printed again, so codes
do not pile up and the printed one does not change with every restart. A new one is minted
only when that one is used up or expired (or `rp2p-db invite` is asked for another). The
invite's number is kept in the `game` table under `start_code`.
"""

from __future__ import annotations

import contextlib
import time
from typing import NamedTuple

from .sqltypes import Sql


class StartCode(NamedTuple):
    """A live join code, and what is left of it."""

    code: str
    uses_left: int
    expires_at: float


class StartCodes:
    """Mixed into `SqlMetadata`, which gives `_transaction` and `new_invite`."""

    def _transaction(self, *, exclusive: bool = False) -> contextlib.AbstractContextManager[Sql]:
        raise NotImplementedError

    def new_invite(self, *, uses: int, seconds: float) -> str:
        raise NotImplementedError

    def start_code(self, *, uses: int, seconds: float) -> StartCode:
        """The start code printed last while it is still good, else a new one for `uses`
        players within `seconds`."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT i.code, i.uses_left, i.expires_at FROM invites i"
                " JOIN game g ON g.key = 'start_code' AND g.value = i.number"
                " WHERE i.expires_at >= ? AND i.uses_left > 0",
                (time.time(),),
            ).fetchone()
        if row is not None:
            return StartCode(str(row[0]), int(row[1]), float(row[2]))
        code = self.new_invite(uses=uses, seconds=seconds)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO game (key, value) VALUES ('start_code', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (int(code.split("-")[0]),),
            )
        return StartCode(code, uses, time.time() + seconds)
