"""A connection flood from one source address, as a process of its own.

``python -m tests.integration.flood --port P --source 127.0.0.2 --seconds 5`` opens TCP
connections to 127.0.0.1:P from ``--source`` as fast as ``--concurrency`` workers can, for
``--seconds`` (bounded in time and count: loopback only), in four kinds by turn: connect and
close at once; connect and send half an HTTP request, then hold it (slowloris, up to
``MAX_HELD`` at once, beside the workers); ask to upgrade to an unknown charger; ask to
upgrade as ``--charger`` with a wrong password (an Argon2 verification on the node). It
prints one JSON line of counts at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import sys
import time

HALF_REQUEST = b"GET /ocpp/FLOOD-HALF HTTP/1.1\r\nHost: node\r\n"
UPGRADE = (
    b"GET /ocpp/FLOOD-UNKNOWN HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
)
HOLD_SECONDS = 5.0
MAX_HELD = 2000
MAX_CONNECTIONS = 200_000


def wrong_password(charge_point_id: str) -> bytes:
    token = base64.b64encode(f"{charge_point_id}:not-the-password-0000".encode()).decode()
    return UPGRADE.replace(b"FLOOD-UNKNOWN", charge_point_id.encode()).replace(
        b"\r\n\r\n", f"\r\nAuthorization: Basic {token}\r\n\r\n".encode()
    )


class Flood:
    def __init__(self, port: int, source: str, seconds: float, charger: str | None) -> None:
        self.port = port
        self.source = source
        self.end = time.monotonic() + seconds
        self.requests = [b"", HALF_REQUEST, UPGRADE]
        if charger:
            self.requests.append(wrong_password(charger))
        self.counts = dict.fromkeys(("attempts", "refused", "reset", "answered", "closed"), 0)
        self.held: set[asyncio.Task[None]] = set()

    async def attempt(self, kind: int) -> None:
        self.counts["attempts"] += 1
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(self.source, 0)
            )
        except OSError:
            self.counts["refused"] += 1
            return
        if kind == 1 and len(self.held) < MAX_HELD:  # slowloris: held beside the workers
            task = asyncio.create_task(self.answer(reader, writer, self.requests[kind]))
            self.held.add(task)
            task.add_done_callback(self.held.discard)
        else:
            await self.answer(reader, writer, self.requests[kind])

    async def answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> None:
        try:
            if request:
                writer.write(request)
                await writer.drain()
                left = max(0.0, min(HOLD_SECONDS, self.end - time.monotonic()))
                async with asyncio.timeout(left):
                    data = await reader.read(64)
                self.counts["answered" if data else "reset"] += 1
            else:
                self.counts["closed"] += 1
        except (OSError, TimeoutError):
            self.counts["reset"] += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def run(self, concurrency: int) -> dict[str, int]:
        kinds = itertools.cycle(range(len(self.requests)))

        async def worker() -> None:
            while time.monotonic() < self.end and self.counts["attempts"] < MAX_CONNECTIONS:
                await self.attempt(next(kinds))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await asyncio.gather(*self.held)
        return self.counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", default="127.0.0.2")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--charger", help="a registered charger id to fail to log in as")
    args = parser.parse_args()
    flood = Flood(args.port, args.source, args.seconds, args.charger)
    counts = asyncio.run(flood.run(args.concurrency))
    sys.stdout.write(json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
