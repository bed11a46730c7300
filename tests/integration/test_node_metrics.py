"""GET /metrics on a node's OCPP port: Prometheus text with connections and messages."""

from __future__ import annotations

import asyncio
import urllib.request

from csms.node.server import Node
from simulators.station import Station, StationConfig
from tests.integration.conftest import RegisterCharger


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return response.status, response.read().decode()


async def test_metrics_count_connections_and_messages(
    node: Node, url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    station = Station(
        StationConfig(url=url, charge_point_id=charger.charge_point_id, password=charger.password)
    )
    await station.connect()
    await station.boot()
    await station.heartbeat()
    status, text = await asyncio.to_thread(_get, f"http://127.0.0.1:{node.port}/metrics")
    await station.disconnect()
    assert status == 200
    assert "csms_node_connected_chargers 1.0" in text
    assert 'csms_ocpp_messages_total{action="Heartbeat",direction="in"} 1.0' in text
    assert 'csms_ocpp_handler_seconds_count{action="BootNotification"} 1.0' in text


async def test_health_answers_plain_http(node: Node) -> None:
    status, text = await asyncio.to_thread(_get, f"http://127.0.0.1:{node.port}/health")
    assert (status, text) == (200, "ok\n")
