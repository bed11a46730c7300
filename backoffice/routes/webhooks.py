"""Notification subscriptions: webhooks (``/webhooks``) and e-mail
(``/email-subscriptions``), their delivery logs and replays; the event catalogue.

Operators configure them. A webhook's signing secret is generated here, shown once in the
answer to its creation or rotation, and never again (nor logged). A webhook URL must be
http(s) and may not point at the platform itself (this backoffice, its public URLs) or,
unless CSMS_WEBHOOK_ALLOW_PRIVATE, at a loopback or private address: 422 otherwise.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request, Response, status

from backoffice.deps import Operator, PageDep, PageParams, PoolDep, Reader, SettingsDep
from backoffice.errors import Conflict
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.schemas.notifications import (
    DeliveryPublic,
    DeliveryState,
    EmailSubscriptionCreate,
    EmailSubscriptionPublic,
    EmailSubscriptionUpdate,
    EventTypePublic,
    TestEvent,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from csms.domain.notifications import (
    EVENT_TYPES,
    WEBHOOK_SECRET_PURPOSE,
    Origin,
    check_subscribed_types,
    url_origin,
)
from csms.errors import InvalidInput
from csms.notifications import check_url
from csms.settings import BackofficeSettings
from csms.store import notification_subscriptions as subscriptions
from csms.store import notifications as store

router = APIRouter(prefix=f"{API}/webhooks", tags=["notifications"])
email_router = APIRouter(prefix=f"{API}/email-subscriptions", tags=["notifications"])
catalogue_router = APIRouter(prefix=f"{API}/notification-event-types", tags=["notifications"])

SubscriptionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
StateFilter = Annotated[DeliveryState | None, Query(description="Only deliveries in this state")]


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _platform(request: Request, settings: BackofficeSettings) -> list[Origin]:
    """Where this platform is reached: the socket this request came in on, the host it was
    sent to, the configured API address and the public URLs handed to chargers."""
    origins: list[Origin] = [(settings.api_host, settings.api_port)]
    server = request.scope.get("server")
    if server and server[1] is not None:
        origins.append((str(server[0]), int(server[1])))
    if request.url.hostname:
        default = 443 if request.url.scheme == "https" else 80
        origins.append((request.url.hostname, request.url.port or default))
    for url in (settings.firmware_base_url, settings.log_upload_base_url):
        if url:
            try:
                origins.append(url_origin(url))
            except InvalidInput:
                pass
    return origins


async def _checked_url(url: str, request: Request, settings: BackofficeSettings) -> str:
    await check_url(
        url,
        allow_private=settings.webhooks_may_be_private,
        platform=_platform(request, settings),
    )
    return url


def webhook_public(subscription: subscriptions.Subscription) -> WebhookPublic:
    return WebhookPublic(
        id=subscription.id,
        url=subscription.url or "",
        event_types=subscription.event_types,
        site_id=subscription.site_id,
        description=subscription.description,
        enabled=subscription.enabled,
        created_by=subscription.created_by,
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
        secret_rotated_at=subscription.secret_rotated_at,
    )


def email_public(subscription: subscriptions.Subscription) -> EmailSubscriptionPublic:
    return EmailSubscriptionPublic(
        id=subscription.id,
        recipients=subscription.recipients,
        event_types=subscription.event_types,
        site_id=subscription.site_id,
        description=subscription.description,
        enabled=subscription.enabled,
        created_by=subscription.created_by,
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
    )


def delivery_public(delivery: store.Delivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


# -- the catalogue -----------------------------------------------------------------------------


@catalogue_router.get("", response_model=list[EventTypePublic])
async def event_types(_: Reader) -> list[EventTypePublic]:
    """The event types a subscription may name (also ``family.*`` and ``*``)."""
    return [EventTypePublic(type=name, description=text) for name, text in EVENT_TYPES.items()]


# -- webhooks ----------------------------------------------------------------------------------


@router.post("", response_model=WebhookWithSecret, status_code=status.HTTP_201_CREATED)
async def create_webhook(
    principal: Operator,
    pool: PoolDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
    body: WebhookCreate,
) -> WebhookWithSecret:
    """Subscribe a URL; the answer carries the signing secret, the only time it is shown."""
    event_types = check_subscribed_types(body.event_types)
    url = await _checked_url(body.url, request, settings)
    secret = new_secret()
    async with pool.acquire() as conn:
        subscription = await subscriptions.create_subscription(
            conn,
            kind="webhook",
            event_types=event_types,
            site_id=body.site_id,
            description=body.description,
            url=url,
            secret=settings.secret_box.seal(secret, purpose=WEBHOOK_SECRET_PURPOSE),
            enabled=body.enabled,
            created_by=principal.username,
        )
    response.headers["Location"] = f"{API}/webhooks/{subscription.id}"
    return WebhookWithSecret(**webhook_public(subscription).model_dump(), secret=secret)


@router.get("", response_model=Page[WebhookPublic])
async def list_webhooks(_: Operator, pool: PoolDep, page: PageDep) -> Page[WebhookPublic]:
    """By id."""
    after = decode_cursor(page.cursor, int)
    async with pool.acquire() as conn:
        rows = await subscriptions.list_subscriptions(
            conn, "webhook", after=after, limit=page.limit + 1
        )
    items, cursor = page_of(rows, page.limit, lambda s: s.id)
    return Page(items=[webhook_public(s) for s in items], next_cursor=cursor)


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def get_webhook(_: Operator, pool: PoolDep, webhook_id: SubscriptionId) -> WebhookPublic:
    async with pool.acquire() as conn:
        return webhook_public(await subscriptions.get_subscription(conn, webhook_id, "webhook"))


@router.patch("/{webhook_id}", response_model=WebhookPublic)
async def update_webhook(
    _: Operator,
    pool: PoolDep,
    settings: SettingsDep,
    request: Request,
    webhook_id: SubscriptionId,
    body: WebhookUpdate,
) -> WebhookPublic:
    """Change the fields given; a new URL is checked as at creation."""
    changes = _changes(body.model_fields_set, body.model_dump())
    if "url" in changes:
        changes["url"] = await _checked_url(changes["url"], request, settings)
    async with pool.acquire() as conn:
        return webhook_public(
            await subscriptions.update_subscription(conn, webhook_id, "webhook", changes)
        )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(_: Operator, pool: PoolDep, webhook_id: SubscriptionId) -> None:
    """With its deliveries and their log; deliveries not made yet are dropped."""
    async with pool.acquire() as conn:
        await subscriptions.delete_subscription(conn, webhook_id, "webhook")


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
async def rotate_webhook_secret(
    _: Operator, pool: PoolDep, settings: SettingsDep, webhook_id: SubscriptionId
) -> WebhookWithSecret:
    """A new signing secret, shown once; the old one keeps signing beside it (a second
    ``v1=`` in the signature header) for CSMS_WEBHOOK_SECRET_GRACE seconds."""
    secret = new_secret()
    async with pool.acquire() as conn:
        subscription = await subscriptions.rotate_secret(
            conn,
            webhook_id,
            settings.secret_box.seal(secret, purpose=WEBHOOK_SECRET_PURPOSE),
            grace=settings.webhook_secret_grace,
        )
    return WebhookWithSecret(**webhook_public(subscription).model_dump(), secret=secret)


@router.post("/{webhook_id}/test", response_model=TestEvent, status_code=status.HTTP_202_ACCEPTED)
async def test_webhook(principal: Operator, pool: PoolDep, webhook_id: SubscriptionId) -> TestEvent:
    """Send a ``notification.test`` event to this webhook alone (enabled or not, whatever
    its event types); follow it in the delivery log."""
    return await _test_event(pool, webhook_id, "webhook", principal.username)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryPublic])
async def webhook_deliveries(
    _: Operator,
    pool: PoolDep,
    page: PageDep,
    webhook_id: SubscriptionId,
    state: StateFilter = None,
) -> Page[DeliveryPublic]:
    """The delivery log, newest first: each delivery with every attempt (status code,
    error, latency)."""
    return await _deliveries(pool, page, webhook_id, "webhook", state)


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryPublic)
async def webhook_delivery(
    _: Operator, pool: PoolDep, webhook_id: SubscriptionId, delivery_id: DeliveryId
) -> DeliveryPublic:
    async with pool.acquire() as conn:
        return delivery_public(await store.get_delivery(conn, webhook_id, "webhook", delivery_id))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryPublic,
    status_code=status.HTTP_202_ACCEPTED,
)
async def replay_webhook_delivery(
    _: Operator, pool: PoolDep, webhook_id: SubscriptionId, delivery_id: DeliveryId
) -> DeliveryPublic:
    """Send a failed or dead delivery again now (same event id), with a new round of
    tries; 409 for one delivered or being sent."""
    return await _replay(pool, webhook_id, "webhook", delivery_id)


# -- e-mail ------------------------------------------------------------------------------------


@email_router.post("", response_model=EmailSubscriptionPublic, status_code=201)
async def create_email_subscription(
    principal: Operator, pool: PoolDep, response: Response, body: EmailSubscriptionCreate
) -> EmailSubscriptionPublic:
    """E-mail the recipients each event of these types (through CSMS_SMTP_HOST)."""
    event_types = check_subscribed_types(body.event_types)
    async with pool.acquire() as conn:
        subscription = await subscriptions.create_subscription(
            conn,
            kind="email",
            event_types=event_types,
            site_id=body.site_id,
            description=body.description,
            recipients=body.recipients,
            enabled=body.enabled,
            created_by=principal.username,
        )
    response.headers["Location"] = f"{API}/email-subscriptions/{subscription.id}"
    return email_public(subscription)


@email_router.get("", response_model=Page[EmailSubscriptionPublic])
async def list_email_subscriptions(
    _: Operator, pool: PoolDep, page: PageDep
) -> Page[EmailSubscriptionPublic]:
    """By id."""
    after = decode_cursor(page.cursor, int)
    async with pool.acquire() as conn:
        rows = await subscriptions.list_subscriptions(
            conn, "email", after=after, limit=page.limit + 1
        )
    items, cursor = page_of(rows, page.limit, lambda s: s.id)
    return Page(items=[email_public(s) for s in items], next_cursor=cursor)


@email_router.get("/{subscription_id}", response_model=EmailSubscriptionPublic)
async def get_email_subscription(
    _: Operator, pool: PoolDep, subscription_id: SubscriptionId
) -> EmailSubscriptionPublic:
    async with pool.acquire() as conn:
        return email_public(await subscriptions.get_subscription(conn, subscription_id, "email"))


@email_router.patch("/{subscription_id}", response_model=EmailSubscriptionPublic)
async def update_email_subscription(
    _: Operator, pool: PoolDep, subscription_id: SubscriptionId, body: EmailSubscriptionUpdate
) -> EmailSubscriptionPublic:
    changes = _changes(body.model_fields_set, body.model_dump())
    async with pool.acquire() as conn:
        return email_public(
            await subscriptions.update_subscription(conn, subscription_id, "email", changes)
        )


@email_router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_email_subscription(
    _: Operator, pool: PoolDep, subscription_id: SubscriptionId
) -> None:
    async with pool.acquire() as conn:
        await subscriptions.delete_subscription(conn, subscription_id, "email")


@email_router.post(
    "/{subscription_id}/test", response_model=TestEvent, status_code=status.HTTP_202_ACCEPTED
)
async def test_email_subscription(
    principal: Operator, pool: PoolDep, subscription_id: SubscriptionId
) -> TestEvent:
    """Send a ``notification.test`` e-mail to this subscription's recipients alone."""
    return await _test_event(pool, subscription_id, "email", principal.username)


