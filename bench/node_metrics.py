"""Read a node's /metrics during a bench run (what the node says about itself)."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class GcFigures:
    """Garbage-collector pauses of the node's process so far (csms_gc_pause_*)."""

    seconds: float = 0.0
    count: int = 0
    longest: float = 0.0  # since the process started
    over_100ms: int = 0  # passes that held the event loop more than 100 ms

    def since(self, before: GcFigures) -> GcFigures:
        return GcFigures(
            self.seconds - before.seconds,
            self.count - before.count,
            self.longest,
            self.over_100ms - before.over_100ms,
        )

    def describe(self) -> str:
        return (
            f"{self.seconds:.2f} s in {self.count} passes, {self.over_100ms} over 100 ms "
            f"(longest since start {self.longest * 1000:.0f} ms)"
        )


def gc_pauses(ws_url: str) -> GcFigures:
    """The node serving ``ws_url`` (ws://host:port/...): its /metrics on the same port."""
    parts = urlsplit(ws_url)
    request = urllib.request.Request(f"http://{parts.hostname}:{parts.port}/metrics")
    token = os.environ.get("CSMS_METRICS_TOKEN")
    if token:  # the node the bench started has it too: it serves /metrics only with it
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a local node)
        text = response.read().decode()
    seconds, count, longest, within = 0.0, 0, 0.0, 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "csms_gc_pause_seconds_sum":
                seconds += sample.value
            elif sample.name == "csms_gc_pause_seconds_count":
                count += int(sample.value)
            elif sample.name == "csms_gc_pause_seconds_bucket" and sample.labels["le"] == "0.1":
                within += int(sample.value)
            elif sample.name == "csms_gc_pause_max_seconds":
                longest = max(longest, sample.value)
    return GcFigures(seconds, count, longest, count - within)
