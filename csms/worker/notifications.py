"""Notification jobs of ``csms worker``: fan a notification out into deliveries, deliver
each (webhook POST or e-mail) with retries, and sweep for work whose job was lost.

A delivery is claimed with a conditional update before it is sent, and its outcome is
recorded (a 2xx as delivered) before the job completes; retries are jobs of their own,
due after an exponential backoff with jitter, so no worker sleeps on a failing receiver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from pgqueuer.models import Schedule

from csms.domain.notifications import WEBHOOK_SECRET_PURPOSE, retry_delay
from csms.notifications import post_webhook, send_email
from csms.secretbox import PREFIX, SecretUnreadable
from csms.settings import WorkerSettings
from csms.store import notification_subscriptions as subscriptions
from csms.store import notifications as store
from csms.worker.runtime import Worker, register, schedule

log = logging.getLogger(__name__)

LEASE_MARGIN = 30.0  # seconds a claim outlives the longest send
SWEEP_AFTER = 30.0  # seconds a due item waits for its own job before the sweep queues it


class Notifier:
    """Delivers claimed deliveries; one per worker process."""

    def __init__(self, pool: asyncpg.Pool, settings: WorkerSettings, client: httpx.AsyncClient):
        self.pool = pool
        self.settings = settings
        self.client = client
        self.claimer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"

    async def seal_secrets(self) -> int:
        """Seal every webhook secret that is not sealed under CSMS_DATA_KEY (stored before
        sealing existed, or under CSMS_DATA_KEY_PREVIOUS); returns how many webhooks.
        One no configured key opens is logged and left as it is (its deliveries fail)."""
        box, purpose = self.settings.secret_box, WEBHOOK_SECRET_PURPOSE
        sealed = 0
        async with self.pool.acquire() as conn:
            for subscription_id, *was in await subscriptions.unsealed_secrets(
                conn, f"{PREFIX}:{box.current}:"
            ):
                try:
                    now = [
                        value
                        if value is None or box.is_current(value)
                        else box.seal(box.open(value, purpose=purpose), purpose=purpose)
                        for value in was
                    ]
                except SecretUnreadable as exc:
                    log.error("webhook %d: its secret cannot be sealed: %s", subscription_id, exc)
                    continue
                stored = await subscriptions.replace_secrets(
                    conn, subscription_id, (was[0], was[1]), (now[0], now[1])
                )
                sealed += stored
        return sealed

    async def fan_out(self, notification_id: int) -> list[int]:
        async with self.pool.acquire() as conn:
            return await store.fan_out(conn, notification_id)

    async def deliver(self, delivery_id: int) -> str:
        """Try the delivery once if it is due; returns its new state ('' when there was
        nothing to do: delivered, dead, not due, or held by another worker)."""
        settings = self.settings
        lease = max(settings.webhook_timeout, settings.smtp_timeout) + LEASE_MARGIN
        async with self.pool.acquire() as conn:
            work = await store.claim(conn, delivery_id, self.claimer, lease)
        if work is None:
            return ""
        if work.kind == "webhook":
            outcome = await post_webhook(self.client, work, settings)
        else:
            outcome = await send_email(work, settings)
        delay = retry_delay(
            work.round_attempt,
            base=settings.notify_retry_delay,
            maximum=settings.notify_retry_max_delay,
            jitter=random.random(),
        )
        async with self.pool.acquire() as conn:
            state = await store.record(
                conn,
                work,
                self.claimer,
                outcome,
                max_attempts=settings.notify_max_attempts,
                retry_in=delay,
            )
        if not state:
            log.warning(
                "%s delivery %d: its claim ran out before the outcome (%s) was recorded; "
                "another worker may try it again (receivers dedupe by event id)",
                work.kind,
                delivery_id,
                "delivered" if outcome.delivered else outcome.error,
            )
        elif state == "failed":
            log.info(
                "%s delivery %d (subscription %d) failed, try %d: %s; again in %.1f s",
                work.kind,
                delivery_id,
                work.subscription_id,
                work.round_attempt,
                outcome.error,
                delay,
            )
        elif state == "dead":
            log.warning(
                "%s delivery %d (subscription %d) is dead after %d tries: %s",
                work.kind,
                delivery_id,
                work.subscription_id,
                work.round_attempt,
                outcome.error,
            )
        return state

    async def sweep(self) -> tuple[int, int]:
        async with self.pool.acquire() as conn:
            found = await store.sweep(conn, older_than=SWEEP_AFTER)
            purged = await store.purge(conn, older_than_days=self.settings.notify_retention_days)
        if purged:
            log.info("%d notifications past CSMS_NOTIFY_RETENTION_DAYS deleted", purged)
        return found


@contextlib.asynccontextmanager
async def running_notifications(worker: Worker) -> AsyncIterator[Notifier]:
    """Register the notification jobs and schedule on ``worker``; the HTTP client lives as
    long as the context."""
    settings = worker.settings
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        notifier = Notifier(worker.pool, settings, client)
        sealed = await notifier.seal_secrets()
        if sealed:
            log.warning("sealed the signing secrets of %d webhooks under CSMS_DATA_KEY", sealed)

        async def fan_out(payload: dict[str, Any]) -> None:
            await notifier.fan_out(int(payload["notification_id"]))

        async def deliver(payload: dict[str, Any]) -> None:
            await notifier.deliver(int(payload["delivery_id"]))

        async def sweep(_: Schedule) -> None:
            notifications, deliveries = await notifier.sweep()
            if notifications or deliveries:
                log.warning(
                    "%d notifications and %d deliveries had lost their job: queued",
                    notifications,
                    deliveries,
                )

        register(worker, store.FAN_OUT_JOB, fan_out)
        register(worker, store.DELIVER_JOB, deliver)
        schedule(worker, store.SWEEP_SCHEDULE, settings.notify_sweep_schedule, sweep)
        yield notifier
