"""Prometheus metrics of one backoffice app (its own registry, so apps never collide)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms.cluster.registry import NodeInfo

log = logging.getLogger(__name__)

REFRESH_TIMEOUT = 5.0
Refresher = Callable[[], Awaitable[None]]
"""Sets gauges from what it reads (the database, Redis) before a scrape renders."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BREAKER_STATES = ("closed", "open", "half-open")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "csms_backoffice_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "csms_backoffice_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commands = Counter(
            "csms_backoffice_commands",
            "Charger commands by command and outcome (ok or the error code)",
            ["command", "outcome"],
            registry=r,
        )
        self.command_latency = Histogram(
            "csms_backoffice_command_duration_seconds",
            "Charger command round trips by command",
            ["command"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.logins = Counter(
            "csms_backoffice_logins", "Login attempts by outcome", ["outcome"], registry=r
        )
        self.rate_limited = Counter(
            "csms_backoffice_rate_limited",
            "Requests refused with 429 by a rate limit, by limit (login, refresh)",
            ["limit"],
            registry=r,
        )
        for limit in ("login", "refresh"):
            self.rate_limited.labels(limit)
        self.event_streams = Gauge(
            "csms_backoffice_event_streams", "Open Server-Sent Events streams", registry=r
        )
        self.breaker_state = Gauge(
            "csms_backoffice_breaker_state",
            "1 for the current state of this process's circuit breaker of each node",
            ["node", "state"],
            registry=r,
        )
        self.live_nodes = Gauge(
            "csms_cluster_live_nodes", "Nodes with a live heartbeat", registry=r
        )
        self.node_chargers = Gauge(
            "csms_cluster_node_chargers",
            "Chargers connected to each live node",
            ["node"],
            registry=r,
        )

        # scrape-time gauges (refreshed by the refreshers before /metrics renders)
        self._refreshers: list[Refresher] = []
        self.queue_depth = Gauge(
            "csms_worker_queue_depth",
            "Jobs waiting (queued) or running (picked) in the worker queue, by entrypoint",
            ["entrypoint", "status"],
            registry=r,
        )
        self.queue_oldest = Gauge(
            "csms_worker_queue_oldest_due_seconds",
            "How long the oldest due job of each entrypoint has waited in the queue",
            ["entrypoint"],
            registry=r,
        )
        self.dependency_up = Gauge(
            "csms_dependency_up",
            "1 while the dependency (postgres, redis) answers a ping within the probe timeout",
            ["dependency"],
            registry=r,
        )
        self.dependency_latency = Gauge(
            "csms_dependency_latency_seconds",
            "Round trip of the last ping of the dependency (absent while it is down)",
            ["dependency"],
            registry=r,
        )
        self.nodes_alive = Gauge(
            "csms_nodes_alive", "Nodes whose registry heartbeat is live", registry=r
        )
        self.node_messages = Gauge(
            "csms_cluster_node_messages_per_second",
            "OCPP messages per second of each live node, as its last heartbeat reported",
            ["node"],
            registry=r,
        )
        self.node_heartbeat_age = Gauge(
            "csms_cluster_node_heartbeat_age_seconds",
            "Seconds since each live node's last registry heartbeat",
            ["node"],
            registry=r,
        )
        self.cluster_breakers = Gauge(
            "csms_cluster_breakers",
            "Circuit breakers of every backoffice replica (as reported to Redis), by node "
            "and state",
            ["node", "state"],
            registry=r,
        )
        self.alarms_open = Gauge(
            "csms_alarms_open", "Open alarms by severity", ["severity"], registry=r
        )
        self.webhook_deliveries = Gauge(
            "csms_webhook_deliveries",
            "Webhook deliveries by state (pending, delivered, failed, dead...)",
            ["state"],
            registry=r,
        )

    def add_refresher(self, refresher: Refresher) -> None:
        """Await ``refresher`` before every scrape renders (see :meth:`refresh`)."""
        self._refreshers.append(refresher)

    async def refresh(self, timeout: float = REFRESH_TIMEOUT) -> None:
        """Run every refresher at once, each cut off after ``timeout`` seconds: a slow
        database leaves its gauges as they were instead of hanging the scrape. Never raises
        (but for cancellation)."""

        async def bounded(refresher: Refresher) -> None:
            try:
                async with asyncio.timeout(timeout):
                    await refresher()
            except Exception as exc:  # a scrape must answer; log what it could not refresh
                log.warning("metrics refresh failed (%s): %s", type(exc).__name__, exc)

        await asyncio.gather(*(bounded(r) for r in self._refreshers))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_command(self, command: str, outcome: str, seconds: float) -> None:
        self.commands.labels(command, outcome).inc()
        self.command_latency.labels(command).observe(seconds)

    def set_cluster(self, nodes: list[NodeInfo], breakers: dict[str, str]) -> None:
        """Refresh the cluster gauges (called on every scrape)."""
        self.live_nodes.set(len(nodes))
        self.node_chargers.clear()
        for node in nodes:
            self.node_chargers.labels(node.node_id).set(node.connections)
        self.breaker_state.clear()
        for name, current in breakers.items():
            for state in BREAKER_STATES:
                self.breaker_state.labels(name, state).set(1 if state == current else 0)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (never the raw path, so
    ids do not explode the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - started
            )
