"""The fleet's RFC 6455 codec, byte by byte (no network)."""

from __future__ import annotations

import pytest

from simulators.fleet import wire

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # the example of RFC 6455, section 1.3
MASK = b"\x37\xfa\x21\x3d"


def server_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """An unmasked frame, as a server sends it."""
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 1 << 16:
        return bytes((first, 126)) + n.to_bytes(2, "big") + payload
    return bytes((first, 127)) + n.to_bytes(8, "big") + payload


def unmask(frame: bytes) -> tuple[int, bool, bytes]:
    """(opcode, fin, payload) of a client frame; asserts it is masked and whole."""
    assert frame[1] & 0x80, "client frames must be masked"
    n = frame[1] & 0x7F
    at = 2
    if n == 126:
        n, at = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, at = int.from_bytes(frame[2:10], "big"), 10
    mask, payload = frame[at : at + 4], frame[at + 4 :]
    assert len(payload) == n
    return frame[0] & 0x0F, bool(frame[0] & 0x80), wire._apply_mask_python(payload, mask)


def response(accept: str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", *extra: str) -> bytes:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept}",
        *extra,
    ]
    return "\r\n".join(lines).encode()


# -- handshake ----------------------------------------------------------------------------------


def test_accept_is_the_rfc_example() -> None:
    assert wire.accept_for(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_request_carries_the_upgrade_headers() -> None:
    request = wire.handshake_request("h:9", "/ocpp/CP-1", KEY, "ocpp1.6", "Basic eDp5")
    head, _, rest = request.partition(b"\r\n\r\n")
    assert rest == b""
    lines = head.decode().split("\r\n")
    assert lines[0] == "GET /ocpp/CP-1 HTTP/1.1"
    assert set(lines[1:]) == {
        "Host: h:9",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: ocpp1.6",
        "Authorization: Basic eDp5",
    }
    assert b"Authorization" not in wire.handshake_request("h", "/", KEY, "ocpp1.6")


def test_new_keys_are_16_random_bytes() -> None:
    keys = {wire.new_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(key) == 24 and key.endswith("==") for key in keys)


def test_a_good_response_returns_the_subprotocol() -> None:
    head = response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Protocol: ocpp1.6", "Server: x")
    assert wire.check_response(head, KEY, "ocpp1.6") == "ocpp1.6"
    assert wire.check_response(response(), KEY, "ocpp1.6") is None  # as websockets accepts


def test_header_names_and_tokens_are_case_insensitive() -> None:
    head = (
        b"HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
        b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    )
    assert wire.check_response(head, KEY, "ocpp1.6") is None


@pytest.mark.parametrize(
    ("head", "status", "message"),
    [
        (b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0", 401, "HTTP 401"),
        (b"HTTP/1.1 404 Not Found", 404, "HTTP 404"),
        (b"SSH-2.0-OpenSSH", None, "bad status line"),
        (response("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), 101, "Sec-WebSocket-Accept"),
        (response().replace(b"Upgrade: websocket\r\n", b""), 101, "Upgrade"),
        (response().replace(b"Connection: Upgrade\r\n", b""), 101, "Connection"),
        (response(wire.accept_for(KEY), "Sec-WebSocket-Protocol: ocpp2.0.1"), 101, "2.0.1"),
        (response(wire.accept_for(KEY), "Sec-WebSocket-Extensions: x"), 101, "extension"),
        (response(wire.accept_for(KEY), "no colon"), 101, "header line"),
    ],
)
def test_a_bad_response_is_a_handshake_error(head: bytes, status: int | None, message: str) -> None:
    with pytest.raises(wire.HandshakeError, match=message) as caught:
        wire.check_response(head, KEY, "ocpp1.6")
    assert caught.value.status == status


# -- client frames ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "header"),
    [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (200_000, 10)],
)
def test_client_frames_are_masked_with_the_shortest_length(size: int, header: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = wire.encode(wire.OP_TEXT, payload, MASK)
    assert len(frame) == header + 4 + size
    assert frame[header : header + 4] == MASK
    assert unmask(frame) == (wire.OP_TEXT, True, payload)
    if size:
        assert frame[header + 4 :] != payload


def test_masks_are_random_and_change_per_frame() -> None:
    frames = [wire.encode(wire.OP_TEXT, b"[2]") for _ in range(2000)]  # crosses a refill
    masks = {frame[2:6] for frame in frames}
    assert len(masks) > 1990
    assert all(unmask(frame)[2] == b"[2]" for frame in frames)


def test_the_python_mask_matches_the_c_one() -> None:
    for size in (0, 1, 3, 4, 5, 900, 4097):
        data = bytes((i * 7) % 256 for i in range(size))
        assert wire._apply_mask_python(data, MASK) == wire.apply_mask(data, MASK)


def test_a_non_final_frame_and_close_payloads() -> None:
    assert unmask(wire.encode(wire.OP_TEXT, b"ab", MASK, fin=False)) == (1, False, b"ab")
    assert wire.close_payload(1000) == b"\x03\xe8"
    assert wire.parse_close(b"\x03\xe9bye") == (1001, "bye")
    assert wire.parse_close(b"") == (wire.CLOSE_NO_STATUS, "")
    with pytest.raises(wire.ProtocolError):
        wire.parse_close(b"\x03")


# -- server frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 5, 125, 126, 1000, 65535, 65536, 300_000])
def test_reader_decodes_7_16_and_64_bit_lengths(size: int) -> None:
    payload = b"x" * size
    reader = wire.FrameReader()
    assert reader.feed(server_frame(wire.OP_TEXT, payload)) == [(wire.OP_TEXT, payload)]


def test_reader_reassembles_a_stream_cut_anywhere() -> None:
    stream = (
        server_frame(wire.OP_TEXT, b"a" * 3)
        + server_frame(wire.OP_BINARY, b"b" * 300)
        + server_frame(wire.OP_TEXT, b"c" * 70_000)
        + server_frame(wire.OP_PING, b"p")
    )
    expected = [
        (wire.OP_TEXT, b"a" * 3),
        (wire.OP_BINARY, b"b" * 300),
        (wire.OP_TEXT, b"c" * 70_000),
        (wire.OP_PING, b"p"),
    ]
    for step in (1, 2, 3, 7, 1000, len(stream)):
        reader = wire.FrameReader()
        events = []
        for at in range(0, len(stream), step):
            events += reader.feed(stream[at : at + step])
        assert events == expected, step


def test_reader_joins_fragments_and_passes_control_frames_between_them() -> None:
    reader = wire.FrameReader()
    events = reader.feed(
        server_frame(wire.OP_TEXT, b"[3,", fin=False)
        + server_frame(wire.OP_PING, b"hi")
        + server_frame(wire.OP_CONTINUATION, b'"1",', fin=False)
    )
    assert events == [(wire.OP_PING, b"hi")]
    assert reader.feed(server_frame(wire.OP_CONTINUATION, b"{}]")) == [
        (wire.OP_TEXT, b'[3,"1",{}]')
    ]
    assert reader.feed(server_frame(wire.OP_TEXT, b"next")) == [(wire.OP_TEXT, b"next")]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (server_frame(wire.OP_CONTINUATION, b"x"), 1002),  # nothing to continue
        (server_frame(wire.OP_TEXT, b"a", fin=False) + server_frame(wire.OP_TEXT, b"b"), 1002),
        (server_frame(wire.OP_PING, b"x", fin=False), 1002),  # fragmented control frame
        (server_frame(wire.OP_PING, b"x" * 126), 1002),
        (server_frame(0x3, b""), 1002),  # reserved opcode
        (bytes((0xC1, 0)), 1002),  # RSV1 without an extension
        (bytes((0x81, 0x81)) + MASK + b"x", 1002),  # masked server frame
        (server_frame(wire.OP_TEXT, b"x" * 1001), 1009),
        (server_frame(wire.OP_TEXT, b"x" * 600, fin=False) + server_frame(0, b"x" * 600), 1009),
    ],
)
def test_reader_refuses_what_rfc_6455_forbids(data: bytes, code: int) -> None:
    with pytest.raises(wire.ProtocolError) as caught:
        wire.FrameReader(max_size=1000).feed(data)
    assert caught.value.code == code
