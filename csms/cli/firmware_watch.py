"""``csms firmware rollout watch ID``: a live view of one campaign.

A progress bar per wave (succeeded and failed of its size) and a table of the latest
failures, redrawn when a ``firmware.*`` event of the campaign arrives on the cluster's live
event stream, and at least every ``--interval`` seconds (the stream may drop events; the
database is the record). It ends when the campaign completes or is cancelled: exit status
0 when it completed, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from csms.domain.firmware_campaigns import TargetRow
    from csms.services.firmware import CampaignView

log = logging.getLogger(__name__)

FAILURES_SHOWN = 15
FINISHED = ("completed", "cancelled")


def render(view: CampaignView, failures: list[TargetRow]) -> Group:
    """The frame: the campaign's status line, a bar per wave, the latest failures."""
    c = view.campaign
    counts = view.counts
    done = counts.get("succeeded", 0)
    header = Text.assemble(
        (f"campaign {c.id} ", "bold"),
        (c.status, "bold red" if c.status == "halted" else "bold green"),
        f"  firmware {c.target_version}  {done}/{view.total} updated, "
        f"{counts.get('failed', 0)} failed",
    )
    parts: list[Text | Progress | Table] = [header]
    if c.halted_reason:
        parts.append(Text(f"halted: {c.halted_reason}", style="red"))
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        auto_refresh=False,
    )
    for w in view.waves:
        p = w.progress
        state = "done" if w.wave.finished_at else "running" if w.wave.started_at else "waiting"
        bars.add_task(
            f"wave {w.wave.number} {w.wave.label:>7}",
            total=w.wave.size,
            completed=p.succeeded + p.failed + p.cancelled,
            detail=f"{state}: {p.in_flight} updating, {p.failed} failed ({p.failure_rate():.1f}%)",
        )
    parts.append(bars)
    if failures:
        failed = Table("charger", "wave", "attempts", "failure", title="failures")
        for t in failures:
            failed.add_row(t.charge_point_id, str(t.wave), str(t.target.attempts),
                           t.target.failure or "-")  # fmt: skip
        parts.append(failed)
    return Group(*parts)


async def watch(campaign_id: int, *, interval: float = 2.0, once: bool = False) -> int:
    from csms import bootstrap
    from csms.cli.firmware import _services, _settings

    settings = _settings()
    console = Console()
    wake = asyncio.Event()
    follower: asyncio.Task[None] | None = None
    async with _services() as (_, campaigns):
        view = await campaigns.view(campaign_id)  # NotFound before anything is drawn
        if not once:
            with contextlib.suppress(Exception):
                redis_url = await bootstrap.redis_url(settings)
                follower = asyncio.create_task(_follow(redis_url, settings, campaign_id, wake))
        try:
            with Live(console=console, auto_refresh=False, transient=False) as live:
                while True:
                    view = await campaigns.view(campaign_id)
                    failures = await campaigns.targets(
                        campaign_id, states=["failed"], limit=FAILURES_SHOWN
                    )
                    live.update(render(view, failures), refresh=True)
                    if once or view.campaign.status in FINISHED:
                        break
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(interval):
                            await wake.wait()
                    wake.clear()
        finally:
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(BaseException):
                    await follower
    return 0 if once or view.campaign.status == "completed" else 1


async def _follow(redis_url: str, settings: object, campaign_id: int, wake: asyncio.Event) -> None:
    """Wake the view on every live event of the campaign."""
    from redis.exceptions import RedisError

    from csms.cluster.connect import redis_client
    from csms.cluster.events import read_events
    from csms.cluster.keys import Keys

    redis = redis_client(redis_url, max_connections=2)
    try:
        keys = Keys(getattr(settings, "redis_prefix", "csms:"))
        async for event in read_events(redis, keys, block_ms=1000):
            if event.type.startswith("firmware.") and event.data.get("campaign_id") == campaign_id:
                wake.set()
    except (RedisError, OSError) as exc:
        log.debug("live events unavailable (%s): polling only", exc)
    finally:
        await redis.aclose()