@email_router.get("/{subscription_id}/deliveries", response_model=Page[DeliveryPublic])
async def email_deliveries(
    _: Operator,
    pool: PoolDep,
    page: PageDep,
    subscription_id: SubscriptionId,
    state: StateFilter = None,
) -> Page[DeliveryPublic]:
    """The delivery log, newest first, with every attempt (SMTP reply code, error)."""
    return await _deliveries(pool, page, subscription_id, "email", state)


@email_router.get("/{subscription_id}/deliveries/{delivery_id}", response_model=DeliveryPublic)
async def email_delivery(
    _: Operator, pool: PoolDep, subscription_id: SubscriptionId, delivery_id: DeliveryId
) -> DeliveryPublic:
    async with pool.acquire() as conn:
        return delivery_public(
            await store.get_delivery(conn, subscription_id, "email", delivery_id)
        )


@email_router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryPublic,
    status_code=status.HTTP_202_ACCEPTED,
)
async def replay_email_delivery(
    _: Operator, pool: PoolDep, subscription_id: SubscriptionId, delivery_id: DeliveryId
) -> DeliveryPublic:
    """Send a failed or dead e-mail again now; 409 for one delivered or being sent."""
    return await _replay(pool, subscription_id, "email", delivery_id)


# -- shared ------------------------------------------------------------------------------------


