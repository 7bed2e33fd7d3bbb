"""The address book, the search order and its deadlines, the peer list and the scoreboard log,
without sockets."""

from __future__ import annotations

import gc
import itertools
import random

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliablep2p.game.board import BoardFeed, BoardLog, apply_scoreboard, ranked
from reliablep2p.peer.addressbook import AddressBook
from reliablep2p.peer.peerlist import PeerList, PeerRegistry
from reliablep2p.peer.search import OneSource, SearchPlan
from reliablep2p.peer.swarm.finder import (
    CROWD_SOURCES,
    ENOUGH_SOURCES,
    HOPELESS,
    MAX_SOURCES,
    PROBES_AT_ONCE,
    REASK_CAP,
    REASK_FIRST,
    VAULT_AFTER,
    VAULT_PATIENCE,
    Finder,
    Step,
)
from reliablep2p.proto import PeerInfo, PlayerStats, Scoreboard, ScoreboardChanged, UpdatePeers


def peer(port: int) -> PeerInfo:
    return PeerInfo(f"p{port}", "127.0.0.1", port)


DB = PeerInfo("vault", "127.0.0.1", 9000)


# ------------------------------------------------------------------------ address book


def test_address_book_merges_maps_and_counts_pairs() -> None:
    book = AddressBook()
    learned = book.merge({"a": [peer(1), peer(2)], "b": [peer(1)]}, exclude=[])
    assert learned == 3 and len(book) == 3
    assert book.merge({"a": [peer(1)]}, exclude=[]) == 0


def test_address_book_merge_skips_ourselves_and_bad_names() -> None:
    book = AddressBook()
    book.merge(
        {"a": [peer(1), peer(5)], "../x": [peer(2)], "": [peer(3)]}, exclude=[("127.0.0.1", 5)]
    )
    assert book.as_map() == {"a": [peer(1)]}


def test_address_book_forgets_a_peer_everywhere() -> None:
    book = AddressBook()
    book.merge({"a": [peer(1), peer(2)], "b": [peer(1)]}, exclude=[])
    book.forget_peer(peer(1).addr)
    assert book.as_map() == {"a": [peer(2)]}
    book.forget("a", peer(2).addr)
    assert len(book) == 0 and book.as_map() == {}


# ------------------------------------------------------------------------------ search


def plan(book: AddressBook, peers: list[PeerInfo], seed: int = 0) -> SearchPlan:
    return SearchPlan("f", book, peers, database=DB, me=("127.0.0.1", 1), rng=random.Random(seed))


book_steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "forget", "leave", "rename", "drop"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(1, 4),
        st.booleans(),
    ),
    max_size=40,
)


@given(book_steps)
def test_address_book_follows_adds_forgets_leaves_renames_and_drops(
    steps: list[tuple[str, str, int, bool]],
) -> None:
    book = AddressBook()
    model: dict[str, dict[tuple[str, int], PeerInfo]] = {}  # the book as a plain dict
    for op, name, port, hidden in steps:
        holder = msgspec.structs.replace(peer(port), reachable=not hidden)
        if op == "add":
            book.add(name, holder)
            model.setdefault(name, {})[holder.addr] = holder
        elif op == "forget":
            book.forget(name, holder.addr)
            model.get(name, {}).pop(holder.addr, None)
        elif op == "leave":
            book.forget_peer(holder.addr)
            for holders in model.values():
                holders.pop(holder.addr, None)
        elif op == "drop":  # the file left the catalog
            book.drop(name)
            model.pop(name, None)
        else:
            book.rename_peers([holder])
            for holders in model.values():
                if holder.addr in holders:
                    holders[holder.addr] = holder
        model = {n: h for n, h in model.items() if h}
        assert book.as_map() == {n: list(h.values()) for n, h in model.items()}
        assert len(book) == sum(len(h) for h in model.values())


def test_search_asks_known_holders_first_then_random_peers_then_the_vault() -> None:
    book = AddressBook()
    book.add("f", peer(7))
    book.add("f", peer(8))
    search = plan(book, [peer(1), peer(2), peer(3), peer(7), peer(8)])
    order = [search.next() for _ in range(6)]
    assert {p.port for p in order[:2]} == {7, 8}  # type: ignore[union-attr]
    assert {p.port for p in order[2:4]} == {2, 3}  # type: ignore[union-attr]  (1 is me)
    assert order[4] == DB and order[5] is None
    assert search.probes == 5


