"""GET /metrics, /health and /ready on a node's OCPP port."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from simulators.station import Station, StationConfig
from tests.e2e.cluster import RedisServer
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
    # the process's garbage-collector pauses, per generation (the event loop stood still)
    assert 'csms_gc_pause_seconds_count{generation="2"}' in text
    assert 'csms_gc_pause_max_seconds{generation="0"}' in text


async def test_health_answers_plain_http(node: Node) -> None:
    status, text = await asyncio.to_thread(_get, f"http://127.0.0.1:{node.port}/health")
    assert (status, text) == (200, "ok\n")


def _get_status(url: str) -> tuple[int, str]:
    """Like ``_get``, but a 503 is an answer too."""
    try:
        return _get(url)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_ready_when_postgres_answers(node: Node) -> None:
    status, text = await asyncio.to_thread(_get_status, f"http://127.0.0.1:{node.port}/ready")
    assert (status, json.loads(text)) == (200, {"status": "ready", "postgres": "ok"})


async def test_ready_follows_redis(database_url: str, prefix: str, tmp_path: Path) -> None:
    """A node of a cluster is ready only while Redis answers too (a Kubernetes readiness
    probe: docs/topics/deployment.md)."""
    settings = NodeSettings(
        host="127.0.0.1", port=0, node_id=f"ready-{secrets.token_hex(3)}", redis_prefix=prefix
    )
    async with RedisServer(tmp_path) as redis_server:
        async with running_node(settings, database_url, redis_server.url) as node:
            url = f"http://127.0.0.1:{node.port}/ready"
            status, text = await asyncio.to_thread(_get_status, url)
            assert (status, json.loads(text)) == (
                200,
                {"status": "ready", "postgres": "ok", "redis": "ok"},
            )
            await redis_server.kill()
            status, text = await asyncio.to_thread(_get_status, url)
            assert (status, json.loads(text)) == (
                503,
                {"status": "unavailable", "postgres": "ok", "redis": "unavailable"},
            )
            await redis_server.start()
            status, _ = await asyncio.to_thread(_get_status, url)
            assert status == 200
