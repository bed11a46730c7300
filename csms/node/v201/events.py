"""Keep what a charger notifies, as received (the charger's events)."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import parse_timestamp
from csms.node.context import Context, Payload


async def remember(
    ctx: Context,
    action: str,
    payload: Payload,
    *,
    kind: Any = None,
    occurred_at: str | None = None,
) -> None:
    """Record one notification; ``kind`` is what it is filtered by, ``occurred_at`` its
    OCPP dateTime if it carries one."""
    await ctx.services.reports.notification(
        ctx.charge_point_id,
        action,
        payload,
        kind=kind,
        occurred_at=None if occurred_at is None else parse_timestamp(occurred_at),
    )
