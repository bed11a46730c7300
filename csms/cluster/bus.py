"""Command request/reply over Redis lists (see docs/adr/0001-command-bus.md).

A caller LPUSHes a command onto the owning node's inbox list; the node BRPOPs it, calls the
charger and LPUSHes the reply onto the caller's own reply list, which one listener task per
caller process BRPOPs and hands to the waiting future by command id. Lists keep messages
across a momentary disconnect (pub/sub would drop them); both lists expire when idle so a
dead node's inbox or a gone caller's replies do not pile up.

A command reaches its charger at most once, although redis-py re-sends a command whose
reply it lost (``retry_on_error``, csms/cluster/connect.py): a caller pushes each command id
once (``CommandClient.push`` sets a ``seen`` marker in the same script, so the re-sent push
finds it and pushes nothing), and a node drops a copy of an id it already took
(``SeenCommands``).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pybreaker
from redis.exceptions import RedisError

from csms.cluster.breakers import BreakerBox, guarded
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Owner, Routing
from csms.cluster.tasks import stop_task
from csms.errors import (
    ChargerCallError,
    ChargerMoved,
    ChargerNotConnected,
    CommandError,
    CommandRejected,
    CommandTimeout,
    NodeUnavailable,
    command_error,
)

log = logging.getLogger(__name__)

INBOX_TTL_MS = 60_000
# A pushed command's seen marker outlives its deadline by this much: a copy pushed later
# (a retry stuck that long) is dropped by the node as expired, unless the node's clock is
# behind the caller's by more than this.
SEEN_SLACK_MS = 10_000
REPLIES_TTL_MS = 60_000
POLL_SECONDS = 1.0
# What a closing CommandClient pushes onto its own reply list to end its listener's pop.
WAKE = b"wake"
# The node answers "charger timed out" this long before the caller's deadline, so a slow
# charger is told apart from a node that does not answer at all.
NODE_MARGIN = 0.5

# Reply error codes (node -> caller): the outcomes of csms.errors.COMMAND_OUTCOMES
MOVED = ChargerMoved.outcome
NOT_CONNECTED = ChargerNotConnected.outcome
TIMEOUT = CommandTimeout.outcome
REJECTED = CommandRejected.outcome
CALL_ERROR = ChargerCallError.outcome
INTERNAL = CommandError.outcome
UNAVAILABLE = NodeUnavailable.outcome  # the node cannot do its part now (e.g. Redis errors)


@dataclass(frozen=True, slots=True)
class CommandMessage:
    """A command as it travels to a node."""

    id: str
    charge_point_id: str
    epoch: int
    command: str
    params: dict[str, Any]
    deadline: float
    reply_to: str
    by: str | None = None  # who asked (kept with what the command changes)

    def encode(self) -> bytes:
        message = {
            "k": "call",
            "id": self.id,
            "cp": self.charge_point_id,
            "epoch": self.epoch,
            "cmd": self.command,
            "params": self.params,
            "deadline": self.deadline,
            "reply": self.reply_to,
        }
        if self.by is not None:
            message["by"] = self.by
        return orjson.dumps(message)


@dataclass(frozen=True, slots=True)
class EvictMessage:
    """Tell a node that a newer connection (``epoch``) took the charger over."""

    charge_point_id: str
    epoch: int

    def encode(self) -> bytes:
        return orjson.dumps({"k": "evict", "cp": self.charge_point_id, "epoch": self.epoch})


def decode_message(data: bytes | str) -> CommandMessage | EvictMessage | None:
    try:
        raw = orjson.loads(data)
        if raw["k"] == "evict":
            return EvictMessage(str(raw["cp"]), int(raw["epoch"]))
        if raw["k"] == "call":
            return CommandMessage(
                id=str(raw["id"]),
                charge_point_id=str(raw["cp"]),
                epoch=int(raw["epoch"]),
                command=str(raw["cmd"]),
                params=dict(raw["params"]),
                deadline=float(raw["deadline"]),
                reply_to=str(raw["reply"]),
                by=None if raw.get("by") is None else str(raw["by"]),
            )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return None


def reply_ok(command_id: str, result: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": command_id, "ok": True, "result": result})


def reply_error(
    command_id: str, code: str, detail: str, extra: dict[str, Any] | None = None
) -> bytes:
    return orjson.dumps(
        {"id": command_id, "ok": False, "error": code, "detail": detail, "extra": extra or {}}
    )


def reply_failure(command_id: str, error: CommandError) -> bytes:
    """The reply for a command that failed with ``error`` (its outcome code on the bus)."""
    return reply_error(command_id, error.outcome, error.detail, error.extra)


# KEYS: inbox, seen marker; ARGV: message, inbox ttl ms, marker ttl ms. 1 if pushed, 0 if
# this command id was pushed before (by this very script, re-sent by redis-py).
_PUSH_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then
  redis.call('LPUSH', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


async def push(redis: RedisClient, key: str, data: bytes, ttl_ms: int) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, data)
        pipe.pexpire(key, ttl_ms)
        await pipe.execute()


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that redis-py swallowed.

    On Python 3.11, a cancel that lands while a blocking read's own timeout fires is
    swallowed and the read returns "nothing yet"; a consumer loop would then never stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def consume(
    redis: RedisClient, key: str, what: str, *, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[bytes | str]:
    """Every item pushed onto list ``key``, forever; a Redis outage is logged and waited out.

    Each blocking pop lasts at most ``poll_seconds``, so a lost cancellation is seen then.
    """
    while True:
        try:
            item = await redis.brpop([key], timeout=poll_seconds)
        except (RedisError, OSError) as exc:
            log.warning("%s: %s", what, exc)
            await asyncio.sleep(poll_seconds / 2)
            continue
        raise_if_cancelling()
        if item is not None:
            yield item[1]


class SeenCommands:
    """The ids of the commands a node took, each remembered until its command's deadline.

    A copy of a command that arrives after its deadline is dropped as expired anyway, so an
    id is kept exactly as long as a copy could still be served. Plain bookkeeping: the
    caller passes ``now``.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._expiry: list[tuple[float, str]] = []  # a heap of (deadline, id)

    def first(self, command_id: str, deadline: float, now: float) -> bool:
        """Whether this is the first time ``command_id`` is taken (it is then remembered)."""
        while self._expiry and self._expiry[0][0] <= now:
            self._ids.discard(heapq.heappop(self._expiry)[1])
        if command_id in self._ids:
            return False
        self._ids.add(command_id)
        heapq.heappush(self._expiry, (deadline, command_id))
        return True

    def __len__(self) -> int:
        return len(self._ids)