def _changes(fields: set[str], values: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in fields:
        value = values[name]
        if value is None and name != "site_id":
            raise InvalidInput(f"{name}: may not be null")
        changes[name] = value
    if "event_types" in changes:
        changes["event_types"] = check_subscribed_types(changes["event_types"])
    return changes


async def _test_event(
    pool: asyncpg.Pool, subscription_id: int, kind: str, username: str
) -> TestEvent:
    async with pool.acquire() as conn, conn.transaction():
        subscription = await subscriptions.get_subscription(conn, subscription_id, kind)
        event_id = await store.enqueue(
            conn,
            "notification.test",
            {"summary": "Test event", "requested_by": username},
            site_id=subscription.site_id,
            charge_point_id=None,
            key=f"test:{subscription_id}:{secrets.token_hex(12)}",
            only_subscription_id=subscription_id,
        )
    assert event_id is not None  # a fresh key
    return TestEvent(event_id=event_id)


async def _deliveries(
    pool: asyncpg.Pool, page: PageParams, subscription_id: int, kind: str, state: str | None
) -> Page[DeliveryPublic]:
    before = decode_cursor(page.cursor, int)
    async with pool.acquire() as conn:
        rows = await store.list_deliveries(
            conn, subscription_id, kind, state=state, before=before, limit=page.limit + 1
        )
    items, cursor = page_of(rows, page.limit, lambda d: d.id)
    return Page(items=[delivery_public(d) for d in items], next_cursor=cursor)


async def _replay(
    pool: asyncpg.Pool, subscription_id: int, kind: str, delivery_id: int
) -> DeliveryPublic:
    async with pool.acquire() as conn:
        try:
            delivery = await store.replay(conn, subscription_id, kind, delivery_id)
        except store.NotReplayable as exc:
            raise Conflict(str(exc)) from None
    return delivery_public(delivery)
