"""Prometheus metrics of a node, served as text at ``GET /metrics`` on the OCPP port.

One registry per node (tests run several nodes in one process). Children are cached per
label so the hot path does a dict lookup and an increment, not a label resolution.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from csms.node.collector import GcPauseCollector, gc_pauses
from csms.node.limits import LIMITS

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class NodeMetrics:
    def __init__(self, connected: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(GcPauseCollector(gc_pauses()))
        gauge = Gauge(
            "csms_node_connected_chargers",
            "Charger sockets open on this node",
            registry=self.registry,
        )
        gauge.set_function(lambda: float(connected()))
        self._messages = Counter(
            "csms_ocpp_messages_total",
            "OCPP frames by direction (in: from chargers) and action",
            ["direction", "action"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "csms_ocpp_handler_seconds",
            "Time from a charger's CALL to our answer, by action",
            ["action"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._commands = Counter(
            "csms_command_outcomes_total",
            "Bus commands served by this node, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self._limited = Counter(
            "csms_node_limited",
            "Connections, messages and calls refused by an abuse limit, by limit",
            ["limit"],
            registry=self.registry,
        )
        self._limited_children = {limit: self._limited.labels(limit) for limit in LIMITS}
        self.limited_counts = dict.fromkeys(LIMITS, 0)  # the same, for tests and logs
        self._refused = Counter(
            "csms_node_refused_connections_total",
            "Connections refused for security: downgrade, certificate (CN/O), "
            "tls_certificate and tls_protocol (TLS handshake), proxy and headers (claims "
            "from an untrusted address), profile (below CSMS_MIN_SECURITY_PROFILE)",
            ["reason"],
            registry=self.registry,
        )
        self._message_children: dict[tuple[str, str], Counter] = {}
        self.messages_total = 0  # every message() so far: the heartbeat's messages/s
        self._latency_children: dict[str, Histogram] = {}

    def message(self, direction: str, action: str) -> None:
        self.messages_total += 1
        key = (direction, action)
        child = self._message_children.get(key)
        if child is None:
            child = self._messages.labels(direction, action)
            self._message_children[key] = child
        child.inc()

    def handled(self, action: str, seconds: float) -> None:
        child = self._latency_children.get(action)
        if child is None:
            child = self._latency.labels(action)
            self._latency_children[action] = child
        child.observe(seconds)

    def command(self, outcome: str) -> None:
        self._commands.labels(outcome).inc()

    def limited(self, limit: str) -> None:
        """Something was refused by ``limit`` (one of ``csms.node.limits.LIMITS``)."""
        self._limited_children[limit].inc()
        self.limited_counts[limit] += 1

    def refused(self, reason: str) -> None:
        self._refused.labels(reason).inc()

    def render(self) -> str:
        return generate_latest(self.registry).decode()
