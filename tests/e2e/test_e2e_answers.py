"""A charger's answer to a command counts even when the charger closes right after it.

A charger that accepts a Reset reboots at once (OCPP 1.6 section 5.14, 2.0.1 B11/B12): it
answers, and closes its socket, often with one of its own CALLs (a StatusNotification)
still being handled by the node. Frames arrive in order, so the CALLRESULT is received
before the close frame, and the caller must get the charger's answer, not "disconnected
during the call". The charger here is a raw WebSocket client, so the order of its frames
is exactly what the test says.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from csms.cluster.bus import CommandClient
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import COMMAND_TIMEOUT, PASSWORD, register_chargers
from tests.timeouts import TIMEOUT

BOOT = {"chargePointVendor": "RawVendor", "chargePointModel": "RawModel"}
AVAILABLE = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}


async def receive(websocket: ClientConnection) -> list[Any]:
    async with asyncio.timeout(TIMEOUT):
        frame = json.loads(await websocket.recv())
    assert isinstance(frame, list), frame
    return frame


async def test_an_answer_followed_at_once_by_a_close_still_reaches_the_caller(
    cluster: Cluster, pool: asyncpg.Pool, client: CommandClient
) -> None:
    (node,) = await cluster.start("n1")
    (cp,) = await register_chargers(pool, 1)
    token = base64.b64encode(f"{cp}:{PASSWORD}".encode()).decode()
    async with connect(
        f"{node.url}/{cp}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers={"Authorization": f"Basic {token}"},
        open_timeout=TIMEOUT,
    ) as websocket:
        await websocket.send(json.dumps([2, "boot-1", "BootNotification", BOOT]))
        assert (await receive(websocket))[2]["status"] == "Accepted"

        reset = asyncio.create_task(
            client.send(cp, "reset", {"type": "soft"}, timeout=COMMAND_TIMEOUT)
        )
        call = await receive(websocket)
        assert call[:3] == [2, call[1], "Reset"], call
        # the reboot: a status report of its own, the answer, the close; back to back
        await websocket.send(json.dumps([2, "status-1", "StatusNotification", AVAILABLE]))
        await websocket.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        await websocket.close()
        result = await reset
    assert (result["action"], result["response"]) == ("Reset", {"status": "Accepted"})