def test_search_tries_holders_learned_mid_search_before_more_random_peers() -> None:
    book = AddressBook()
    peers = [peer(p) for p in range(2, 30)]
    search = plan(book, peers)
    first = search.next()
    assert first is not None
    book.merge({"f": [peer(29)] if first.port != 29 else [peer(28)]}, exclude=[])
    second = search.next()
    assert second is not None and second.port in (28, 29)


def test_search_never_asks_the_same_peer_twice_and_the_vault_only_last() -> None:
    book = AddressBook()
    book.add("f", DB)  # even if a map claims the vault holds it, it stays the last resort
    search = plan(book, [peer(2), peer(3), DB], seed=4)
    asked = []
    while (p := search.next()) is not None:
        asked.append(p.port)
    assert sorted(asked[:2]) == [2, 3] and asked[2:] == [9000]


def test_search_visits_every_peer_once_in_an_order_that_varies() -> None:
    peers = [peer(p) for p in range(2, 12)]
    orders = set()
    for seed in range(5):
        search = plan(AddressBook(), peers, seed)
        order = tuple(p.port for p in iter(search.next, None) if p)
        assert sorted(order[:-1]) == list(range(2, 12)) and order[-1] == DB.port
        orders.add(order)
    assert len(orders) > 1


def test_search_spreads_load_over_holders() -> None:
    book = AddressBook()
    for port in (5, 6, 7):
        book.add("f", peer(port))
    firsts = {plan(book, [], seed).next().port for seed in range(30)}  # type: ignore[union-attr]
    assert firsts == {5, 6, 7}


# ------------------------------------------------------------------------ peer list


def test_registry_delta_is_the_net_change_since_a_version() -> None:
    registry = PeerRegistry()
    registry.join(peer(1))
    start = registry.version
    registry.join(peer(2))
    registry.join(peer(3))
    registry.leave(peer(2).addr)
    registry.leave(peer(1).addr)
    update = registry.delta(start)
    assert update.base == start and update.version == registry.version
    assert update.joined == [peer(3)]
    assert update.left == [peer(2), peer(1)]


def test_peer_list_follows_the_registry_through_deltas() -> None:
    registry = PeerRegistry()
    mine = PeerList(me=peer(1).addr)
    registry.join(peer(1))
    mine.reset([], registry.version)
    for step in range(20):
        if step % 3 == 2:
            registry.leave(peer(step - 1).addr)
        else:
            registry.join(peer(step + 10))
        mine.apply(registry.delta(mine.version))
    assert set(mine.peers) == set(registry.peers) - {peer(1).addr}


def test_a_peer_found_unreachable_is_updated_for_those_who_have_it_joined_for_the_rest() -> None:
    registry = PeerRegistry()
    registry.join(peer(1))
    before = registry.version
    registry.join(peer(2))
    after_join = registry.version
    hidden = msgspec.structs.replace(peer(2), reachable=False)
    assert registry.update(hidden)
    assert not registry.update(hidden), "no change, no news"
    assert not registry.update(peer(7)), "not listed: nothing to update"
    assert registry.delta(before).joined == [peer(1), hidden][1:]
    assert registry.delta(before).updated == []
    assert registry.delta(after_join).updated == [hidden]
    assert registry.delta(after_join).joined == []


ops = st.lists(
    st.tuples(st.sampled_from(["join", "leave", "hide"]), st.integers(1, 8)), max_size=40
)


