"""Notifications end to end: real PostgreSQL, ``csms worker`` (PgQueuer) running the
notification jobs, webhook receivers on port 0 and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from csms.settings import WorkerSettings
from csms.store import notification_subscriptions as subscriptions
from csms.store import notifications
from csms.worker.runtime import Worker, running_worker
from tests.fakes.webhook_receiver import Receiver, running_receiver
from tests.timeouts import TIMEOUT

MAX_ATTEMPTS = 3
SMTP_USER = "csms-mailer"
SMTP_PASSWORD = "smtp-test-password-123"


def worker_settings(**extra: Any) -> WorkerSettings:
    options: dict[str, Any] = {
        "job_poll_interval": 0.1,
        "job_retry_delay": 0.1,
        "notify_retry_delay": 0.2,
        "notify_retry_max_delay": 0.8,
        "notify_max_attempts": MAX_ATTEMPTS,
        "webhook_timeout": 2.0,
        "webhook_allow_private": True,  # the receivers listen on 127.0.0.1
        "smtp_timeout": 5.0,
        "db_pool_min": 1,
        "db_pool_max": 4,
        **extra,
    }
    return WorkerSettings(**options)


@asynccontextmanager
async def worker_running(database_url: str, **extra: Any) -> AsyncIterator[Worker]:
    async with running_worker(worker_settings(**extra), database_url) as worker:
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            async with asyncio.timeout(TIMEOUT):
                await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def site() -> str:
    """A site of this test alone: its subscriptions see only its notifications."""
    return f"NS-{secrets.token_hex(4)}"


Subscribe = Callable[..., Awaitable[subscriptions.Subscription]]


@pytest.fixture
def subscribe_webhook(pool: asyncpg.Pool, receiver: Receiver, site: str) -> Subscribe:
    async def subscribe(**options: Any) -> subscriptions.Subscription:
        secret = "whsec_" + secrets.token_urlsafe(32)
        receiver.secret = secret
        async with pool.acquire() as conn:
            return await subscriptions.create_subscription(
                conn,
                kind="webhook",
                event_types=options.pop("event_types", ["alarm.*"]),
                site_id=options.pop("site_id", site),
                url=options.pop("url", receiver.url),
                secret=secret,
                **options,
            )

    return subscribe


Notify = Callable[..., Awaitable[str]]


@pytest.fixture
def notify(pool: asyncpg.Pool, site: str) -> Notify:
    """Enqueue a notification in a transaction of its own; returns its key."""

    async def enqueue(event_type: str = "alarm.raised", **payload: Any) -> str:
        key = f"test-{secrets.token_hex(8)}"
        async with pool.acquire() as conn, conn.transaction():
            await notifications.enqueue(
                conn,
                event_type,
                {"summary": "Connector 1 Faulted", **payload},
                site_id=site,
                charge_point_id="CP-NOTIFY-1",
                key=key,
            )
        return key

    return enqueue


async def deliveries_of(pool: asyncpg.Pool, subscription_id: int) -> list[notifications.Delivery]:
    async with pool.acquire() as conn:
        return await notifications.list_deliveries(
            conn, subscription_id, "webhook", state=None, before=None, limit=1000
        )


async def wait_for_state(
    pool: asyncpg.Pool, subscription_id: int, state: str, *, kind: str = "webhook"
) -> notifications.Delivery:
    """The subscription's only delivery, once it is in ``state``."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            async with pool.acquire() as conn:
                found = await notifications.list_deliveries(
                    conn, subscription_id, kind, state=None, before=None, limit=10
                )
            if found and found[0].state == state:
                return found[0]
            await asyncio.sleep(0.02)


# -- SMTP --------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Envelope] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)
    arrived: asyncio.Queue[Envelope] = field(default_factory=asyncio.Queue)


class _Handler:
    def __init__(self, mailbox: Mailbox, loop: asyncio.AbstractEventLoop) -> None:
        self.mailbox = mailbox
        self.loop = loop

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.mailbox.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.mailbox.messages.append(envelope)
        self.loop.call_soon_threadsafe(self.mailbox.arrived.put_nowait, envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    """aiosmtpd in its thread, with AUTH (LOGIN/PLAIN) over a plain connection."""
    box = Mailbox("127.0.0.1", _free_port())

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> Any:  # fmt: skip
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (SMTP_USER, SMTP_PASSWORD):
            box.logins.append(SMTP_USER)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    controller = Controller(
        _Handler(box, asyncio.get_running_loop()),
        hostname=box.host,
        port=box.port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    await asyncio.to_thread(controller.start)
    try:
        yield box
    finally:
        await asyncio.to_thread(controller.stop)
