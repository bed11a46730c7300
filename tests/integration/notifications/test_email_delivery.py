"""E-mail notifications through a real SMTP server (aiosmtpd, port chosen by the test)."""

from __future__ import annotations

import asyncio
import email
from email.message import Message

import asyncpg
import pytest

from csms.store import notification_subscriptions as subscriptions
from csms.store import notifications
from tests.integration.notifications.conftest import (
    MAX_ATTEMPTS,
    SMTP_PASSWORD,
    SMTP_USER,
    Mailbox,
    Notify,
    wait_for_state,
    worker_running,
)
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


def smtp(mailbox: Mailbox, **extra: object) -> dict[str, object]:
    return {
        "smtp_host": mailbox.host,
        "smtp_port": mailbox.port,
        "smtp_tls": "none",
        "smtp_from": "alarms@csms.example",
        **extra,
    }


async def subscribe(pool: asyncpg.Pool, site: str, recipients: list[str]) -> int:
    async with pool.acquire() as conn:
        subscription = await subscriptions.create_subscription(
            conn,
            kind="email",
            event_types=["alarm.raised", "alarm.cleared"],
            site_id=site,
            recipients=recipients,
        )
    return subscription.id


async def test_email_received_with_the_event(
    database_url: str, pool: asyncpg.Pool, mailbox: Mailbox, notify: Notify, site: str
) -> None:
    recipients = ["night-shift@operator.example", "lead@operator.example"]
    subscription_id = await subscribe(pool, site, recipients)
    settings = smtp(mailbox, smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD)
    async with worker_running(database_url, **settings):
        await notify("alarm.raised", severity="critical", alarm_id=42)
        await notify("session.ended")  # not subscribed
        async with asyncio.timeout(TIMEOUT):
            envelope = await mailbox.arrived.get()
        delivery = await wait_for_state(pool, subscription_id, "delivered", kind="email")
    assert mailbox.logins == [SMTP_USER]  # AUTH with the configured credentials
    assert envelope.mail_from == "alarms@csms.example"
    assert sorted(envelope.rcpt_tos) == sorted(recipients)
    assert isinstance(envelope.content, bytes)
    message: Message = email.message_from_bytes(envelope.content)
    assert message["Subject"] == "[CSMS] alarm.raised: Connector 1 Faulted"
    assert message["From"] == "alarms@csms.example"
    assert message["X-CSMS-Event-Id"] == str(delivery.event_id)
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert "Charger:  CP-NOTIFY-1" in text and f"Site:     {site}" in text
    assert '"alarm_id": 42' in text and '"severity": "critical"' in text
    assert str(delivery.event_id) in text
    assert [a.outcome for a in delivery.log] == ["delivered"]
    assert len(mailbox.messages) == 1


async def test_refused_recipient_is_retried_then_dead(
    database_url: str, pool: asyncpg.Pool, mailbox: Mailbox, notify: Notify, site: str
) -> None:
    mailbox.refuse.add("gone@operator.example")
    subscription_id = await subscribe(pool, site, ["gone@operator.example"])
    async with worker_running(database_url, **smtp(mailbox)):
        await notify("alarm.cleared")
        dead = await wait_for_state(pool, subscription_id, "dead", kind="email")
    assert len(dead.log) == MAX_ATTEMPTS
    assert all("gone@operator.example" in (a.error or "") for a in dead.log), dead.log
    assert mailbox.messages == []


async def test_smtp_server_down_then_back(
    database_url: str, pool: asyncpg.Pool, mailbox: Mailbox, notify: Notify, site: str
) -> None:
    subscription_id = await subscribe(pool, site, ["ops@operator.example"])
    smtp_port = mailbox.port
    async with worker_running(database_url, **smtp(mailbox, smtp_port=1)):
        await notify("alarm.raised")
        failed = await wait_for_state(pool, subscription_id, "dead", kind="email")
    assert all(a.status_code is None and a.error for a in failed.log)
    # CSMS_SMTP_PORT fixed: the operator replays the dead delivery
    async with worker_running(database_url, **smtp(mailbox, smtp_port=smtp_port)):
        async with pool.acquire() as conn:
            await notifications.replay(conn, subscription_id, "email", failed.id)
        async with asyncio.timeout(TIMEOUT):
            await mailbox.arrived.get()
        delivered = await wait_for_state(pool, subscription_id, "delivered", kind="email")
    assert len(delivered.log) == MAX_ATTEMPTS + 1
