"""Behind a TLS-terminating load balancer: the client certificate's identity is believed
from PROXY protocol v2 TLVs or X-SSL-* headers only when they come from an address in
CSMS_TRUSTED_PROXIES; and the node's /metrics takes the scrape token."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from csms.node import proxy
from csms.node.proxy import ClientTls
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from tests.integration.conftest import RegisterCharger
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration

CHARGER_ADDRESS = ("203.0.113.7", 50123)  # what the proxy says the charger connected from
BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


@contextlib.asynccontextmanager
async def proxied_node(database_url: str, **overrides: Any) -> AsyncIterator[Node]:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "node_id": f"proxied-{secrets.token_hex(3)}",
        "proxy_mode": "proxy-v2",
        "trusted_proxies": "127.0.0.1/32",
    }
    values.update(overrides)
    async with running_node(NodeSettings(**values), database_url) as node:
        yield node


def basic(charge_point_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def through_proxy(
    node: Node,
    charge_point_id: str,
    header: bytes | None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[ClientConnection]:
    """A WebSocket to the node whose first bytes are ``header`` (what HAProxy sends)."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=TIMEOUT)
    if header is not None:
        sock.sendall(header)
    sock.setblocking(False)
    async with connect(
        f"ws://127.0.0.1:{node.port}/ocpp/{charge_point_id}",
        sock=sock,
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers=headers or {},
        open_timeout=TIMEOUT,
        proxy=None,
    ) as websocket:
        yield websocket


async def boot(websocket: ClientConnection) -> str:
    await websocket.send(orjson.dumps([2, "1", "BootNotification", BOOT]).decode())
    answer = orjson.loads(await websocket.recv())
    assert answer[0] == 3, answer
    return str(answer[2]["status"])


def header(tls: ClientTls | None, node: Node) -> bytes:
    return proxy.encode(CHARGER_ADDRESS, ("127.0.0.1", node.port), tls=tls)


async def state(node: Node, charge_point_id: str) -> tuple[int, int | None]:
    found = await node.services.security_profiles.state(charge_point_id)
    return found.minimum, found.last_profile


def refused(node: Node, reason: str) -> float:
    assert node.deps.metrics is not None
    for line in node.deps.metrics.render().splitlines():
        if line.startswith(f'csms_node_refused_connections_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_proxy_v2_from_a_trusted_proxy_proves_profile_3(
    database_url: str, register_charger: RegisterCharger
) -> None:
    """HAProxy verified the client certificate (PP2_TYPE_SSL: verify 0, CN = the charge
    point id): profile 3 without a password (A00.FR.401-405 checked at the proxy)."""
    cp = (await register_charger()).charge_point_id
    tls = ClientTls("TLSv1.3", certificate=True, verified=True, common_names=(cp,))
    async with proxied_node(database_url) as node:
        async with through_proxy(node, cp, header(tls, node)) as websocket:
            assert await boot(websocket) == "Accepted"
            assert await state(node, cp) == (3, 3)


async def test_proxy_v2_from_an_untrusted_address_is_refused(
    database_url: str, register_charger: RegisterCharger
) -> None:
    """Whoever reaches the node directly cannot claim a client certificate."""
    cp = (await register_charger()).charge_point_id
    tls = ClientTls("TLSv1.3", certificate=True, verified=True, common_names=(cp,))
    async with proxied_node(database_url, trusted_proxies="10.255.0.1/32") as node:
        with pytest.raises((InvalidHandshake, OSError, EOFError)):
            async with through_proxy(node, cp, header(tls, node)):
                pass
        assert refused(node, "proxy") == 1
        assert cp not in node.connections
        assert await state(node, cp) == (0, None)


