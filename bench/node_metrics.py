"""Read a node's /metrics during a bench run (what the node says about itself)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class GcFigures:
    """Garbage-collector pauses of the node's process so far (csms_gc_pause_*)."""

    seconds: float = 0.0
    count: int = 0
    longest: float = 0.0

    def since(self, before: GcFigures) -> GcFigures:
        # the longest pause is since the process started, not a difference
        return GcFigures(self.seconds - before.seconds, self.count - before.count, self.longest)

    def describe(self) -> str:
        return f"{self.seconds:.2f} s in {self.count} passes, longest {self.longest * 1000:.0f} ms"


def gc_pauses(ws_url: str) -> GcFigures:
    """The node serving ``ws_url`` (ws://host:port/...): its /metrics on the same port."""
    parts = urlsplit(ws_url)
    with urllib.request.urlopen(  # noqa: S310 (a local node)
        f"http://{parts.hostname}:{parts.port}/metrics", timeout=10
    ) as response:
        text = response.read().decode()
    seconds, count, longest = 0.0, 0, 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "csms_gc_pause_seconds_sum":
                seconds += sample.value
            elif sample.name == "csms_gc_pause_seconds_count":
                count += int(sample.value)
            elif sample.name == "csms_gc_pause_max_seconds":
                longest = max(longest, sample.value)
    return GcFigures(seconds, count, longest)
