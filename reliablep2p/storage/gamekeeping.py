"""What a new round host takes over from the store: the game's settings and the evening so far.

`settings` keeps what `rp2p-db set` changed and what a database peer was given on its command
line (key and value as typed), so a restarted host or another one taking over goes on with
them. `evening_rounds` keeps each finished round's summary (`game/evening.py`'s bytes) until
the host says goodnight, so the evening summed up then counts every round, whoever hosted it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from .sqltypes import Sql


class GameKeeping:
    """Mixed into `SqlMetadata`, which gives `_transaction`."""

    def _transaction(self, *, exclusive: bool = False) -> contextlib.AbstractContextManager[Sql]:
        raise NotImplementedError

    def load_settings(self) -> dict[str, str]:
        """The settings changed from the defaults: key (as typed) -> value."""
        with self._transaction() as db:
            return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM settings")}

    def save_settings(self, values: Mapping[str, str]) -> None:
        with self._transaction() as db:
            for key, value in values.items():
                db.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def save_evening_round(self, number: int, summary: bytes) -> None:
        """Round `number` of this evening is over (kept once)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO evening_rounds (number, summary) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (number, summary),
            )

    def load_evening(self) -> list[bytes]:
        """The summaries of this evening's finished rounds, in order."""
        with self._transaction() as db:
            rows = db.execute("SELECT summary FROM evening_rounds ORDER BY number").fetchall()
        return [bytes(summary) for (summary,) in rows]

    def end_evening(self) -> None:
        """Goodnight was said: the next round starts a new evening."""
        with self._transaction() as db:
            db.execute("DELETE FROM evening_rounds")