@given(ops, st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_peer_lists_at_any_version_follow_joins_leaves_and_updates(
    steps: list[tuple[str, int]], starts: list[int]
) -> None:
    registry = PeerRegistry()
    lists: list[PeerList] = []
    for number, (op, port) in enumerate(steps):
        if op == "join" and peer(port).addr not in registry.peers:
            registry.join(peer(port))
        elif op == "leave":
            registry.leave(peer(port).addr)
        elif op == "hide":
            registry.update(msgspec.structs.replace(peer(port), reachable=False))
        for start in starts:
            if start == number:  # a peer welcomed now
                lists.append(PeerList(me=peer(start % 8 + 1).addr))
                lists[-1].reset(registry.peers.values(), registry.version)
    for mine in lists:
        mine.apply(registry.delta(mine.version))
        assert mine.peers == {a: p for a, p in registry.peers.items() if a != mine.me}


shared_ports = st.lists(
    st.tuples(
        st.sampled_from(["join", "leave", "hide", "bye"]),
        st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        st.integers(1, 3),
    ),
    max_size=40,
)


@given(shared_ports, st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_peer_lists_keep_hosts_that_share_a_port_apart(
    steps: list[tuple[str, str, int]], starts: list[int]
) -> None:
    """A LAN's players often listen on the same port: the list keeps them by host there."""
    registry = PeerRegistry()
    lists: list[PeerList] = []
    for number, (op, host, port) in enumerate(steps):
        entry = PeerInfo(f"{host}-{port}", host, port)
        if op == "join" and entry.addr not in registry.peers:
            registry.join(entry)
        elif op == "leave":
            registry.leave(entry.addr)
        elif op == "hide":
            registry.update(msgspec.structs.replace(entry, reachable=False))
        for mine in lists:
            mine.apply(registry.delta(mine.version))
            if op == "bye":  # said goodbye to us directly, before the database peer knows
                listed = registry.peers.get(entry.addr) if entry.addr != mine.me else None
                assert mine.remove(entry.addr) == listed
                assert entry.addr not in mine.peers
                mine.reset(registry.peers.values(), registry.version)
        for start in starts:
            if start == number:
                lists.append(PeerList(me=(host, port)))
                lists[-1].reset(registry.peers.values(), registry.version)
    for mine in lists:
        mine.apply(registry.delta(mine.version))
        expected = {a: p for a, p in registry.peers.items() if a != mine.me}
        assert mine.peers == expected and len(mine) == len(expected)
        assert sorted(mine, key=lambda p: p.addr) == sorted(expected.values(), key=lambda p: p.addr)
        assert all(mine.peers.get(a) == p and a in mine.peers for a, p in expected.items())


def test_a_player_keeps_a_storm_of_entries_without_waking_the_cycle_collector() -> None:
    """No entry of a welcome or an update is kept with a tracked object of its own: a storm's
    N^2 of them set off thousands of collections, each walking the whole heap."""
    crowd = [PeerInfo(f"p{i}", "10.0.0.1", 10000 + i) for i in range(3000)]
    mine = PeerList(me=crowd[0].addr)
    gc.disable()
    try:
        gc.collect()  # counts from zero
        before = gc.get_count()[0]
        mine.reset(crowd[:1000], 1)
        mine.apply(UpdatePeers(base=1, version=2, joined=crowd[1000:], left=crowd[1:3]))
        made = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert len(mine) == 2997 and crowd[5].addr in mine.peers and crowd[1].addr not in mine.peers
    assert mine.peers[crowd[7].addr] == crowd[7] and crowd[0].addr not in mine.peers
    assert made < 50, f"{made} tracked objects kept for 3,000 entries"


def test_peer_list_refuses_an_update_with_a_gap() -> None:
    mine = PeerList()
    mine.reset([], 3)
    registry = PeerRegistry()
    for port in range(6):
        registry.join(peer(port))
    with pytest.raises(ValueError, match="we have 3"):
        mine.apply(registry.delta(4))


def test_registry_log_trims_without_losing_needed_deltas() -> None:
    registry = PeerRegistry()
    for port in range(10):
        registry.join(peer(port))
    registry.trim(6)
    assert registry.delta(6).joined == [peer(6), peer(7), peer(8), peer(9)]
    with pytest.raises(ValueError):
        registry.delta(5)


# ------------------------------------------------------------------------ scoreboard


def test_board_log_brings_sessions_at_any_tick_to_the_same_scoreboard() -> None:
    rng = random.Random(6)
    log = BoardLog()
    rows = {f"p{i}": PlayerStats(f"p{i}", "127.0.0.1", i, 0, 0, 0, True) for i in range(30)}
    sessions: dict[int, tuple[int, list[PlayerStats]]] = {}  # id -> (tick seen, board)
    for step in range(60):
        for name in rng.sample(sorted(rows), 3):
            rows[name] = msgspec.structs.replace(rows[name], score=rng.randrange(50))
        if step % 7 == 3:
            rows.pop(rng.choice(sorted(rows)))
        assert log.update(ranked(rows.values()))
        assert not log.update(ranked(rows.values())), "an unchanged board is no news"
        sessions[step] = (-1, [])
        for key, (tick, board) in list(sessions.items()):
            if rng.random() < 0.3:
                continue  # this session is slow: it catches up later, maybe past the log
            push = log.since(tick)
            assert push is not None
            if tick >= 0 and log.tick - tick <= BoardLog.KEEP:
                assert isinstance(push, ScoreboardChanged)
                assert len(push.players) < len(rows), "a delta carries only changed rows"
            sessions[key] = (log.tick, apply_scoreboard(board, push))
            assert sessions[key][1] == ranked(rows.values())
            assert log.since(log.tick) is None


# ------------------------------------------------------------- the finder's deadlines


def finder_of(peers: list[PeerInfo], count: int = 8) -> Finder:
    return Finder(plan(AddressBook(), peers), count=count, now=0.0)


def step(finder: Finder, now: float, *, missing: bool = True, links: int = 0) -> Step:
    return finder.step(now, missing=missing, links=links, vault_linked=False, progress_at=0.0)


@pytest.mark.parametrize("missing", [False, True])
def test_a_crowd_is_linked_up_to_enough_sources_or_more_while_a_chunk_is_on_none(
    missing: bool,
) -> None:
    crowd = [peer(port) for port in range(2, 40)]
    finder = finder_of(crowd, count=40)
    for member in crowd:
        finder.plan.crowd(member)
    cap = MAX_SOURCES if missing else ENOUGH_SOURCES
    links = 0
    for now in range(40):  # each probe answers `file` and becomes a link; then the next step
        probes = step(finder, float(now), missing=missing, links=links).probes
        for asked, _ in probes:
            finder.answered(asked.addr)
        links += sum(1 for _, vault in probes if not vault)
        assert links <= cap
    assert links == cap
    assert ENOUGH_SOURCES == 8 < MAX_SOURCES  # a flash crowd of 12 needs no more: each costs CPU


def test_the_vault_is_asked_at_once_when_nobody_is_left() -> None:
    finder = finder_of([])
    first = step(finder, 0.0)
    assert first.probes == [(DB, True)]


def test_the_vault_is_asked_after_the_deadline_while_peers_keep_it_waiting() -> None:
    finder = finder_of([peer(2), peer(3)])
    first = step(finder, 0.0)
    assert len(first.probes) == 1 and first.probes[0][0].port in (2, 3)  # one random peer
    assert first.wake_at == VAULT_AFTER  # one at a time, while the first has not answered
    assert step(finder, VAULT_AFTER - 0.1).probes == []
    assert (DB, True) in step(finder, VAULT_AFTER).probes


def test_a_busy_holder_is_asked_again_later_and_later_while_its_chunks_are_needed() -> None:
    finder = finder_of([peer(2)])
    (asked, _), *_ = step(finder, 0.0).probes
    finder.answered(asked.addr)
    finder.ask_later(asked, 0.0)
    assert step(finder, 5.0, missing=False, links=1).probes == []  # not needed now
    assert step(finder, 0.5, links=1).probes == [(DB, True)]  # it keeps nobody waiting
    assert (asked, False) in step(finder, REASK_FIRST, links=1).probes
    finder.answered(asked.addr)
    finder.ask_later(asked, REASK_FIRST)
    assert (asked, False) not in step(finder, REASK_FIRST * 2.5, links=1).probes  # 2 s now
    assert (asked, False) in step(finder, REASK_FIRST * 3, links=1).probes


def test_a_busy_vault_keeps_the_get_waiting_and_is_asked_again_whatever_the_links() -> None:
    finder = finder_of([])  # the vault is the only source
    assert step(finder, 0.0).probes == [(DB, True)]
    finder.answered(DB.addr)
    finder.ask_later(DB, 0.0, vault=True)  # busy: serving its most files at once
    waiting = step(finder, 0.1)
    assert not waiting.give_up and waiting.probes == [] and waiting.wake_at == REASK_FIRST
    assert step(finder, REASK_FIRST, links=MAX_SOURCES).probes == [(DB, True)]


@pytest.mark.parametrize("links", [0, 1])
def test_a_busy_vault_is_asked_later_and_later_at_random_until_it_was_busy_too_long(
    links: int,
) -> None:
    finder = Finder(plan(AddressBook(), []), count=8, now=0.0, rng=random.Random(links))
    now, asked = 0.0, []
    for _ in range(100):
        found = step(finder, now, links=links)
        if found.give_up:
            break
        for who, vault in found.probes:
            assert (who, vault) == (DB, True)
            asked.append(now)
            finder.answered(DB.addr)
            finder.ask_later(DB, now, vault=True)  # busy every time
        if not found.probes:
            assert found.wake_at > now, "no tight loop"
            now = found.wake_at
    assert found.give_up and finder.waited_out
    assert asked[-1] >= VAULT_PATIENCE - 1.5 * REASK_CAP
    gaps = [b - a for a, b in itertools.pairwise(asked)]
    assert 5 <= len(asked) <= 20 and len(set(gaps)) == len(gaps), gaps  # drawn, not in step
    assert min(gaps) >= REASK_FIRST / 2 and max(gaps) <= 1.5 * REASK_CAP, gaps
    assert max(gaps) >= REASK_CAP / 2, gaps  # later and later, up to the cap
    assert now - asked[-1] >= (HOPELESS if links else 0.0)  # a link may yet bring it


def test_with_nobody_left_and_nothing_linked_the_search_gives_up() -> None:
    finder = Finder(OneSource(peer(2), database=None), count=4, now=0.0)
    (asked, _), *_ = step(finder, 0.0).probes
    finder.answered(asked.addr)
    assert step(finder, 0.1).give_up
    linked = Finder(OneSource(peer(2), database=None), count=4, now=0.0)
    step(linked, 0.0)
    linked.answered(asked.addr)
    assert not step(linked, 0.1, links=1).give_up  # a source still linked may get it yet
    assert step(linked, 0.1 + HOPELESS, links=1).give_up


def stats(name: str, score: int, map_size: int = 0) -> PlayerStats:
    return PlayerStats(name, "127.0.0.1", int(name[1:]), score, 0, map_size, True)


NAMES = [f"p{i}" for i in range(12)]
board_steps = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from(NAMES), st.integers(0, 20), max_size=6),  # new scores
        st.sets(st.sampled_from(NAMES), max_size=2),  # off the board
        st.sets(st.sampled_from(NAMES), max_size=3),  # found something this round
        st.sets(st.sampled_from(NAMES)),  # whose sessions push this time
    ),
    min_size=1,
    max_size=2 * BoardLog.KEEP,
)


