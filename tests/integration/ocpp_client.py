"""A tiny raw OCPP-J client for integration tests: frames in, frames out, nothing clever.

It speaks to a real node over a real WebSocket and never hides what the node answered, so a
test can assert on every element of a CALLRESULT or CALLERROR. Every wait is bounded by
:data:`timeouts.TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import itertools
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from timeouts import TIMEOUT
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings

OCPP16 = "ocpp1.6"
OCPP201 = "ocpp2.0.1"

CALL, CALLRESULT, CALLERROR = 2, 3, 4

Frame = list[Any]
# The ``register_charger`` / ``register_token`` fixtures of tests/integration/conftest.py.
RegisterCharger = Callable[..., Awaitable[Any]]
RegisterToken = Callable[..., Awaitable[str]]


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic auth (OCPP security profile 1)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


class OcppClient:
    """One charger's socket: send a CALL or raw text, read the next frame."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self._ids = itertools.count(1)

    @property
    def subprotocol(self) -> str | None:
        return self.websocket.subprotocol

    def next_id(self) -> str:
        return f"m{next(self._ids)}"

    async def recv(self) -> Frame:
        """The next frame the node sends, decoded."""
        text = await asyncio.wait_for(self.websocket.recv(), TIMEOUT)
        frame = json.loads(text)
        assert isinstance(frame, list), frame
        return frame

    async def send_raw(self, text: str | bytes) -> Frame:
        """Send one text frame exactly as given and return the node's next frame."""
        await self.send_only(text)
        return await self.recv()

    async def send_only(self, text: str | bytes) -> None:
        """Send one text frame and expect no reply (read nothing)."""
        data = text.decode() if isinstance(text, bytes) else text
        await asyncio.wait_for(self.websocket.send(data), TIMEOUT)

    async def call(
        self, action: str, payload: dict[str, Any], *, message_id: str | None = None
    ) -> Frame:
        """Send a CALL and return the reply frame (CALLRESULT or CALLERROR) to it."""
        message_id = message_id or self.next_id()
        reply = await self.send_raw(json.dumps([CALL, message_id, action, payload]))
        assert reply[1] == message_id, reply
        return reply

    async def result(self, action: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        """The CALLRESULT payload of a CALL; fails the test on a CALLERROR."""
        reply = await self.call(action, payload, **kwargs)
        assert reply[0] == CALLRESULT, reply
        return reply[2]

    async def close(self) -> None:
        await asyncio.wait_for(self.websocket.close(), TIMEOUT)

    async def wait_closed(self) -> int | None:
        """Wait until the node closes the socket; the close code it sent."""
        await asyncio.wait_for(self.websocket.wait_closed(), TIMEOUT)
        return self.websocket.close_code


@contextlib.asynccontextmanager
async def ocpp_connect(
    url: str,
    charge_point_id: str,
    *,
    password: str | None = None,
    username: str | None = None,
    subprotocols: Sequence[str] = (OCPP16,),
    path: str | None = None,
) -> AsyncIterator[OcppClient]:
    """Open ``{url}/{charge_point_id}`` (or ``{url}/{path}``) as a charger would."""
    headers = basic_auth(username or charge_point_id, password) if password is not None else {}
    websocket = await connect(
        f"{url}/{path if path is not None else charge_point_id}",
        subprotocols=[Subprotocol(s) for s in subprotocols] or None,
        additional_headers=headers,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
    )
    client = OcppClient(websocket)
    try:
        yield client
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def own_node(database_url: str, **settings: Any) -> AsyncIterator[Node]:
    """A node on port 0 with its own settings, for tests the shared ``node`` cannot serve."""
    node_settings = NodeSettings(
        host="127.0.0.1", port=0, node_id=f"test-{secrets.token_hex(3)}", **settings
    )
    async with running_node(node_settings, database_url) as node:
        yield node


def ws_url(node: Node) -> str:
    return f"ws://127.0.0.1:{node.port}/ocpp"


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = TIMEOUT, interval: float = 0.01
) -> Any:
    """Poll ``check`` until it returns something truthy (for writes batched in the
    background, which nothing can await); its last value, or AssertionError at ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


def boot_16(vendor: str = "Acme", model: str = "Wallbox", **extra: str) -> dict[str, Any]:
    """A 1.6 BootNotification.req."""
    return {"chargePointVendor": vendor, "chargePointModel": model, **extra}


def boot_201(vendor: str = "Acme", model: str = "Wallbox", **station: str) -> dict[str, Any]:
    """A 2.0.1 BootNotificationRequest."""
    return {
        "reason": "PowerUp",
        "chargingStation": {"vendorName": vendor, "model": model, **station},
    }


def boot_payload(subprotocol: str) -> dict[str, Any]:
    return boot_16() if subprotocol == OCPP16 else boot_201()


async def booted(client: OcppClient) -> OcppClient:
    """Send the BootNotification of the client's version; it must be Accepted."""
    assert client.subprotocol is not None
    result = await client.result("BootNotification", boot_payload(client.subprotocol))
    assert result["status"] == "Accepted", result
    return client


@dataclasses.dataclass(frozen=True)
class Connected:
    """A booted charger of a Fleet."""

    charge_point_id: str
    client: OcppClient


class Fleet:
    """Booted chargers for one test, each on its own socket; all closed at the end."""

    def __init__(
        self, url: str, register_charger: RegisterCharger, stack: contextlib.AsyncExitStack
    ) -> None:
        self._url = url
        self._register = register_charger
        self._stack = stack

    async def open(self, subprotocol: str = OCPP16, **registration: Any) -> Connected:
        charger = await self._register(**registration)
        client = await self._stack.enter_async_context(
            ocpp_connect(
                self._url,
                charger.charge_point_id,
                password=charger.password,
                subprotocols=[subprotocol],
            )
        )
        return Connected(charger.charge_point_id, await booted(client))