class _NoReply(Exception):
    """The node did not answer before the deadline (counts against its breaker)."""


@dataclass
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    node_id: str
    started: float = field(default_factory=time.monotonic)


class CommandClient:
    """Sends commands to whichever node owns a charger and waits for the answer."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        caller_id: str | None = None,
        breaker_fail_max: int = 5,
        breaker_reset_timeout: float = 30.0,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.caller_id = caller_id or f"caller-{secrets.token_hex(6)}"
        self.routing = Routing(redis, keys)
        self.registry = Registry(redis, keys)
        # a Redis error is not the node's fault (a restart, a failover): it never counts
        # against the node's breaker, which is for nodes that do not answer
        self.breakers = BreakerBox(
            fail_max=breaker_fail_max,
            reset_timeout=breaker_reset_timeout,
            exclude=(RedisError, OSError),
        )
        self._pending: dict[str, _Pending] = {}
        self._push_once = redis.register_script(_PUSH_ONCE)
        self._listener: asyncio.Task[None] | None = None
        self.poll_seconds = poll_seconds
        self.late_replies = 0

    @property
    def reply_key(self) -> str:
        return self.keys.replies(self.caller_id)

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="command-replies")

    async def close(self) -> None:
        """Stop the reply listener and cancel the commands still waiting; returns at once.

        The listener may be blocked in its pop with its cancellation lost: on Python 3.11 a
        cancel that lands as redis-py's ``wait_for`` around sending the BRPOP completes is
        swallowed (csms/cluster/tasks.py), and the pop would hold ``close()`` up until it ran
        out (``poll_seconds``; ``csms command`` spent most of its time there). A ``WAKE``
        item pushed onto the reply list ends that pop at once. It is pushed from a task of
        its own, so a Redis that does not answer cannot hold ``close()`` up either (the
        listener then stops on the cancellation, or on the one ``stop_task`` re-sends).
        """
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            waking = asyncio.create_task(self._wake_listener(), name="command-replies-wake")
            await stop_task(listener)
            await stop_task(waking)
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        by: str | None = None,
    ) -> dict[str, Any]:
        """The charger's answer to ``command``; raises a CommandError subclass otherwise.
        ``by``: who asked (the configuration history keeps it with what the command changes).

        Resolves the owner, sends, and re-resolves once if the node says the charger moved.
        """
        await self.start()
        deadline = time.time() + timeout
        for attempt in (1, 2):
            owner = await self._owner(charge_point_id)
            reply = await self._send_to(owner, charge_point_id, command, params or {}, deadline, by)
            if reply.get("ok"):
                result: dict[str, Any] = reply["result"]
                return result
            code, detail = reply.get("error"), str(reply.get("detail", ""))
            if code == MOVED and attempt == 1:
                log.info("%s moved off node %s; re-resolving", charge_point_id, owner.node_id)
                continue
            raise command_error(code, detail, reply.get("extra") or {})
        raise ChargerNotConnected(f"{charge_point_id} moved twice while being reached")

    async def push(self, node_id: str, message: CommandMessage) -> bool:
        """Put ``message`` in ``node_id``'s inbox unless its id was pushed before (False).

        redis-py re-sends a command whose reply it lost: a plain LPUSH that Redis executed
        would then be in the inbox twice and reach the charger twice. The seen marker is set
        in the same script and lasts until the deadline (and ``SEEN_SLACK_MS``), after which
        a copy would be dropped as expired anyway.
        """
        seen_ms = max(0, int((message.deadline - time.time()) * 1000)) + SEEN_SLACK_MS
        pushed = await self._push_once(
            keys=[self.keys.inbox(node_id), self.keys.seen(node_id, message.id)],
            args=[message.encode(), INBOX_TTL_MS, seen_ms],
        )
        return bool(pushed)

    async def _owner(self, charge_point_id: str) -> Owner:
        try:
            owner = await self.routing.owner(charge_point_id)
            alive = owner is not None and await self.registry.is_alive(owner.node_id)
        except (RedisError, OSError) as exc:
            raise NodeUnavailable(f"Redis unavailable: {exc}") from exc
        if owner is None:
            raise ChargerNotConnected(f"{charge_point_id} is not connected")
        if not alive:
            raise ChargerNotConnected(
                f"{charge_point_id}'s node {owner.node_id} is gone; the charger will reconnect"
            )
        return owner

    async def _send_to(
        self,
        owner: Owner,
        charge_point_id: str,
        command: str,
        params: dict[str, Any],
        deadline: float,
        by: str | None = None,
    ) -> dict[str, Any]:
        message = CommandMessage(
            id=uuid.uuid4().hex,
            charge_point_id=charge_point_id,
            epoch=owner.epoch,
            command=command,
            params=params,
            deadline=deadline,
            reply_to=self.reply_key,
            by=by,
        )
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), owner.node_id)
        self._pending[message.id] = pending

        async def exchange() -> dict[str, Any]:
            await self.push(owner.node_id, message)
            try:
                return await asyncio.wait_for(
                    asyncio.shield(pending.future), max(0.0, deadline - time.time())
                )
            except TimeoutError:
                raise _NoReply() from None

        try:
            return await guarded(self.breakers.get(owner.node_id), exchange)
        except pybreaker.CircuitBreakerError:
            raise NodeUnavailable(
                f"node {owner.node_id} is failing; its circuit breaker is open"
            ) from None
        except _NoReply:
            raise CommandTimeout(
                f"no answer from node {owner.node_id} for {charge_point_id} in time"
            ) from None
        except (RedisError, OSError) as exc:
            raise NodeUnavailable(f"Redis unavailable: {exc}") from exc
        finally:
            self._pending.pop(message.id, None)

    async def _listen(self) -> None:
        replies = consume(
            self.redis, self.reply_key, "reply listener", poll_seconds=self.poll_seconds
        )
        async for data in replies:
            self._deliver(data)

    async def _wake_listener(self) -> None:
        try:
            await push(self.redis, self.reply_key, WAKE, REPLIES_TTL_MS)
        except (RedisError, OSError) as exc:
            log.debug("reply listener not woken: %s", exc)

    def _deliver(self, data: bytes | str) -> None:
        if data in (WAKE, WAKE.decode()):
            return
        try:
            reply = orjson.loads(data)
            command_id = str(reply["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable reply dropped")
            return
        pending = self._pending.get(command_id)
        if pending is None or pending.future.done():
            self.late_replies += 1
            log.warning("late reply to command %s dropped (caller gave up)", command_id)
            return
        pending.future.set_result(reply)
