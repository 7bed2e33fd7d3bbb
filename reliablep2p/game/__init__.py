"""The file hunt: `rules` (pure scoring), `board` (the scoreboard as data), `host` (rounds)."""