@given(board_steps, st.integers(1, 5))
def test_board_feed_shows_each_player_the_top_rows_the_finders_and_itself(
    steps: list[tuple[dict[str, int], set[str], set[str], set[str]]], top: int
) -> None:
    feed = BoardFeed(top=top)
    rows: dict[str, PlayerStats] = {}
    sessions: dict[str, tuple[int, PlayerStats | None, list[PlayerStats]]] = {}
    for scores, removed, featured, pushing in steps:
        for name, score in scores.items():
            rows[name] = stats(name, score, map_size=len(rows))
        for name in removed:
            rows.pop(name, None)
        feed.update(rows.values(), featured)
        order = ranked(rows.values())
        shared = order[:top] + [r for r in order[top:] if r.name in featured]
        for name in pushing | rows.keys() - sessions.keys():
            tick, mine, board = sessions.get(name, (-1, None, []))
            push = feed.since(tick, name, mine)
            if push is not None:
                if isinstance(push, ScoreboardChanged):
                    assert len(push.players) <= len(shared) + 1, "a delta, not the board"
                board = apply_scoreboard(board, push)
            sessions[name] = (feed.tick, feed.rows.get(name), board)
            own = [rows[name]] if name in rows and rows[name] not in shared else []
            assert board == ranked(shared + own), "the host's view of those rows, in order"
            assert board[: len(order[:top])] == order[:top], "the top rows, on top"
            if name in rows:
                assert rows[name] in board, "a player always sees itself"
            assert feed.since(feed.tick, name, feed.rows.get(name)) is None