async def test_proxy_v2_without_tls_is_basic_auth_and_a_cn_mismatch_is_refused(
    database_url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    cp = charger.charge_point_id
    assert charger.password is not None
    async with proxied_node(database_url) as node:
        # the proxy's plain frontend: no SSL TLV, HTTP Basic: profile 1
        async with through_proxy(node, cp, header(None, node), basic(cp, charger.password)) as ws:
            assert await boot(ws) == "Accepted"
        assert await state(node, cp) == (1, 1)
        # TLS at the proxy with the password: profile 2
        tls = ClientTls("TLSv1.2", certificate=False, verified=False, common_names=())
        async with through_proxy(node, cp, header(tls, node), basic(cp, charger.password)):
            pass
        assert await state(node, cp) == (2, 2)
        # another charger's certificate (A00.FR.405)
        other = ClientTls("TLSv1.3", certificate=True, verified=True, common_names=("CP-X",))
        with pytest.raises(InvalidStatus) as refusal:
            async with through_proxy(node, cp, header(other, node)):
                pass
        assert refusal.value.response.status_code == 403
        # a certificate the proxy could not verify, and TLS below 1.2 (A00.FR.313)
        unverified = ClientTls("TLSv1.3", certificate=True, verified=False, common_names=(cp,))
        old = ClientTls("TLSv1.1", certificate=False, verified=False, common_names=())
        for tls in (unverified, old):
            with pytest.raises(InvalidStatus) as refusal:
                async with through_proxy(node, cp, header(tls, node), basic(cp, charger.password)):
                    pass
            assert refusal.value.response.status_code == 403


async def test_a_direct_connection_and_the_proxys_health_check_still_work(
    database_url: str, register_charger: RegisterCharger
) -> None:
    """Without a PROXY header a connection is what its own socket proves (plain: profile
    1 at most); a LOCAL header (HAProxy's health checks) gets /health."""
    charger = await register_charger()
    cp = charger.charge_point_id
    assert charger.password is not None
    async with proxied_node(database_url) as node:
        async with through_proxy(node, cp, None, basic(cp, charger.password)) as ws:
            assert await boot(ws) == "Accepted"
        assert await state(node, cp) == (1, 1)
        local = proxy.SIGNATURE + bytes([0x20, 0x00, 0x00, 0x00])
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        try:
            writer.write(local + b"GET /health HTTP/1.1\r\nHost: node\r\n\r\n")
            async with asyncio.timeout(TIMEOUT):
                assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        finally:
            writer.close()


async def test_x_ssl_headers_from_a_trusted_hop_only(
    database_url: str, register_charger: RegisterCharger
) -> None:
    """CSMS_PROXY_MODE=headers: an HTTP proxy's X-SSL-* headers are believed from a trusted
    address (profile 3, with the O checked: A00.FR.404), refused from any other."""
    cp = (await register_charger()).charge_point_id
    headers = {
        proxy.HEADER_PROTOCOL: "TLSv1.3",
        proxy.HEADER_VERIFY: "0",
        proxy.HEADER_CN: cp,
        proxy.HEADER_O: "Test CSO",
    }
    options = {"proxy_mode": "headers", "tls_client_organization": "Test CSO"}
    async with proxied_node(database_url, **options) as node:
        async with through_proxy(node, cp, None, headers) as ws:
            assert await boot(ws) == "Accepted"
        assert await state(node, cp) == (3, 3)
        with pytest.raises(InvalidStatus) as refusal:
            async with through_proxy(node, cp, None, {**headers, proxy.HEADER_O: "Other"}):
                pass
        assert refusal.value.response.status_code == 403
    async with proxied_node(database_url, trusted_proxies="10.255.0.1", **options) as node:
        with pytest.raises(InvalidStatus) as refusal:
            async with through_proxy(node, cp, None, headers):
                pass
        assert refusal.value.response.status_code == 403
        assert refused(node, "headers") == 1


# -- the node's /metrics --------------------------------------------------------------------


async def test_node_metrics_need_the_scrape_token(database_url: str) -> None:
    token = secrets.token_urlsafe(24)
    async with proxied_node(database_url, proxy_mode="off", metrics_token=token) as node:
        url = f"http://127.0.0.1:{node.port}/metrics"
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            anonymous = await client.get(url)
            assert anonymous.status_code == 401
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
            wrong = await client.get(url, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            scraped = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert scraped.status_code == 200
            assert "csms_node_connected_chargers" in scraped.text
            assert (await client.get(f"http://127.0.0.1:{node.port}/health")).status_code == 200


async def test_node_metrics_are_off_in_production_without_a_token(database_url: str) -> None:
    async with proxied_node(database_url, proxy_mode="off", env="production") as node:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(f"http://127.0.0.1:{node.port}/metrics")
        assert response.status_code == 404
        assert "csms_" not in response.text
