"""One command to many chargers: sent concurrently (bounded), one outcome per charger.

Outcomes are the command's error codes (csms/errors.py ``CommandError.code``) plus ``ok``:
``ok`` (the charger answered; its answer's status, if any, is the detail), ``not_connected``,
``timeout``, ``node_unavailable``, ``rejected`` (the CSMS refused the command: invalid
params, not supported by the charger's version, its queue full), ``call_error`` (the charger
answered with a CALLERROR) and ``error``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csms.errors import CommandError

if TYPE_CHECKING:
    from csms.cluster.bus import CommandClient

OK = "ok"
DETAIL_WIDTH = 60
PROGRESS_EVERY = 0.2  # seconds between two progress lines on a terminal


@dataclass(frozen=True, slots=True)
class Outcome:
    charge_point_id: str
    outcome: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def answered(charge_point_id: str, result: dict[str, Any]) -> Outcome:
    response = result.get("response")
    if isinstance(response, dict) and isinstance(response.get("status"), str):
        detail = response["status"]
    else:
        import orjson

        detail = orjson.dumps(response).decode()
    return Outcome(charge_point_id, OK, _short(detail))


def failed(charge_point_id: str, exc: CommandError) -> Outcome:
    return Outcome(charge_point_id, exc.code, _short(exc.detail))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_WIDTH else text[: DETAIL_WIDTH - 3] + "..."


async def send_many(
    client: CommandClient,
    charge_point_ids: Sequence[str],
    command: str,
    params: dict[str, Any],
    *,
    timeout: float,
    concurrency: int,
    progress: Callable[[int, int], None] | None = None,
    by: str | None = None,
) -> list[Outcome]:
    """Send ``command`` to every charger, at most ``concurrency`` at a time; the outcomes
    in the order of ``charge_point_ids``. ``timeout`` is each charger's own."""
    outcomes: list[Outcome | None] = [None] * len(charge_point_ids)
    pending = iter(range(len(charge_point_ids)))
    done = 0

    async def one(charge_point_id: str) -> Outcome:
        try:
            result = await client.send(charge_point_id, command, params, timeout=timeout, by=by)
        except CommandError as exc:
            return failed(charge_point_id, exc)
        return answered(charge_point_id, result)

    async def worker() -> None:
        nonlocal done
        for index in pending:  # shared: each index is taken by one worker
            outcomes[index] = await one(charge_point_ids[index])
            done += 1
            if progress is not None:
                progress(done, len(charge_point_ids))

    async with asyncio.TaskGroup() as workers:
        for _ in range(min(concurrency, len(charge_point_ids))):
            workers.create_task(worker())
    return [o for o in outcomes if o is not None]


def summary(outcomes: Sequence[Outcome]) -> str:
    """``3 chargers: 2 ok, 1 not_connected`` (ok first, the others by name)."""
    counts = Counter(o.outcome for o in outcomes)
    names = sorted(counts, key=lambda name: (name != OK, name))
    parts = ", ".join(f"{counts[name]} {name}" for name in names)
    noun = "charger" if len(outcomes) == 1 else "chargers"
    return f"{len(outcomes)} {noun}: {parts}" if parts else f"0 {noun}"


class TerminalProgress:
    """``12/40 chargers done`` on stderr, rewritten in place; nothing unless a terminal."""

    def __init__(self) -> None:
        self.shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not sys.stderr.isatty() or (done < total and now - self._last < PROGRESS_EVERY):
            return
        self._last = now
        sys.stderr.write(f"\r{done}/{total} chargers done")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
