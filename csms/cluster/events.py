"""Live events: nodes publish to a bounded Redis stream; consumers read from it.

PostgreSQL stays the record; the stream is for live views (SSE) and webhooks, so a full
queue or a Redis outage drops events (counted and logged) rather than slowing chargers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError

from csms.cluster.bus import raise_if_cancelling
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.tasks import stop_task
from csms.domain.transactions import SessionEvent, SessionRef
from csms.services.hooks import (
    ConnectorStatusChanged,
    FirmwareCampaignChanged,
    FirmwareTargetChanged,
    Hooks,
    SessionCostComputed,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
)

log = logging.getLogger(__name__)

STREAM_MAXLEN = 100_000
QUEUE_LIMIT = 10_000
BATCH = 500
GATHER_SECONDS = 0.005

# Event types
CHARGER_CONNECTED = "charger.connected"
CHARGER_DISCONNECTED = "charger.disconnected"
STATUS_CHANGED = "charger.status"
TRANSACTION_STARTED = "transaction.started"
TRANSACTION_UPDATED = "transaction.updated"
TRANSACTION_ENDED = "transaction.ended"
TRANSACTION_COST = "transaction.cost"  # a running cost, or the final one (final: true)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    charge_point_id: str
    at: float
    node_id: str
    data: dict[str, Any]


class EventPublisher:
    """Queue events without waiting; a background task writes each batch as one stream entry
    (one XADD for up to BATCH events: per-command client overhead was ~11 % of a busy node's
    CPU when every event was its own XADD)."""

    def __init__(self, redis: RedisClient, keys: Keys, node_id: str) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self._queue: asyncio.Queue[tuple[str, str, float, dict[str, Any]]] = asyncio.Queue(
            QUEUE_LIMIT
        )
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def publish(self, event_type: str, charge_point_id: str, **data: Any) -> None:
        try:
            self._queue.put_nowait((event_type, charge_point_id, time.time(), data))
        except asyncio.QueueFull:
            self.dropped += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-publisher")

    async def close(self) -> None:
        if self._task is None:
            return
        # give queued events a moment to go out, then stop
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while not self._queue.empty():
                    await asyncio.sleep(0.01)
        task, self._task = self._task, None
        await stop_task(task)

    async def _run(self) -> None:
        stream = self.keys.events()
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(GATHER_SECONDS)  # one entry for many events, not one each
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            fields = {"node": self.node_id, "events": orjson.dumps(batch, default=str)}
            try:
                await self.redis.xadd(
                    stream,
                    fields,  # type: ignore[arg-type]
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
            except (RedisError, OSError) as exc:
                self.dropped += len(batch)
                log.warning("dropped %d live events: %s", len(batch), exc)


async def read_events(
    redis: RedisClient, keys: Keys, *, last_id: str = "$", block_ms: int = 5000
) -> AsyncIterator[Event]:
    """Follow the stream after ``last_id`` until cancelled.

    ``last_id``: "$" for only new events, or the ``id`` of the last Event seen (as sent in
    SSE ``id:`` lines) to resume right after it.
    """
    stream = keys.events()
    entry_id, _, index = last_id.partition(".")
    if index.isdigit():
        # finish the entry the caller was in the middle of
        current: Any = await redis.xrange(stream, min=entry_id, max=entry_id)
        for found_id, fields in current or []:
            for event in _events(_text(found_id), fields):
                if int(event.id.rpartition(".")[2]) > int(index):
                    yield event
    cursor = entry_id
    while True:
        entries: Any = await redis.xread({stream: cursor}, block=block_ms, count=100)
        raise_if_cancelling()
        for _stream, items in entries or []:
            for found_id, fields in items:
                cursor = _text(found_id)
                for event in _events(cursor, fields):
                    yield event


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _events(entry_id: str, fields: dict[Any, Any]) -> list[Event]:
    text = {_text(k): v for k, v in fields.items()}
    node_id = _text(text.get("node", b""))
    return [
        Event(
            id=f"{entry_id}.{i}",
            type=event_type,
            charge_point_id=charge_point_id,
            at=at,
            node_id=node_id,
            data=data,
        )
        for i, (event_type, charge_point_id, at, data) in enumerate(
            orjson.loads(text.get("events", b"[]"))
        )
    ]


def publish_hooks(hooks: Hooks, publisher: EventPublisher) -> None:
    """Publish what the services report as live events (one subscriber per hook point)."""

    def status(e: ConnectorStatusChanged) -> None:
        s = e.status
        publisher.publish(
            STATUS_CHANGED,
            e.charge_point_id,
            evse_id=s.evse_id,
            connector_id=s.connector_id,
            status=s.status,
            error_code=s.error_code,
        )

    def started(e: SessionStarted) -> None:
        token = e.event.start_token
        publisher.publish(
            TRANSACTION_STARTED,
            e.charge_point_id,
            **_session(e.session, e.event),
            id_token=None if token is None else token.id_token,
            authorization=None if e.authorization is None else e.authorization.status.value,
        )

    def updated(e: SessionUpdated) -> None:
        publisher.publish(TRANSACTION_UPDATED, e.charge_point_id, **_session(e.session, e.event))

    def ended(e: SessionEnded) -> None:
        publisher.publish(
            TRANSACTION_ENDED,
            e.charge_point_id,
            **_session(e.session, e.event),
            stop_reason=e.stop_reason,
            energy_wh=None if e.energy_wh is None else str(e.energy_wh),
            closed_by=e.closed_by,
            close_reason=e.close_reason,
        )

    def cost(e: SessionCostComputed) -> None:
        c = e.cost
        publisher.publish(
            TRANSACTION_COST,
            e.charge_point_id,
            transaction_id=e.session.transaction_id,
            evse_id=e.session.evse_id,
            connector_id=e.session.connector_id,
            final=c.final,
            currency=c.currency,
            total_excl_vat=None if c.excl_vat is None else str(c.excl_vat),
            total_vat=None if c.vat is None else str(c.vat),
            total_incl_vat=None if c.incl_vat is None else str(c.incl_vat),
            tariff_id=c.tariff_id,
            tariff_version=c.tariff_version,
        )

    hooks.subscribe(ConnectorStatusChanged, status)
    hooks.subscribe(SessionStarted, started)
    hooks.subscribe(SessionUpdated, updated)
    hooks.subscribe(SessionEnded, ended)
    hooks.subscribe(SessionCostComputed, cost)


def _session(ref: SessionRef, event: SessionEvent | None) -> dict[str, Any]:
    if event is None:  # closed by the CSMS
        return {
            "transaction_id": ref.transaction_id,
            "evse_id": ref.evse_id,
            "connector_id": ref.connector_id,
        }
    return {
        "transaction_id": ref.transaction_id,
        "evse_id": event.evse_id if event.evse_id is not None else ref.evse_id,
        "connector_id": event.connector_id if event.connector_id is not None else ref.connector_id,
        "seq_no": event.seq_no,
        "trigger_reason": event.trigger_reason,
        "charging_state": event.charging_state,
    }


# Firmware campaigns (csms.services.firmware): what `csms firmware rollout watch` follows
FIRMWARE_TARGET = "firmware.target"  # one charger's update changed state
FIRMWARE_CAMPAIGN = "firmware.campaign"  # created, paused, resumed, halted, wave started, ...


def publish_firmware_hooks(hooks: Hooks, publisher: EventPublisher) -> None:
    """Publish firmware campaign changes as live events (the node's tracker and the
    worker's orchestrator emit them)."""

    def target(e: FirmwareTargetChanged) -> None:
        publisher.publish(
            FIRMWARE_TARGET,
            e.charge_point_id,
            campaign_id=e.campaign_id,
            state=e.state,
            status=e.status,
            failure=e.failure,
            attempts=e.attempts,
        )

    def campaign(e: FirmwareCampaignChanged) -> None:
        publisher.publish(
            FIRMWARE_CAMPAIGN,
            "",
            campaign_id=e.campaign_id,
            kind=e.kind,
            status=e.status,
            detail=e.detail,
        )

    hooks.subscribe(FirmwareTargetChanged, target)
    hooks.subscribe(FirmwareCampaignChanged, campaign)


# Alarms (csms.services.alarms): every transition, from the node, the worker or the backoffice
ALARM_RAISED = "alarm.raised"
ALARM_ACKNOWLEDGED = "alarm.acknowledged"
ALARM_CLEARED = "alarm.cleared"


async def publish_now(
    redis: RedisClient,
    keys: Keys,
    source: str,
    event_type: str,
    charge_point_id: str,
    data: dict[str, Any],
) -> None:
    """One event written at once, for a process without a publisher task (the backoffice
    after an operator's action). Dropped with a warning if Redis is away: PostgreSQL has
    the record."""
    entry = [(event_type, charge_point_id, time.time(), data)]
    try:
        await redis.xadd(
            keys.events(),
            {"node": source, "events": orjson.dumps(entry, default=str)},
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )
    except (RedisError, OSError) as exc:
        log.warning("dropped live event %s: %s", event_type, exc)
