"""Webhooks delivered by ``csms worker``: signed, retried with backoff while the receiver is
down, dead after the last try, replayed by hand, never twice to a healthy receiver."""

from __future__ import annotations

import asyncio
import secrets
import time
from decimal import Decimal

import asyncpg
import httpx
import orjson
import pytest

from csms.store import notifications
from csms.worker.notifications import Notifier
from tests.fakes.webhook_receiver import Receiver, verify
from tests.integration.notifications.conftest import (
    MAX_ATTEMPTS,
    Notify,
    Subscribe,
    deliveries_of,
    wait_for_state,
    worker_running,
    worker_settings,
)
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


async def test_delivered_once_and_signed(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
    site: str,
) -> None:
    subscription = await subscribe_webhook()
    async with worker_running(database_url):
        await notify("alarm.raised", severity="critical", amount=Decimal("12.30"))
        [request] = await receiver.wait_for(1, TIMEOUT)
        delivery = await wait_for_state(pool, subscription.id, "delivered")

    assert request.signed, request.headers
    # a receiver with another secret, or a body changed on the way, does not verify
    header = request.headers["x-csms-signature"]
    assert not verify("whsec_other", header, request.body)
    assert not verify(receiver.secret, header, request.body + b" ")
    # and the timestamp is checked: the same request replayed an hour later is refused
    assert not verify(receiver.secret, header, request.body, now=time.time() + 3600)
    event = request.event
    assert event["type"] == "alarm.raised"
    assert event["id"] == request.event_id == str(delivery.event_id)
    assert event["site_id"] == site
    assert event["charge_point_id"] == "CP-NOTIFY-1"
    assert event["data"] == {
        "summary": "Connector 1 Faulted",
        "severity": "critical",
        "amount": "12.30",
    }
    assert request.headers["x-csms-event-type"] == "alarm.raised"
    assert request.headers["x-csms-delivery-id"] == str(delivery.id)
    assert request.headers["content-type"] == "application/json"
    # the delivery log: one attempt, its status and latency
    [attempt] = delivery.log
    assert (attempt.attempt, attempt.status_code, attempt.outcome) == (1, 200, "delivered")
    assert attempt.error is None and attempt.latency_ms >= 0
    assert receiver.event_ids == [event["id"]]


