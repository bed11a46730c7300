"""Persist what a charger notifies, as received, in ``charger_events``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.domain.clock import parse_timestamp
from csms.node.context import Payload, Session
from csms.store import charger_events


async def remember(
    session: Session,
    action: str,
    payload: Payload,
    *,
    kind: Any = None,
    occurred_at: str | None = None,
) -> None:
    """Record one notification; ``kind`` is what it is filtered by, ``occurred_at`` its
    OCPP dateTime if it carries one."""
    await charger_events.record(
        session.pool,
        session.charge_point_id,
        action,
        payload,
        kind=None if kind is None else str(kind),
        occurred_at=_when(occurred_at),
    )


def _when(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text is not None else None
