"""Traffic counters for in-process networks, patched in from outside the core.

The core counts only `Channel.bytes_sent` per channel, and nothing per message type, so the
benchmark wraps these functions for the duration of a scenario: `Channel.send` and
`Channel.send_many` (messages by type), `Channel._send_bytes` and the three data-frame sends,
`Channel.send_data{,_from,_sendfile}` (frame bytes; the `chunk{index}` sent before a frame in
the same write counted as a message too), `trio.SocketStream.send_all`, our
`TLSStream._send_raw` and `os.sendfile` to a socket (bytes on the wire, TLS records included:
TLSStream writes to the socket itself) and `trio.open_tcp_stream` (connections opened). Each
wrapper takes the arguments of what it wraps (tests/test_bench_counting.py checks): one missing
is a `TypeError` inside the core, answered as `Error(internal)`. A counter the core could keep
itself: per-node totals of frames and bytes sent and received by message type, and of
connections opened and accepted (cheap, and a TUI could show them too).
"""

from __future__ import annotations

import collections
import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import trio

from reliablep2p.net import channel as wire
from reliablep2p.net import tls
from reliablep2p.proto import Error, Message, encode_message


@dataclass
class Traffic:
    messages: collections.Counter[str] = field(default_factory=collections.Counter)
    message_bytes: collections.Counter[str] = field(default_factory=collections.Counter)
    frame_bytes: int = 0
    data_frames: int = 0
    wire_bytes: int = 0
    connections: int = 0

    def reset(self) -> None:
        self.messages.clear()
        self.message_bytes.clear()
        self.frame_bytes = self.data_frames = self.wire_bytes = self.connections = 0

    def snapshot(self) -> Traffic:
        return Traffic(
            collections.Counter(self.messages), collections.Counter(self.message_bytes),
            self.frame_bytes, self.data_frames, self.wire_bytes, self.connections,
        )  # fmt: skip

    @property
    def total_messages(self) -> int:
        return sum(self.messages.values())

    def to_json(self) -> dict[str, Any]:
        """For another process's counts (bench/joindb.py writes its own as JSON)."""
        return {
            "messages": dict(self.messages), "message_bytes": dict(self.message_bytes),
            "frame_bytes": self.frame_bytes, "data_frames": self.data_frames,
            "wire_bytes": self.wire_bytes, "connections": self.connections,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Traffic:
        return cls(
            collections.Counter(data["messages"]), collections.Counter(data["message_bytes"]),
            data["frame_bytes"], data["data_frames"], data["wire_bytes"], data["connections"],
        )  # fmt: skip

    def plus(self, other: Traffic, sign: int = 1) -> Traffic:
        """This and `other` added (`sign` -1: what `self` counted since `other`)."""
        messages, message_bytes = (
            collections.Counter(self.messages),
            collections.Counter(self.message_bytes),
        )
        for kind, count in other.messages.items():
            messages[kind] += sign * count
        for kind, count in other.message_bytes.items():
            message_bytes[kind] += sign * count
        return Traffic(
            +messages, +message_bytes, self.frame_bytes + sign * other.frame_bytes,
            self.data_frames + sign * other.data_frames, self.wire_bytes + sign * other.wire_bytes,
            self.connections + sign * other.connections,
        )  # fmt: skip


@contextlib.contextmanager
def counting() -> Iterator[Traffic]:
    traffic = Traffic()
    originals: list[tuple[Any, str, Any]] = [
        (wire.Channel, "send", wire.Channel.send),
        (wire.Channel, "send_many", wire.Channel.send_many),
        (wire.Channel, "_send_bytes", wire.Channel._send_bytes),
        (wire.Channel, "send_data", wire.Channel.send_data),
        (wire.Channel, "send_data_from", wire.Channel.send_data_from),
        (wire.Channel, "send_data_sendfile", wire.Channel.send_data_sendfile),
        (trio.SocketStream, "send_all", trio.SocketStream.send_all),
        (trio, "open_tcp_stream", trio.open_tcp_stream),
        (tls.TLSStream, "_send_raw", tls.TLSStream._send_raw),
        (os, "sendfile", os.sendfile),
    ]
    send, send_many, send_bytes, send_data, send_data_from, send_data_sendfile = (
        o[2] for o in originals[:6]
    )
    send_all, open_tcp_stream, send_raw, sendfile = (o[2] for o in originals[6:])

    # Plain functions handing back the core's own coroutine: an `async def` wrapper is one more
    # coroutine per send, three per message, which a join storm's garbage collector then walks
    # (the benchmark measured itself). Counted when sent off, whether or not the send succeeds.
    def count_message(message: Message, frame: bytes) -> None:
        kind = type(message).__name__
        if isinstance(message, Error):
            kind = f"Error({message.code})"
        traffic.messages[kind] += 1
        traffic.message_bytes[kind] += len(frame)

    def counted_send(self: wire.Channel, message: Any, *, frame: bytes | None = None) -> Any:
        if frame is None:  # encoded here, so that the bytes are known now, and not again
            frame = encode_message(message)
        count_message(message, frame)
        return send(self, message, frame=frame)

    def counted_send_many(self: wire.Channel, messages: Any) -> Any:
        """Each message of a batch (one write: `Channel.send_many`) counted as one sent."""
        framed = [(m, encode_message(m) if f is None else f) for m, f in messages]
        for message, frame in framed:
            count_message(message, frame)
        return send_many(self, framed)

    def counted_send_bytes(self: wire.Channel, frame: bytes) -> Any:
        traffic.frame_bytes += len(frame)
        return send_bytes(self, frame)

    def count_data_frame(message: Message | None) -> None:
        """A data frame, and the message sent before it in the same write (`chunk{index}`)."""
        traffic.data_frames += 1
        if message is not None:
            count_message(message, encode_message(message))

    # The data frames' bytes are what the channel counts (`bytes_sent`), the message before
    # included; so these wrap the core's coroutines, and take its every argument.
    async def counted_send_data(
        self: wire.Channel, data: Any, *, before: Message | None = None
    ) -> None:
        count_data_frame(before)
        sent = self.bytes_sent
        await send_data(self, data, before=before)
        traffic.frame_bytes += self.bytes_sent - sent

    async def counted_send_data_from(
        self: wire.Channel, length: int, read: Any, *, before: Message | None = None
    ) -> None:
        count_data_frame(before)
        sent = self.bytes_sent
        await send_data_from(self, length, read, before=before)
        traffic.frame_bytes += self.bytes_sent - sent

    async def counted_send_data_sendfile(
        self: wire.Channel, fd: int, offset: int, length: int, *, before: Message | None = None
    ) -> None:
        count_data_frame(before)
        sent = self.bytes_sent
        await send_data_sendfile(self, fd, offset, length, before=before)
        traffic.frame_bytes += self.bytes_sent - sent

    def counted_sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        """File bytes the kernel put on a socket (not a file copy: `shutil` sends those)."""
        sent: int = sendfile(out_fd, in_fd, offset, count)
        if stat.S_ISSOCK(os.fstat(out_fd).st_mode):
            traffic.wire_bytes += sent
        return sent

    def counted_send_all(self: trio.SocketStream, data: Any) -> Any:
        traffic.wire_bytes += len(data)
        return send_all(self, data)

    async def counted_open(*args: Any, **kwargs: Any) -> trio.SocketStream:
        stream = await open_tcp_stream(*args, **kwargs)
        traffic.connections += 1
        return stream

    def counted_send_raw(self: tls.TLSStream, data: bytes) -> Any:
        traffic.wire_bytes += len(data)  # TLS records, handshakes included, as the socket sees
        return send_raw(self, data)

    replacements = [counted_send, counted_send_many, counted_send_bytes, counted_send_data,
                    counted_send_data_from, counted_send_data_sendfile, counted_send_all,
                    counted_open, counted_send_raw, counted_sendfile]  # fmt: skip
    for (owner, name, _), replacement in zip(originals, replacements, strict=True):
        setattr(owner, name, replacement)
    try:
        yield traffic
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
