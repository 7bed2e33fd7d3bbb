"""What the database peer pushes a player over the session, each push applied as it comes.

The peer list, the catalog's additions and the network's database peers go into the view (the
welcome's catalog and database peers are taken in alike: `add_to_catalog`, `listed`); the
round, the lobby, the scoreboard and the evening's end into the session; kicks are kept, then
refused; files the host took away are dropped; backups asked for (`need`), treasure to plant
and challenges to our finds are answered in the session's nursery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import trio

from ..game.board import apply_scoreboard
from ..net.channel import SESSION_TIMEOUT, Channel
from ..proto import (
    Bye,
    CatalogAdded,
    Challenge,
    DatabasePeers,
    ErrorCode,
    EveningOver,
    Expired,
    FileInfo,
    Lobby,
    Message,
    Need,
    PeerInfo,
    Ping,
    Plant,
    Pong,
    ProtocolError,
    Refusing,
    Rejected,
    RemoteProtocolError,
    Removed,
    Revoked,
    Round,
    RoundState,
    Scoreboard,
    ScoreboardChanged,
    Scored,
    UpdatePeers,
    check_database_addresses,
    check_file_info,
)
from . import events, hunting
from .drops import drop_expired, drop_removed
from .view import NetworkView

if TYPE_CHECKING:
    from .session import DatabaseSession


async def read_pushes(session: DatabaseSession, channel: Channel, nursery: trio.Nursery) -> None:
    """Apply the database peer's pushes until its `bye`."""
    while True:
        message = await channel.receive_message(
            UpdatePeers, DatabasePeers, CatalogAdded, Need, Rejected, Round, Scoreboard,
            ScoreboardChanged, Challenge, Scored, Revoked, Lobby, Plant, Expired, Removed,
            EveningOver, Ping, Pong, Bye,
            timeout=SESSION_TIMEOUT,
        )  # fmt: skip
        if isinstance(message, Bye):
            return
        _on_push(session, channel, message, nursery)


def listed_as(session: DatabaseSession, me: PeerInfo) -> None:
    """How the database peer lists us: in the welcome, or corrected later (it could not
    call us back after all)."""
    session.view.me = me
    if not me.reachable:
        session.view.bus.emit(events.NotReachable(session.listens_on or me.host, me.port))


def listed(session: DatabaseSession, addresses: list[tuple[str, int]]) -> None:
    """The network's live database peers, as ours told them."""
    check_database_addresses(addresses)
    if session.databases.listed_now([(host, port) for host, port in addresses]):
        session.view.bus.emit(events.DatabasesChanged(tuple(session.databases.all)))


def add_to_catalog(view: NetworkView, files: list[FileInfo]) -> list[FileInfo]:
    added = []
    for info in files:
        try:
            check_file_info(info)
        except ProtocolError as exc:
            view.bus.emit(events.CatalogEntryIgnored(exc.detail))
            continue
        view.catalog[info.name] = info
        added.append(info)
    return added


def _on_push(
    session: DatabaseSession, channel: Channel, message: Message, nursery: trio.Nursery
) -> None:
    view, bus = session.view, session.view.bus
    if isinstance(message, UpdatePeers):
        try:
            joined, left = view.peers.apply(message)
        except ValueError as exc:
            raise RemoteProtocolError(
                ErrorCode.UNEXPECTED, f"peer list out of step: {exc}"
            ) from None
        for peer in left:
            view.address_book.forget_peer(peer.addr)
        view.address_book.rename_peers(joined)
        view.address_book.rename_peers(message.updated)
        if joined or left:
            bus.emit(events.PeersChanged(tuple(joined), tuple(left)))
        if (listed_now := view.peers.listed_as) is not None and listed_now != view.me:
            listed_as(session, listed_now)
    elif isinstance(message, DatabasePeers):
        listed(session, message.addresses)
    elif isinstance(message, CatalogAdded):
        if added := add_to_catalog(view, message.files):
            bus.emit(events.CatalogChanged(tuple(added)))
    elif isinstance(message, Need):
        for name in message.names:
            nursery.start_soon(session.publisher.upload, name)
    elif isinstance(message, Rejected):
        for name, reason in zip(message.names, message.reasons, strict=False):
            bus.emit(events.PublishRefused(name, reason))
    elif isinstance(message, Round):
        state = message.state
        session.round_deadline = trio.current_time() + state.seconds_left
        if not state.over:
            session.playing = state.number
        elif session.playing == state.number:
            session.playing = None
            session.evening.round_state_over(state, view.me.name)
        old = session.round
        resumed = session.first_round_push and old is not None and old.number == state.number
        session.first_round_push = False
        session.paused_left = None
        if resumed and not state.over:  # the clock goes on: told even if nothing else moved
            session.round = state
            bus.emit(events.RoundChanged(state, resumed=True))
        elif not _same_round(old, state):
            session.round = state
            bus.emit(events.RoundChanged(state))
    elif isinstance(message, Lobby):
        session.lobby = message
        session.evening.heard(message.evening)  # (kept from another evening: forgotten)
        session.lobby_deadline = trio.current_time() + max(0.0, message.starts_in)
        bus.emit(events.LobbyChanged(message))
    elif isinstance(message, Plant):
        if session.plant is not None:
            nursery.start_soon(session.plant, message.names)
    elif isinstance(message, Expired):
        nursery.start_soon(drop_expired, view, session.publisher, message)
    elif isinstance(message, Removed):
        drop_removed(view, session.publisher, message)
    elif isinstance(message, EveningOver):
        bus.emit(events.EveningOver(session.evening.tell(message.players)))  # ours agrees
    elif isinstance(message, Scoreboard | ScoreboardChanged):
        board = apply_scoreboard(session.scoreboard, message)
        if board != session.scoreboard:
            session.scoreboard = board
            bus.emit(events.Scoreboard(tuple(board)))
    elif isinstance(message, Revoked):
        _revoked(session, message.names)
        nursery.start_soon(_refuse, session, channel, message.names)
    elif isinstance(message, Challenge):
        nursery.start_soon(hunting.answer_challenge, view, channel, message)
    elif isinstance(message, Scored):
        if message.points:
            bus.emit(events.FindScored(message.name, message.points, message.message))
        else:
            bus.emit(events.FindRefused(message.name, message.message))
    elif isinstance(message, Ping):
        nursery.start_soon(channel.send, Pong())


def _revoked(session: DatabaseSession, names: list[str]) -> None:
    view = session.view
    if view.me.name in names:
        session.give_up(events.Kicked())  # no point knocking again: our certificate is refused
        raise RemoteProtocolError(ErrorCode.FORBIDDEN, "kicked out of the network")
    view.revoked.update(names)
    for peer in [p for p in view.peers if p.name in view.revoked]:
        view.forget_peer(peer.addr)
    view.bus.emit(events.OthersKicked(tuple(names)))


async def _refuse(session: DatabaseSession, channel: Channel, names: list[str]) -> None:
    """Keep the names, then tell the database peer we refuse them (the host's `kick`
    waits for that)."""
    await session.revocations.keep(session.view.revoked)
    await channel.send(Refusing(names))


def _same_round(old: RoundState | None, new: RoundState) -> bool:
    """The same news (the clock alone moved on)."""
    return old is not None and msgspec.structs.replace(old, seconds_left=new.seconds_left) == new