async def test_matches_event_type_and_site(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    """A subscription gets its event types at its site only; the disabled get nothing."""
    cleared_only = await subscribe_webhook(event_types=["alarm.cleared"])
    other_site = await subscribe_webhook(site_id=f"NS-{secrets.token_hex(4)}")
    disabled = await subscribe_webhook(enabled=False)
    async with worker_running(database_url):
        await notify("alarm.raised")
        await notify("session.ended")
        await notify("alarm.cleared")
        [request] = await receiver.wait_for(1, TIMEOUT)
        await wait_for_state(pool, cleared_only.id, "delivered")
    assert request.event["type"] == "alarm.cleared"
    assert await deliveries_of(pool, other_site.id) == []
    assert await deliveries_of(pool, disabled.id) == []


async def test_rolled_back_notification_is_never_delivered(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
    site: str,
) -> None:
    await subscribe_webhook()
    key = f"rolled-back-{secrets.token_hex(6)}"
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await notifications.enqueue(
                conn, "alarm.raised", {"n": 1}, site_id=site, charge_point_id=None, key=key
            )
            raise RuntimeError("the alarm transition failed")
    async with worker_running(database_url):
        await notify("alarm.cleared")  # committed after it: delivered
        await receiver.wait_for(1, TIMEOUT)
    assert [r.event["type"] for r in receiver.received] == ["alarm.cleared"]
    assert not await pool.fetchval("SELECT count(*) FROM notification_outbox WHERE key = $1", key)


async def test_same_key_is_one_notification(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    site: str,
) -> None:
    subscription = await subscribe_webhook()
    key = f"alarm-7-raised-{secrets.token_hex(4)}"
    for _ in range(3):
        async with pool.acquire() as conn, conn.transaction():
            await notifications.enqueue(
                conn, "alarm.raised", {"alarm_id": 7}, site_id=site, charge_point_id=None, key=key
            )
    async with worker_running(database_url):
        await wait_for_state(pool, subscription.id, "delivered")
        await receiver.wait_for(1, TIMEOUT)
    assert len(await deliveries_of(pool, subscription.id)) == 1
    assert len(receiver.received) == 1


async def test_receiver_down_then_back_is_retried_with_backoff(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    subscription = await subscribe_webhook()
    await receiver.stop()  # connection refused
    async with worker_running(database_url, notify_max_attempts=6):
        await notify()
        async with asyncio.timeout(TIMEOUT):
            while True:
                found = await deliveries_of(pool, subscription.id)
                if found and len(found[0].log) >= 2:
                    delivery = found[0]
                    break
                await asyncio.sleep(0.02)
        assert delivery.state in ("failed", "sending")
        await receiver.start()  # back, on the same port
        delivered = await wait_for_state(pool, subscription.id, "delivered")
        [request] = await receiver.wait_for(1, TIMEOUT)
    assert request.signed
    failures = delivered.log[:-1]
    assert len(failures) >= 2
    assert all(a.outcome == "failed" and a.status_code is None for a in failures)
    assert all("Connect" in (a.error or "") for a in failures), failures
    assert delivered.log[-1].status_code == 200
    # exponential backoff: the second wait is at least half of twice the first base delay
    gaps = [
        (b.started_at - a.started_at).total_seconds()
        for a, b in zip(delivered.log, delivered.log[1:], strict=False)
    ]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps


async def test_dead_after_max_attempts_then_replayed(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    subscription = await subscribe_webhook()
    receiver.status = 500
    async with worker_running(database_url):
        await notify()
        dead = await wait_for_state(pool, subscription.id, "dead")
        assert [a.status_code for a in dead.log] == [500] * MAX_ATTEMPTS
        assert [a.outcome for a in dead.log] == ["failed"] * (MAX_ATTEMPTS - 1) + ["dead"]
        assert dead.last_status == 500 and "HTTP 500" in (dead.last_error or "")
        assert len(receiver.received) == MAX_ATTEMPTS
        # the sweep does not bring a dead delivery back
        async with pool.acquire() as conn:
            await notifications.sweep(conn, older_than=0)
        # the receiver is fixed; the operator replays
        receiver.status = 204
        async with pool.acquire() as conn:
            replayed = await notifications.replay(conn, subscription.id, "webhook", dead.id)
            assert replayed.state == "pending"
        delivered = await wait_for_state(pool, subscription.id, "delivered")
        await receiver.wait_for(MAX_ATTEMPTS + 1, TIMEOUT)
        # a delivered one is not replayed: a healthy receiver never gets it twice
        async with pool.acquire() as conn:
            with pytest.raises(notifications.NotReplayable):
                await notifications.replay(conn, subscription.id, "webhook", dead.id)
    assert len(delivered.log) == MAX_ATTEMPTS + 1
    assert delivered.log[-1].status_code == 204
    assert len(set(receiver.event_ids)) == 1  # the same event id every time: receivers dedupe
    assert all(r.signed for r in receiver.received)


async def test_never_twice_with_two_workers(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    """Two workers (two PgQueuer queues), every delivery's job queued three more times:
    each event reaches the healthy receiver exactly once."""
    subscription = await subscribe_webhook()
    count = 20
    async with worker_running(database_url), worker_running(database_url):
        for _ in range(count):
            await notify()
        async with asyncio.timeout(TIMEOUT):
            while len(await deliveries_of(pool, subscription.id)) < count:
                await asyncio.sleep(0.02)
        deliveries = await deliveries_of(pool, subscription.id)
        async with pool.acquire() as conn:
            for delivery in deliveries:
                for _ in range(3):
                    await notifications.enqueue_job(
                        conn, notifications.DELIVER_JOB, {"delivery_id": delivery.id}
                    )
        await receiver.wait_for(count, TIMEOUT)
        async with asyncio.timeout(TIMEOUT):
            while any(d.state != "delivered" for d in await deliveries_of(pool, subscription.id)):
                await asyncio.sleep(0.02)
        # the duplicate jobs ran out (none left for this test's deliveries; the run's other
        # tests may leave jobs of their own in the shared queue)
        ids = [d.id for d in deliveries]
        async with asyncio.timeout(TIMEOUT):
            while await pool.fetchval(
                """SELECT count(*) FROM pgqueuer WHERE entrypoint = $1 AND
                   (convert_from(payload, 'UTF8')::jsonb ->> 'delivery_id')::bigint
                   = ANY($2)""",
                notifications.DELIVER_JOB,
                ids,
            ):
                await asyncio.sleep(0.02)
    assert len(receiver.event_ids) == count
    assert len(set(receiver.event_ids)) == count
    assert all(len(d.log) == 1 for d in await deliveries_of(pool, subscription.id))


async def test_racing_claims_send_once(
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    """Five notifiers (as five worker processes) deliver the same delivery at once to a
    slow receiver: one claim wins, one request is sent."""
    subscription = await subscribe_webhook()
    receiver.delay = 0.3
    await notify()
    async with pool.acquire() as conn:
        notification_id = await conn.fetchval(
            "SELECT max(id) FROM notification_outbox WHERE site_id = $1",
            subscription.site_id,
        )
        [delivery_id] = await notifications.fan_out(conn, notification_id)
        assert await notifications.fan_out(conn, notification_id) == []  # once
    settings = worker_settings()
    async with httpx.AsyncClient() as client:
        notifiers = [Notifier(pool, settings, client) for _ in range(5)]
        states = await asyncio.gather(*(n.deliver(delivery_id) for n in notifiers))
    assert sorted(states) == ["", "", "", "", "delivered"]
    assert len(receiver.received) == 1


async def test_worker_dead_mid_send_is_taken_over_after_its_lease(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    """A worker claimed the delivery and died before it sent it: while its claim holds,
    nobody sends; once it ran out, the sweep queues it and another worker delivers."""
    subscription = await subscribe_webhook()
    await notify()
    async with pool.acquire() as conn:
        notification_id = await conn.fetchval(
            "SELECT max(id) FROM notification_outbox WHERE site_id = $1", subscription.site_id
        )
        [delivery_id] = await notifications.fan_out(conn, notification_id)
        # the dead worker's claim, with a lease of half a second
        work = await notifications.claim(conn, delivery_id, "worker-that-died", 0.5)
        assert work is not None and work.attempt == 1
        assert "secrets" not in repr(work) and subscription.id == work.subscription_id
        assert await notifications.claim(conn, delivery_id, "another-worker", 30) is None
        # its job is gone with it (done as far as the queue knows)
        await conn.execute(
            "DELETE FROM pgqueuer WHERE entrypoint = $1 AND payload = $2",
            notifications.DELIVER_JOB,
            orjson.dumps({"delivery_id": delivery_id}),
        )
    async with worker_running(database_url):
        await asyncio.sleep(0.6)  # the lease runs out (nothing to await: it is a time)
        async with pool.acquire() as conn:
            _, queued = await notifications.sweep(conn, older_than=SWEEP_AFTER_TEST)
        assert queued >= 1
        delivered = await wait_for_state(pool, subscription.id, "delivered")
        await receiver.wait_for(1, TIMEOUT)
    assert [a.attempt for a in delivered.log] == [2]  # try 1 died with its worker
    assert len(receiver.received) == 1


SWEEP_AFTER_TEST = 0.0


async def test_counts_by_state_and_purge(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    async with pool.acquire() as conn:
        before = await notifications.count_deliveries_by_state(conn)
    assert set(before) == {"pending", "sending", "failed", "delivered", "dead"}
    subscription = await subscribe_webhook()
    async with worker_running(database_url):
        await notify()
        await wait_for_state(pool, subscription.id, "delivered")
    async with pool.acquire() as conn:
        after = await notifications.count_deliveries_by_state(conn)
        assert after["delivered"] == before["delivered"] + 1
        # old enough and done: purged with its delivery and log
        await conn.execute(
            "UPDATE notification_outbox SET created_at = now() - interval '40 days' "
            "WHERE site_id = $1",
            subscription.site_id,
        )
        assert await notifications.purge(conn, older_than_days=30) >= 1
        assert await deliveries_of(pool, subscription.id) == []


async def test_slow_receiver_is_a_failed_try(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    """No answer within CSMS_WEBHOOK_TIMEOUT: the try failed, whatever the receiver does
    later."""
    subscription = await subscribe_webhook()
    receiver.delay = 2.0
    async with worker_running(database_url, webhook_timeout=0.3, notify_max_attempts=1):
        await notify()
        dead = await wait_for_state(pool, subscription.id, "dead")
    [attempt] = dead.log
    assert attempt.error == "no answer within 0.3 s" and attempt.status_code is None
    assert 300 <= attempt.latency_ms < 2000
