"""Serves bus commands for the chargers connected to this node.

The node BRPOPs its inbox; each command is checked (deadline, connection, fencing epoch),
translated by the charger's version adapter (``v16/commands.py``, ``v201/commands.py``) or
passed through raw, sent as one CALL, and answered on the caller's reply list. Errors are
``CommandError``s end to end: their ``outcome`` is what the caller gets
(``csms.errors.COMMAND_OUTCOMES``).

A command id is served once per run of the node: the consume loop drops, without a reply,
a copy of a command it already took (docs/adr/0001-command-bus.md, "At most once"; callers
push each id once, ``CommandClient.push``, so a copy is a bug or a foreign pusher).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from csms.cluster import bus
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.routing import Owner, Routing
from csms.cluster.tasks import stop_task
from csms.domain.clock import Clock
from csms.domain.commands import RAW
from csms.domain.credentials import redact
from csms.errors import (
    ChargerMoved,
    CommandError,
    CommandRejected,
    InvalidInput,
    NodeUnavailable,
)
from csms.node.command_types import CommandAdapter
from csms.node.connection import ChargerConnection
from csms.node.metrics import NodeMetrics
from csms.services.reports import ReportService

log = logging.getLogger(__name__)

DUPLICATE = "duplicate"  # outcome of a copy of a command already taken: dropped, no reply


class CommandServer:
    """The consumer of one node's inbox."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        node_id: str,
        connections: Mapping[str, ChargerConnection],
        reports: ReportService,
        clock: Clock,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.connections = connections
        self.reports = reports
        self.clock = clock
        self.routing = Routing(redis, keys)
        self._seen = bus.SeenCommands()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        # per charger, while a command to it is being carried out (gone when none is)
        self._in_order: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.outcomes: dict[str, int] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="command-inbox")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
        for task in list(self._inflight):
            task.cancel()

    async def _run(self) -> None:
        async for data in bus.consume(self.redis, self.keys.inbox(self.node_id), "command inbox"):
            message = bus.decode_message(data)
            if message is None:
                log.warning("unreadable command dropped")
                continue
            if isinstance(message, bus.CommandMessage) and not self._seen.first(
                message.id, message.deadline, time.time()
            ):
                # the caller waits for the first copy's reply; this one gets none
                log.warning(
                    "command %s for %s is a copy of one already taken: dropped",
                    message.id,
                    message.charge_point_id,
                )
                self._count(DUPLICATE)
                continue
            task = asyncio.create_task(self._handle(message))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _handle(self, message: bus.CommandMessage | bus.EvictMessage) -> None:
        if isinstance(message, bus.EvictMessage):
            await self._evict(message)
            return
        remaining = message.deadline - time.time()
        if remaining <= 0:
            log.warning(
                "command %s for %s expired in the inbox", message.id, message.charge_point_id
            )
            self._count("expired")
            return
        reply = await self._execute(message, remaining)
        try:
            await bus.push(self.redis, message.reply_to, reply, bus.REPLIES_TTL_MS)
        except (RedisError, OSError) as exc:
            log.warning("reply to %s lost: %s", message.id, exc)

    async def _execute(self, message: bus.CommandMessage, remaining: float) -> bytes:
        try:
            connection = await self._route(message)
            action, payload, adapter = self._translate(connection, message.command, message.params)
            # what answers change is stored in the order the charger answered (a read
            # answered before a change must not be stored after it)
            lock = self._in_order.setdefault(connection.charge_point_id, asyncio.Lock())
            async with lock:
                result = await connection.call(
                    action,
                    payload,
                    max(0.1, remaining - bus.NODE_MARGIN),
                    checked=adapter is not None,  # the adapter validated it
                )
                payload = redact(action, payload)  # a password being set is never kept nor returned
                if adapter is not None and adapter.persist is not None:
                    reports = self.reports.acting(message.by)
                    await adapter.persist(reports, connection.charge_point_id, payload, result)
        except CommandError as exc:
            self._count(exc.outcome)
            return bus.reply_failure(message.id, exc)
        except Exception:
            log.exception(
                "command %s (%s) for %s failed",
                message.id,
                message.command,
                message.charge_point_id,
            )
            self._count(bus.INTERNAL)
            return bus.reply_error(message.id, bus.INTERNAL, "internal error on the node")
        self._count("ok")
        return bus.reply_ok(
            message.id,
            {
                "action": action,
                "request": payload,
                "response": result,
                "protocol": connection.version.subprotocol,
            },
        )

    async def _route(self, message: bus.CommandMessage) -> ChargerConnection:
        """The connection the command is for, if it is still the one it was routed to."""
        cp = message.charge_point_id
        connection = self.connections.get(cp)
        if connection is None or connection.closed:
            raise ChargerMoved(f"{cp} is not connected to {self.node_id}")
        expected = Owner(self.node_id, message.epoch)
        try:
            still_owner = connection.owner == expected and await self.routing.holds(cp, expected)
        except (RedisError, OSError) as exc:
            # cannot prove the route is current: never deliver on a guess, but answer
            raise NodeUnavailable(f"node {self.node_id} cannot check ownership: {exc}") from exc
        if not still_owner:
            # routed with an older (or newer) epoch than this socket's: never deliver
            raise ChargerMoved(f"{cp} moved")
        return connection

    def _translate(
        self, connection: ChargerConnection, command: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any], CommandAdapter | None]:
        version = connection.version
        try:
            if command == RAW:
                action, payload = params.get("action"), params.get("payload", {})
                if not isinstance(action, str) or not isinstance(payload, dict):
                    raise InvalidInput(
                        'raw: params must be {"action": "<OCPP action>", "payload": {}}'
                    )
                return action, payload, None
            adapter = version.commands.get(command)
            if adapter is None:
                raise InvalidInput(
                    f"command {command!r} is not available for {version.subprotocol} chargers "
                    "(see docs/reference/commands.md, or use raw)"
                )
            return adapter.action, adapter.build(params, self.clock()), adapter
        except InvalidInput as exc:
            raise CommandRejected(str(exc)) from None

    async def _evict(self, message: bus.EvictMessage) -> None:
        connection = self.connections.get(message.charge_point_id)
        if connection is None or connection.owner is None:
            return
        if connection.owner.epoch < message.epoch:
            connection.link.log.warning(
                "a newer connection (epoch %d) took over: closing this one", message.epoch
            )
            await connection.websocket.close(1008, "replaced by a newer connection")

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if self.metrics is not None:
            self.metrics.command(outcome)
