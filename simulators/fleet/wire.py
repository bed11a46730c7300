"""The client side of RFC 6455 for the fleet: the opening handshake and frames, without I/O.

Exceptions::

    WireError
    ├── HandshakeError   the server refused the upgrade or answered it wrongly
    └── ProtocolError    the server broke the framing rules; carries the close code

Only what a fleet charger needs: no extensions (the client offers none), client frames always
masked, server frames never masked, text and binary messages (possibly fragmented), ping,
pong and close.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005
CLOSE_TOO_BIG = 1009

MAX_MESSAGE = 1 << 20  # websockets' default max_size


class WireError(Exception):
    """Base of the wire errors."""


class HandshakeError(WireError):
    """The opening handshake failed. `status` is the HTTP status, if one was received."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProtocolError(WireError):
    """The server sent something RFC 6455 forbids; `code` is the close code to send."""

    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _apply_mask_python(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    repeated = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little"
    )


apply_mask: Callable[[bytes, bytes], bytes]
try:
    from websockets.speedups import apply_mask  # C
except ImportError:  # pragma: no cover - websockets built without its C extension
    apply_mask = _apply_mask_python


# --- opening handshake ---------------------------------------------------------------------


def new_key() -> str:
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to `key`."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def handshake_request(
    host: str, resource: str, key: str, subprotocol: str, authorization: str | None = None
) -> bytes:
    """The HTTP/1.1 Upgrade request. `host` is the Host header value (host[:port])."""
    lines = [
        f"GET {resource} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Sec-WebSocket-Protocol: {subprotocol}",
    ]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_response(head: bytes, key: str, subprotocol: str) -> str | None:
    """Validate the response head (up to, not including, the blank line).

    Returns the subprotocol the server selected (None if it selected none, which the
    websockets client accepts too); raises HandshakeError otherwise.
    """
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
        raise HandshakeError("undecodable response head") from exc
    status_line, *header_lines = text.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HandshakeError(f"bad status line {status_line[:80]!r}")
    status = int(parts[1])
    if status != 101:
        raise HandshakeError(f"HTTP {status}", status)
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise HandshakeError(f"bad header line {line[:80]!r}", status)
        headers.setdefault(name.strip().lower(), []).append(value.strip())

    def tokens(name: str) -> set[str]:
        return {t.strip().lower() for v in headers.get(name, ()) for t in v.split(",")}

    if "websocket" not in tokens("upgrade"):
        raise HandshakeError("no Upgrade: websocket", status)
    if "upgrade" not in tokens("connection"):
        raise HandshakeError("no Connection: Upgrade", status)
    if headers.get("sec-websocket-accept") != [accept_for(key)]:
        raise HandshakeError("wrong Sec-WebSocket-Accept", status)
    if headers.get("sec-websocket-extensions"):
        raise HandshakeError("an extension the client did not offer", status)
    selected = headers.get("sec-websocket-protocol")
    if selected is None:
        return None
    if selected != [subprotocol]:
        raise HandshakeError(f"subprotocol {', '.join(selected)!r} was not offered", status)
    return subprotocol


# --- frames ----------------------------------------------------------------------------------


class _Masks:
    """4-byte masking keys cut from one os.urandom() read (a syscall per 1,024 frames)."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        at = self._at
        if at >= len(self._pool):
            self._pool = os.urandom(4096)
            at = 0
        self._at = at + 4
        return self._pool[at : at + 4]


new_mask = _Masks().next


def encode(opcode: int, payload: bytes, mask: bytes | None = None, *, fin: bool = True) -> bytes:
    """One masked client frame. `mask` is random unless given (tests)."""
    if mask is None:
        mask = new_mask()
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((first, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 0xFF)) + n.to_bytes(8, "big")
    return head + mask + apply_mask(payload, mask)


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode()


def parse_close(payload: bytes) -> tuple[int, str]:
    """The code and reason of a close frame's payload (1005 when it has none)."""
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a 1-byte payload")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError as exc:
        raise ProtocolError("close reason is not UTF-8") from exc
    return int.from_bytes(payload[:2], "big"), reason


class FrameReader:
    """Turns the server's byte stream into (opcode, payload) events.

    Data messages come out whole (fragments reassembled, opcode of the first fragment);
    control frames (close, ping, pong) come out as they arrive, even between fragments.
    """

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._need = 2  # bytes the buffer must hold before parsing is worth trying again
        self._fragments: list[bytes] | None = None
        self._fragments_size = 0
        self._fragments_opcode = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        events: list[tuple[int, bytes]] = []
        buffer = self._buffer
        if not buffer:
            used = self._parse(data, events)
            if used < len(data):
                buffer += data[used:]
            return events
        buffer += data
        if len(buffer) >= self._need:
            used = self._parse(buffer, events)
            del buffer[:used]
        return events

    def _parse(self, data: bytes | bytearray, events: list[tuple[int, bytes]]) -> int:
        pos = 0
        end = len(data)
        while end - pos >= 2:
            first = data[pos]
            second = data[pos + 1]
            if second & 0x80:
                raise ProtocolError("masked frame from the server")
            if first & 0x70:
                raise ProtocolError("reserved bits set without an extension")
            length = second & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    self._need = 4
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if end - pos < 10:
                    self._need = 10
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
                if length >> 63:
                    raise ProtocolError("64-bit length with the high bit set")
            if length > self.max_size:
                raise ProtocolError(f"frame of {length} bytes", CLOSE_TOO_BIG)
            if end - pos < head + length:
                self._need = head + length
                break
            payload = bytes(data[pos + head : pos + head + length])
            pos += head + length
            self._frame(bool(first & 0x80), first & 0x0F, payload, events)
        else:
            self._need = 2
        return pos

    def _frame(
        self, fin: bool, opcode: int, payload: bytes, events: list[tuple[int, bytes]]
    ) -> None:
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if self._fragments is not None:
                raise ProtocolError("new message before the last one's final fragment")
            if fin:
                events.append((opcode, payload))
            else:
                self._fragments = [payload]
                self._fragments_size = len(payload)
                self._fragments_opcode = opcode
        elif opcode == OP_CONTINUATION:
            if self._fragments is None:
                raise ProtocolError("continuation frame without a message")
            self._fragments.append(payload)
            self._fragments_size += len(payload)
            if self._fragments_size > self.max_size:
                raise ProtocolError(f"message of {self._fragments_size} bytes", CLOSE_TOO_BIG)
            if fin:
                events.append((self._fragments_opcode, b"".join(self._fragments)))
                self._fragments = None
        elif opcode in (OP_CLOSE, OP_PING, OP_PONG):
            if not fin:
                raise ProtocolError("fragmented control frame")
            if len(payload) > 125:
                raise ProtocolError("control frame over 125 bytes")
            events.append((opcode, payload))
        else:
            raise ProtocolError(f"unknown opcode {opcode:#x}")
