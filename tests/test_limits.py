"""Join codes and the limits on strangers, without sockets: the code's words, the growing wait
between tries from one address, and which connection makes room when the listener is full."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from reliablep2p.app.cli import db_main
from reliablep2p.database.guesses import GuessLimiter, source_of
from reliablep2p.net.server import ConnectionCaps, Slot
from reliablep2p.proto.codes import CODE_BITS, WORDS, new_join_code, parse_code
from reliablep2p.proto.errors import SecurityError
from reliablep2p.storage.sqlite import SqliteMetadata


def test_a_join_code_is_a_number_and_four_words_worth_44_bits() -> None:
    code = new_join_code(7)
    number, *words = code.split("-")
    assert number == "7" and len(words) == 4 and set(words) <= set(WORDS)
    assert len(set(WORDS)) == 2048 and CODE_BITS == 44
    assert parse_code(code) == (7, code.encode())


def test_a_code_parses_however_it_was_typed_and_a_misspelling_is_refused() -> None:
    assert parse_code("  007 Orbit  lemon-SAUSAGE ridge ") == (7, b"7-orbit-lemon-sausage-ridge")
    for bad in ("orbit-lemon", "7-orbit-lemon", "7-orbit-lemon-sausage-ridge-toy", "x-a-b-c-d"):
        with pytest.raises(SecurityError, match="not a join code"):
            parse_code(bad)
    with pytest.raises(SecurityError, match="no join code typed"):
        parse_code("  ")
    with pytest.raises(SecurityError, match="'lemmon' is not a word"):
        parse_code("7-orbit-lemmon-sausage-ridge")


def test_every_try_from_an_address_doubles_its_wait_up_to_a_minute() -> None:
    limiter = GuessLimiter()
    now, waits = 0.0, []
    for _ in range(10):
        assert limiter.try_now("10.0.0.9", now) == 0.0
        wait = limiter.try_now("10.0.0.9", now)  # at once again: refused, not counted
        waits.append(wait)
        assert limiter.try_now("10.0.0.9", now + wait / 2) == wait / 2
        now += wait
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_a_right_code_forgets_the_address_and_other_addresses_never_wait() -> None:
    limiter = GuessLimiter()
    for _ in range(3):
        limiter.try_now("10.0.0.9", 0.0)
    assert limiter.try_now("10.0.0.8", 0.0) == 0.0  # a guesser does not slow anyone else
    limiter.forget("10.0.0.9")
    assert limiter.try_now("10.0.0.9", 0.0) == 0.0


def test_an_address_quiet_for_an_hour_starts_afresh_and_memory_is_bounded() -> None:
    limiter = GuessLimiter(max_addresses=3)
    for _ in range(8):
        limiter.try_now("10.0.0.9", 0.0)
        limiter.try_now("10.0.0.9", 1000.0)
    assert limiter.try_now("10.0.0.9", 1000.5) > 0
    assert limiter.try_now("10.0.0.9", 1000 + 60 + 3600) == 0.0
    for last in range(1, 5):
        limiter.try_now(f"10.0.1.{last}", 5000.0)
    assert limiter.try_now("10.0.1.1", 5000.0) == 0.0, "the longest-quiet address was dropped"


def test_an_ipv6_host_counts_as_its_whole_64() -> None:
    assert source_of("2001:db8::1") == source_of("2001:db8::ffff:1234") == "2001:db8::/64"
    assert source_of("::ffff:10.0.0.9") == "10.0.0.9"
    assert source_of("10.0.0.9") == "10.0.0.9"


def test_a_code_lives_a_week_at_most(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SqliteMetadata(
        tmp_path
    ).prepare()  # the database peer's data folder, as its first start made it
    with pytest.raises(SystemExit) as exited:
        db_main(["invite", "--data", str(tmp_path), "--hours", "200"])
    assert exited.value.code == 2
    assert "at most 168 hours" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        db_main(["invite", "--data", str(tmp_path), "--hours", "168"])
    assert exited.value.code == 0
    assert parse_code(capsys.readouterr().out.strip())


def test_codes_of_the_old_short_kind_stop_working(tmp_path: Path) -> None:
    store = SqliteMetadata(tmp_path)
    store.prepare()
    store.open()
    fresh = store.new_invite(uses=5, seconds=60)
    old = 998 if parse_code(fresh)[0] != 998 else 997  # the fresh one's number is random
    with sqlite3.connect(tmp_path / "rp2p.sqlite3") as db:  # one minted by an older rp2p-db
        db.execute(
            "INSERT INTO invites VALUES (?, ?, ?, 5)",
            (old, f"{old}-purple-sausage", time.time() + 60),
        )
    store.close()
    store.open()
    assert store.invite_password(old) is None
    assert store.invite_password(parse_code(fresh)[0]) == fresh.encode()
    store.close()


def admit(caps: ConnectionCaps, host: str, hung_up: list[str]) -> Slot | None:
    return caps.admit(host, lambda: hung_up.append(host))


def test_a_full_listener_sheds_the_oldest_silent_connection_of_the_most_crowded_address() -> None:
    caps = ConnectionCaps(max_connections=6, max_per_host=4)
    hung_up: list[str] = []
    first = [admit(caps, "10.0.0.66", hung_up) for _ in range(4)]
    admit(caps, "10.0.0.67", hung_up)
    player = admit(caps, "10.0.0.5", hung_up)
    assert caps.count == 6 and player is not None
    newcomer = admit(caps, "10.0.0.6", hung_up)  # full: the crowd's oldest makes room
    assert newcomer is not None and hung_up == ["10.0.0.66"] and first[0] and first[0].shed
    assert caps.count == 6 and caps.per_host["10.0.0.66"] == 3
    caps.release(first[0])  # its task ends later: counted once only
    assert caps.count == 6
    assert admit(caps, "10.0.0.66", hung_up) is not None  # room again under its own cap
    assert hung_up == ["10.0.0.66", "10.0.0.66"] and not player.shed


def test_callers_past_hello_are_never_shed_and_then_a_newcomer_is_told_busy() -> None:
    caps = ConnectionCaps(max_connections=3, max_per_host=3)
    hung_up: list[str] = []
    slots = [admit(caps, f"10.0.0.{n}", hung_up) for n in range(3)]
    for slot in slots:
        assert slot is not None
        caps.introduced(slot)
    assert admit(caps, "10.0.0.9", hung_up) is None and not hung_up
    assert slots[0] is not None
    caps.release(slots[0])
    assert admit(caps, "10.0.0.9", hung_up) is not None


def test_one_address_over_its_own_cap_is_told_busy_and_sheds_nobody() -> None:
    caps = ConnectionCaps(max_connections=10, max_per_host=2)
    hung_up: list[str] = []
    assert all(admit(caps, "10.0.0.66", hung_up) for _ in range(2))
    assert admit(caps, "10.0.0.66", hung_up) is None and not hung_up