def test_a_new_session_gets_the_top_rows_and_its_own_far_down_a_big_board() -> None:
    feed = BoardFeed(top=3)
    feed.update([stats(f"p{i}", 1000 - i) for i in range(1000)])
    first = feed.since(-1, "p700", None)
    assert isinstance(first, Scoreboard)
    assert [r.name for r in first.players] == ["p0", "p1", "p2", "p700"]
    feed.update([stats(f"p{i}", 1000 - i, map_size=i == 700) for i in range(1000)])
    again = feed.since(feed.tick, "p700", first.players[-1])
    assert again == ScoreboardChanged([stats("p700", 300, map_size=1)])
    assert feed.since(feed.tick, "p5", stats("p5", 995)) is None, "a change far down: not for p5"


def test_a_random_peer_is_probed_beside_a_crowd_that_has_nothing_yet() -> None:
    """A crowd that all asks at once knows only itself: the holder none of them has heard of
    is found by random probes, which do not wait until every crowd member answered."""
    crowd = [peer(port) for port in range(2, 14)]
    holder = peer(99)
    finder = finder_of([*crowd, holder], count=40)
    for member in crowd:
        finder.plan.crowd(member)
    probed: list[PeerInfo] = []
    for now in range(len(crowd)):  # crowd probes hang (busy cores); random ones answer
        probes = [asked for asked, _ in step(finder, float(now)).probes]
        probed += probes
        for asked in probes:
            if asked not in crowd[:PROBES_AT_ONCE]:
                finder.answered(asked.addr)
    assert holder in probed
    assert all(member in probed for member in crowd[:PROBES_AT_ONCE])  # the crowd still first
    small = finder_of([*crowd, holder], count=2)  # a small file has no crowd probes beside
    for member in crowd:
        small.plan.crowd(member)
    assert all(asked in crowd for asked, _ in step(small, 0.0).probes)


