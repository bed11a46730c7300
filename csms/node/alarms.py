"""The node's alarms: the alarm service on the node's hooks (csms.services.alarms)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import asyncpg

from csms.cluster.events import EventPublisher
from csms.domain.clock import Clock
from csms.services.alarms import AlarmService
from csms.services.hooks import Hooks
from csms.settings import NodeSettings
from csms.store import alarms as alarm_store
from csms.store.alarms import Outbox, PostgresAlarms

log = logging.getLogger(__name__)


def attach_alarms(
    hooks: Hooks,
    pool: asyncpg.Pool,
    settings: NodeSettings,
    publisher: EventPublisher | None,
    clock: Clock,
    *,
    outbox: Outbox | None = None,
) -> AlarmService:
    """Raise and clear alarms from what the chargers this node holds report, and publish
    each transition on the live stream (in a cluster)."""

    def publish(event_type: str, charge_point_id: str, data: dict[str, Any]) -> None:
        if publisher is not None:
            publisher.publish(event_type, charge_point_id, **data)

    service = AlarmService(
        PostgresAlarms(pool, outbox=outbox),
        clock=clock,
        flapping_window=timedelta(seconds=settings.alarm_flapping_window),
        publish=publish,
    )
    service.attach(hooks)
    return service


async def forget_node(pool: asyncpg.Pool, cluster: str, node_id: str) -> None:
    """A node that stops on purpose deregisters: the alarm sweep must not call it gone."""
    try:
        await alarm_store.forget_node(pool, cluster, node_id)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("cannot forget node %s for the alarm sweep: %s", node_id, exc)
