"""Start the fleet's processes, show a live status line, return the totals."""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import sys
import time
from typing import Any, TextIO

from simulators.fleet.stats import Stats
from simulators.fleet.worker import FleetProfile, worker_main


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def run_fleet(profile: FleetProfile, *, status: TextIO | None = sys.stderr) -> dict[str, Any]:
    """Run the whole fleet to completion; return a summary (rates, percentiles, errors)."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[Stats] = context.Queue()
    processes = max(1, min(profile.processes, profile.chargers))
    start_at = time.monotonic() + 1.0 + 0.2 * processes  # time to spawn and import
    workers = []
    for p in range(processes):
        indexes = range(p, profile.chargers, processes)
        worker = context.Process(
            target=worker_main, args=(profile, indexes, results, start_at), daemon=True
        )
        worker.start()
        workers.append(worker)
    total = Stats()
    window = Stats()
    window_started = time.monotonic()
    peak_connected = 0
    try:
        while any(w.is_alive() for w in workers) or not results.empty():
            try:
                delta = results.get(timeout=0.5)
            except queue_module.Empty:
                continue
            total.merge(delta)
            window.merge(delta)
            peak_connected = max(peak_connected, total.connected)
            elapsed = time.monotonic() - window_started
            if elapsed >= 1.0 and status is not None:
                status.write(
                    f"\rconnected {total.connected:>6}/{profile.chargers}  "
                    f"msg/s {window.answered / elapsed:>7.0f}  "
                    f"errors {total.call_errors + total.timeouts + total.connect_failures:>4}  "
                    f"p50 {_ms(Stats.percentile(window.histogram, 0.5))} ms  "
                    f"p99 {_ms(Stats.percentile(window.histogram, 0.99))} ms   "
                )
                status.flush()
                window = Stats()
                window_started = time.monotonic()
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
        if status is not None:
            status.write("\n")
    return {
        "chargers": profile.chargers,
        "peak_connected": peak_connected,
        "connect_failures": total.connect_failures,
        "disconnects": total.disconnects,
        "boots": total.boots,
        # from the first BootNotification answered to the last, and the connection attempts
        # started (what the fleet offered), each over the fleet's processes
        "boot_window_s": total.boot.seconds,
        "connect_window_s": total.connect.seconds,
        "boot_p50_ms": _ms(Stats.percentile(total.boot_histogram, 0.5)),
        "boot_p99_ms": _ms(Stats.percentile(total.boot_histogram, 0.99)),
        "connect_p50_ms": _ms(Stats.percentile(total.connect_histogram, 0.5)),
        "connect_p99_ms": _ms(Stats.percentile(total.connect_histogram, 0.99)),
        "sent": total.sent,
        "answered": total.answered,
        "call_errors": total.call_errors,
        "timeouts": total.timeouts,
        "commands_answered": total.commands_answered,
        # sampled values in the meter values and transaction events the CSMS answered
        "values_answered": total.values_answered,
        "p50_ms": _ms(Stats.percentile(total.histogram, 0.5)),
        "p99_ms": _ms(Stats.percentile(total.histogram, 0.99)),
        # CPU time of the worker processes from their first connection to their last close
        "fleet_cpu_s": round(total.cpu_seconds, 3),
    }