def test_a_rare_file_in_a_crowd_brings_in_the_vault_at_once_as_one_more_source() -> None:
    finder = finder_of([peer(2), peer(3)], count=40)
    first = step(finder, 0.0, missing=False, links=3)  # the holder and two fetchers linked
    assert (DB, True) not in first.probes  # not rare: the vault waits its turn
    rare = finder.step(0.1, missing=False, links=3, vault_linked=False, progress_at=0.0, rare=True)
    assert (DB, True) in rare.probes  # long before VAULT_AFTER, with nothing missing
    again = finder.step(0.2, missing=False, links=4, vault_linked=True, progress_at=0.0, rare=True)
    assert (DB, True) not in again.probes  # once


def test_a_small_rare_file_waits_for_the_vault_as_before() -> None:
    finder = finder_of([peer(2)], count=3)  # fewer than CROWD_CHUNKS: holders alone
    small = finder.step(0.1, missing=False, links=3, vault_linked=False, progress_at=0.0, rare=True)
    assert (DB, True) not in small.probes


def test_a_download_links_at_most_crowd_sources_peers_still_fetching_besides_holders() -> None:
    """Each probe answers at once: a holder links whole, a crowd or random peer as one still
    fetching. Holders are all linked; peers fetching, CROWD_SOURCES at most, and one that
    finishes (now a holder) makes room for another."""
    book = AddressBook()
    holders = [peer(port) for port in (50, 51)]
    for holder in holders:
        book.add("f", holder)
    crowd = [peer(port) for port in range(2, 30)]
    finder = Finder(plan(book, crowd + holders), count=40, now=0.0)
    for member in crowd[:14]:
        finder.plan.crowd(member)
    whole: set[PeerInfo] = set()
    fetching: list[PeerInfo] = []
    for now in range(20):
        probes = finder.step(float(now), missing=now < 10, links=len(whole) + len(fetching),
                             vault_linked=True, progress_at=float(now),
                             crowd_links=len(fetching), seeking=not whole).probes  # fmt: skip
        for asked, vault in probes:
            finder.answered(asked.addr)
            if not vault:
                (whole.add if asked in holders else fetching.append)(asked)
        assert len(fetching) <= CROWD_SOURCES
        if now == 12:
            whole.add(fetching.pop())  # it finished: a holder now, one crowd place free
    assert whole >= set(holders)
    assert len(fetching) == CROWD_SOURCES  # refilled after the one that finished


def test_while_no_holder_is_linked_a_random_probe_goes_on_beside_a_full_crowd() -> None:
    """A crowd that all asks at once knows only itself: its sources full, the seeder none of
    them knows of is still looked for, one random peer at a time, until one holds it whole."""
    crowd = [peer(port) for port in range(2, 20)]
    finder = finder_of(crowd, count=40)

    def random_probes(*, seeking: bool) -> list[PeerInfo]:
        probes = finder.step(0.0, missing=True, links=CROWD_SOURCES, vault_linked=True,
                             progress_at=0.0, crowd_links=CROWD_SOURCES, seeking=seeking).probes  # fmt: skip
        for asked, _ in probes:
            finder.answered(asked.addr)
        return [asked for asked, vault in probes if not vault]

    assert len(random_probes(seeking=True)) == 1
    assert random_probes(seeking=False) == []  # a holder is linked: the crowd places are full
