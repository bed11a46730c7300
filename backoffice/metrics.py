"""Prometheus metrics of one backoffice app (its own registry, so apps never collide)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms.cluster.registry import NodeInfo

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
