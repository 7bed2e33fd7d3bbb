"""The metadata's schema, as the steps that built it.

The schema has a version (table `schema_version`); `MIGRATIONS[n]` brings version n to n + 1, so a
data folder or a database made by an older rp2p is brought up to date when it is opened, and one
made by a newer rp2p is refused rather than misread. Version 0 is the layout rp2p 0.1.0 made
before the version table existed: the same four tables (rp2p after it added the game's records,
still without the version table, counts as version 0 too: every step keeps what exists).
Placeholders `{BLOB}` and `{REAL}` are each backend's type names.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    [  # 0 -> 1: the tables of rp2p 0.1.0 (kept where they exist) and the version table
        """CREATE TABLE IF NOT EXISTS catalog (
            name TEXT PRIMARY KEY,
            size BIGINT NOT NULL,
            hash {BLOB} NOT NULL,
            chunks {BLOB} NOT NULL,
            added_at {REAL} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS invites (
            number INTEGER PRIMARY KEY,
            code TEXT NOT NULL,
            expires_at {REAL} NOT NULL,
            uses_left INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS members (
            name TEXT PRIMARY KEY,
            enrolled_at {REAL} NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE IF NOT EXISTS players (
            name TEXT PRIMARY KEY,
            score BIGINT NOT NULL,
            files_found BIGINT NOT NULL,
            wins BIGINT NOT NULL)""",
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version (version) VALUES (0)",
    ],
    [  # 1 -> 2: the game's records (kept where an rp2p without schema versions made them)
        """CREATE TABLE IF NOT EXISTS holdings (
            player TEXT NOT NULL,
            hash {BLOB} NOT NULL,
            round INTEGER NOT NULL,
            how TEXT NOT NULL,
            PRIMARY KEY (player, hash))""",
        """CREATE TABLE IF NOT EXISTS treasure (
            name TEXT PRIMARY KEY,
            hash {BLOB} NOT NULL,
            round INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS expired (
            hash {BLOB} PRIMARY KEY,
            round INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS game (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS running_round (
            "only" INTEGER PRIMARY KEY CHECK ("only" = 1),
            state {BLOB} NOT NULL)""",
    ],
    [  # 2 -> 3: the database peers sharing this store, one row per address players reach one at
        """CREATE TABLE IF NOT EXISTS database_peers (
            host TEXT NOT NULL,
            port INTEGER NOT NULL,
            peer_id TEXT NOT NULL,
            seen_at {REAL} NOT NULL,
            PRIMARY KEY (host, port))""",
    ],
    [  # 3 -> 4: who shared which catalog file (for restore), and the content the host removed
        """CREATE TABLE shared (
            player TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (player, name))""",
        # what the game's records say each player held is what it shared before this table
        """INSERT INTO shared (player, name)
            SELECT DISTINCT h.player, c.name FROM holdings h JOIN catalog c ON c.hash = h.hash
            WHERE true ON CONFLICT DO NOTHING""",
        """CREATE TABLE removed (
            hash {BLOB} PRIMARY KEY,
            name TEXT NOT NULL,
            removed_at {REAL} NOT NULL)""",
    ],
    [  # 4 -> 5: the game's settings, and the finished rounds of the evening (for a new host)
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL)""",
        """CREATE TABLE evening_rounds (
            number INTEGER PRIMARY KEY,
            summary {BLOB} NOT NULL)""",
    ],
]
"""Append a step to change the schema; never edit one that shipped."""
