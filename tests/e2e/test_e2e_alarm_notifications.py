"""Alarms reach operators by webhook and e-mail (issue 15; docs/how-to/get-alarms-by-webhook-
and-email.md), end to end: an operator subscribes over REST with a real token, a simulated
charger over a real WebSocket to a ``csms node`` process faults and recovers, the node
raises and clears the alarm (the notification enqueued in the alarm's own transaction), and
``csms worker`` (in process, PgQueuer) delivers each transition once: signed to a webhook
receiver on port 0 and by SMTP to a real server (aiosmtpd).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import asyncpg
import pytest

from csms.settings import WorkerSettings
from csms.worker.runtime import running_worker
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import eventually, new_station, online, register_chargers
from tests.e2e.test_e2e_alarms import Api, api, one_in_state  # noqa: F401 (fixture)
from tests.fakes.webhook_receiver import Receiver, running_receiver
from tests.integration.notifications.conftest import Mailbox, mailbox  # noqa: F401 (fixture)
from tests.timeouts import TIMEOUT


@contextlib.asynccontextmanager
async def worker_running(
    database_url: str, redis_url: str, prefix: str, box: Mailbox
) -> AsyncIterator[None]:
    config = WorkerSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        db_pool_min=1,
        db_pool_max=4,
        job_poll_interval=0.1,
        notify_retry_delay=0.2,
        notify_retry_max_delay=0.8,
        webhook_allow_private=True,  # the receiver listens on 127.0.0.1
        smtp_host=box.host,
        smtp_port=box.port,
        smtp_tls="none",  # the test server speaks plain SMTP
        smtp_from="csms@example.test",
    )
    async with running_worker(config, database_url, redis_url) as worker:
        task = asyncio.create_task(worker.run())
        try:
            yield
        finally:
            worker.stop()
            async with asyncio.timeout(TIMEOUT):
                await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as receiver:
        yield receiver


async def test_a_faulted_connector_reaches_the_operator_by_webhook_and_email(
    cluster: Cluster,
    pool: asyncpg.Pool,
    api: Api,  # noqa: F811
    receiver: Receiver,
    mailbox: Mailbox,  # noqa: F811
    database_url: str,
    redis_url: str,
    prefix: str,
) -> None:
    site = f"AN-{secrets.token_hex(4)}"
    created = await api.operator.post(
        "/api/v1/sites", json={"id": site, "name": "Depot", "time_zone": "Europe/Berlin"}
    )
    assert created.status_code == 201, created.text
    (cp,) = await register_chargers(pool, 1)
    placed = await api.operator.put(f"/api/v1/chargers/{cp}/site", json={"site_id": site})
    assert placed.status_code == 200, placed.text

    # the operator subscribes: a webhook for every alarm event of the site, e-mail for raises
    hook = await api.operator.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "event_types": ["alarm.*"], "site_id": site},
    )
    assert hook.status_code == 201, hook.text
    receiver.secret = hook.json()["secret"]  # shown once
    mail = await api.operator.post(
        "/api/v1/email-subscriptions",
        json={"recipients": ["ops@example.test"], "event_types": ["alarm.raised"], "site_id": site},
    )
    assert mail.status_code == 201, mail.text
    # a monitor may not configure notifications
    refused = await api.monitor.post(
        "/api/v1/webhooks", json={"url": receiver.url, "event_types": ["alarm.*"]}
    )
    assert refused.status_code == 403

    async with worker_running(database_url, redis_url, prefix, mailbox):
        (n1,) = await cluster.start("n1")
        station = await online(new_station(n1.url, cp, "1.6"))
        await station.status_notification(1, "Faulted", "GroundFailure")
        raised = await eventually(
            lambda: one_in_state(pool, cp, "connector_faulted", "raised"), "alarm raised"
        )
        first = await receiver.wait_for(1, TIMEOUT)
        envelope = await asyncio.wait_for(mailbox.arrived.get(), TIMEOUT)

        await station.status_notification(1, "Available", "NoError")
        await eventually(
            lambda: one_in_state(pool, cp, "connector_faulted", "cleared"), "alarm cleared"
        )
        both = await receiver.wait_for(2, TIMEOUT)
        await asyncio.sleep(1.0)  # anything sent twice would have arrived by now

    events: list[dict[str, Any]] = [r.event for r in both]
    assert [r.signed for r in both] == [True, True]
    assert len(set(receiver.event_ids)) == len(receiver.received) == 2  # never duplicated
    assert [e["type"] for e in events] == ["alarm.raised", "alarm.cleared"]
    assert first[0].headers["x-csms-event-type"] == "alarm.raised"
    for event in events:
        assert event["site_id"] == site and event["charge_point_id"] == cp
    assert str(raised["id"]) in str(events[0]["data"])
    # one e-mail: the raise (the subscription did not ask for clears)
    assert mailbox.messages == [envelope]
    assert envelope.rcpt_tos == ["ops@example.test"]
    text = message_from_bytes(envelope.original_content or b"").as_string()
    assert cp in text and "alarm.raised" in text
