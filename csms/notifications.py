"""Notifications over the network: webhook URL checks (with DNS), webhook POSTs and
e-mail through SMTP. The worker sends (:mod:`csms.worker.notifications`); the backoffice
checks URLs when a subscription is created or changed.

E-mail goes through the standard library's ``smtplib`` in a thread: one e-mail per
delivery is far from any volume where a thread per send matters, and it spares a
dependency (``aiosmtplib``) for what the standard library does well (STARTTLS, implicit
TLS, AUTH).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import orjson

from csms.domain.notifications import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK_SECRET_PURPOSE,
    Origin,
    check_webhook_url,
    signature_header,
    url_origin,
)
from csms.settings import NotificationSettings
from csms.store.notifications import Outcome, Work

ERROR_LENGTH = 500
RESPONSE_SNIPPET = 200  # bytes of a failed answer kept in the log


RESOLVE_TIMEOUT = 10.0


async def resolve(host: str, port: int, *, timeout: float = RESOLVE_TIMEOUT) -> list[str]:
    """The addresses ``host`` resolves to (none if it does not, or not within ``timeout``
    seconds)."""
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except (socket.gaierror, UnicodeError, TimeoutError):
        return []
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


async def check_url(
    url: str,
    *,
    allow_private: bool,
    platform: Iterable[Origin] = (),
    timeout: float = RESOLVE_TIMEOUT,
) -> None:
    """:func:`csms.domain.notifications.check_webhook_url` with the host resolved."""
    host, port = url_origin(url)
    addresses = await resolve(host, port, timeout=timeout)
    check_webhook_url(url, addresses, allow_private=allow_private, platform=platform)


def event_body(work: Work) -> bytes:
    """The JSON a webhook receives (the same bytes at every try)."""
    return orjson.dumps(
        {
            "id": str(work.event_id),
            "type": work.event_type,
            "created_at": work.created_at.astimezone(UTC).isoformat(),
            "site_id": work.site_id,
            "charge_point_id": work.charge_point_id,
            "data": work.payload,
        }
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def post_webhook(
    client: httpx.AsyncClient, work: Work, settings: NotificationSettings
) -> Outcome:
    """POST the event, signed; a 2xx is delivered, anything else (3xx included: redirects
    are not followed) or no answer is a failure."""
    assert work.url is not None
    box = settings.secret_box  # a secret no key opens fails this try, naming no secret
    started = _now()
    clock = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        # the whole try, resolution included, within the timeout (httpx's is per read)
        async with asyncio.timeout(settings.webhook_timeout):
            await check_url(
                work.url,
                allow_private=settings.webhooks_may_be_private,
                timeout=settings.webhook_timeout,
            )
            body = event_body(work)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "csms-webhooks/1",
                EVENT_ID_HEADER: str(work.event_id),
                EVENT_TYPE_HEADER: work.event_type,
                DELIVERY_ID_HEADER: str(work.delivery_id),
                SIGNATURE_HEADER: signature_header(
                    [box.open(sealed, purpose=WEBHOOK_SECRET_PURPOSE) for sealed in work.secrets],
                    int(time.time()),
                    body,
                ),
            }
            async with client.stream(
                "POST", work.url, content=body, headers=headers, timeout=settings.webhook_timeout
            ) as response:
                status = response.status_code
                if not 200 <= status < 300:
                    # a few bytes of the answer for the log, never all of it
                    start = b""
                    async for chunk in response.aiter_bytes():
                        start += chunk
                        if len(start) >= RESPONSE_SNIPPET:
                            break
                    text = start[:RESPONSE_SNIPPET].decode("utf-8", "replace")
                    error = f"HTTP {status}: {text}"
    except TimeoutError:
        error = f"no answer within {settings.webhook_timeout:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # refused URL (InvalidInput) and the unforeseen: a failed try
        error = f"{type(exc).__name__}: {exc}"
    latency = int((time.monotonic() - clock) * 1000)
    return Outcome(started, latency, status, _short(error), error is None)


def _short(error: str | None) -> str | None:
    return None if error is None else error[:ERROR_LENGTH]


def email_message(work: Work, sender: str) -> EmailMessage:
    """A plain-text e-mail of the event to the subscription's recipients."""
    data = work.payload
    summary = next(
        (str(data[k]) for k in ("summary", "title", "message", "description") if data.get(k)),
        "",
    )
    where = ", ".join(
        part
        for part in (
            f"charger {work.charge_point_id}" if work.charge_point_id else "",
            f"site {work.site_id}" if work.site_id else "",
        )
        if part
    )
    subject = f"[CSMS] {work.event_type}"
    if summary:
        subject += f": {summary}"
    elif where:
        subject += f": {where}"
    message = EmailMessage()
    message["Subject"] = subject[:200].replace("\n", " ").replace("\r", " ")
    message["From"] = sender
    message["To"] = ", ".join(work.recipients)
    message["Message-ID"] = make_msgid(idstring=f"{work.event_id}.{work.delivery_id}")
    message[EVENT_ID_HEADER] = str(work.event_id)
    message[EVENT_TYPE_HEADER] = work.event_type
    lines = [
        f"Event:    {work.event_type}",
        f"Event id: {work.event_id}",
        f"Time:     {work.created_at.astimezone(UTC).isoformat()}",
    ]
    if work.site_id:
        lines.append(f"Site:     {work.site_id}")
    if work.charge_point_id:
        lines.append(f"Charger:  {work.charge_point_id}")
    lines += ["", orjson.dumps(data, option=orjson.OPT_INDENT_2).decode(), ""]
    message.set_content("\n".join(lines))
    return message


def _send_mail(message: EmailMessage, settings: NotificationSettings) -> None:
    assert settings.smtp_host is not None
    port = settings.smtp_port_or_default
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_tls == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, port, timeout=settings.smtp_timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, port, timeout=settings.smtp_timeout)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            password = settings.smtp_password
            secret = "" if password is None else password.get_secret_value()
            smtp.login(settings.smtp_username, secret)
        smtp.send_message(message)


async def send_email(work: Work, settings: NotificationSettings) -> Outcome:
    """Send the event by e-mail through CSMS_SMTP_HOST; refused recipients, a server
    that cannot be reached or answers an error are a failed try."""
    started = _now()
    clock = time.monotonic()
    error: str | None = None
    status: int | None = None
    if not settings.smtp_host:
        error = "no SMTP server configured (CSMS_SMTP_HOST)"
    else:
        try:
            await asyncio.to_thread(_send_mail, email_message(work, settings.smtp_from), settings)
        except smtplib.SMTPResponseException as exc:
            status = exc.smtp_code
            error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        except smtplib.SMTPRecipientsRefused as exc:
            error = f"recipients refused: {', '.join(exc.recipients)}"
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    latency = int((time.monotonic() - clock) * 1000)
    return Outcome(started, latency, status, _short(error), error is None)
