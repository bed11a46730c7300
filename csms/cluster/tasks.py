"""Stopping background tasks reliably.

On Python 3.11 a cancellation can be lost when it lands as an ``asyncio.wait_for`` inside
redis-py completes (CPython gh-86296); a task cancelled once may then go on forever and a
node never finishes its SIGTERM drain. ``stop_task`` re-sends the cancellation until the task
is done, and never swallows the caller's own cancellation.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any], *, grace: float = 1.0) -> None:
    while not task.done():
        task.cancel()  # repeated: a lost cancellation is sent again
        await asyncio.wait({task}, timeout=grace)
