"""Webhook and e-mail subscriptions over REST with real tokens: the secret shown once,
URL checks (not http(s), the platform itself, private addresses), deliveries made by a
real worker, their log, secret rotation and replay."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from csms.store import notifications
from tests.fakes.webhook_receiver import Receiver, running_receiver, verify
from tests.integration.backoffice.conftest import Account, Backoffice, all_items, serving
from tests.integration.notifications.conftest import worker_running
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration

WEBHOOKS = "/api/v1/webhooks"
EMAIL = "/api/v1/email-subscriptions"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as receiver:
        yield receiver


def site() -> str:
    return f"BW-{secrets.token_hex(4)}"


async def notify(pool: asyncpg.Pool, site_id: str, event_type: str = "alarm.raised") -> None:
    async with pool.acquire() as conn, conn.transaction():
        await notifications.enqueue(
            conn,
            event_type,
            {"summary": "Charger offline"},
            site_id=site_id,
            charge_point_id="CP-BO-1",
            key=f"bo-{secrets.token_hex(8)}",
        )


async def deliveries(
    client: httpx.AsyncClient, account: Account, webhook_id: int
) -> list[dict[str, Any]]:
    return await all_items(client, f"{WEBHOOKS}/{webhook_id}/deliveries", account.headers)


async def until_state(
    client: httpx.AsyncClient, account: Account, webhook_id: int, state: str, count: int = 1
) -> list[dict[str, Any]]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            found = await deliveries(client, account, webhook_id)
            if len(found) >= count and found[0]["state"] == state:
                return found
            await asyncio.sleep(0.05)


async def test_webhook_lifecycle_over_rest(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
) -> None:
    operator = accounts["operator"]
    where = site()
    response = await client.post(
        WEBHOOKS,
        json={"url": receiver.url, "event_types": ["alarm.*"], "site_id": where},
        headers=operator.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    webhook_id = created["id"]
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert response.headers["Location"] == f"{WEBHOOKS}/{webhook_id}"
    receiver.secret = secret
    # at rest the secret is sealed (csms.secretbox): a database dump holds no signing key
    stored = await pool.fetchval(
        "SELECT secret FROM notification_subscriptions WHERE id = $1", webhook_id
    )
    assert stored.startswith("enc1:") and secret not in stored
    # the secret is never shown again
    shown = (await client.get(f"{WEBHOOKS}/{webhook_id}", headers=operator.headers)).json()
    assert "secret" not in shown and shown["url"] == receiver.url
    listed = await all_items(client, WEBHOOKS, operator.headers)
    assert [w for w in listed if w["id"] == webhook_id] == [shown]
    assert all("secret" not in w for w in listed)
    # monitors and drivers may not configure webhooks
    for role in ("monitor", "driver"):
        refused = await client.post(
            WEBHOOKS,
            json={"url": receiver.url, "event_types": ["*"]},
            headers=accounts[role].headers,
        )
        assert refused.status_code == 403, refused.text
        assert (await client.get(WEBHOOKS, headers=accounts[role].headers)).status_code == 403

    async with worker_running(database_url, notify_max_attempts=2):
        await notify(pool, where)
        [request] = await receiver.wait_for(1, TIMEOUT)
        assert request.signed
        [delivered] = await until_state(client, operator, webhook_id, "delivered")
        assert delivered["event_id"] == request.event_id
        assert [a["status_code"] for a in delivered["log"]] == [200]

        # a test event, to this webhook alone (it does not subscribe to notification.test)
        tested = await client.post(f"{WEBHOOKS}/{webhook_id}/test", headers=operator.headers)
        assert tested.status_code == 202, tested.text
        test_request = (await receiver.wait_for(2, TIMEOUT))[1]
        assert test_request.signed and test_request.event_id == tested.json()["event_id"]
        assert test_request.event["type"] == "notification.test"
        assert test_request.event["data"]["requested_by"] == operator.username
        await until_state(client, operator, webhook_id, "delivered", count=2)
        receiver.received.clear()

        # rotation: a new secret, shown once; the old one still signs for a while
        rotated = await client.post(
            f"{WEBHOOKS}/{webhook_id}/rotate-secret", headers=operator.headers
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != secret
        both = await pool.fetchrow(
            "SELECT secret, previous_secret FROM notification_subscriptions WHERE id = $1",
            webhook_id,
        )
        assert all(value.startswith("enc1:") for value in both.values())
        assert new_secret not in both["secret"] and secret not in both["previous_secret"]
        receiver.secret = new_secret
        await notify(pool, where)
        second = (await receiver.wait_for(1, TIMEOUT))[0]
        assert second.signed  # with the new secret
        assert verify(secret, second.headers["x-csms-signature"], second.body)  # and the old

        # the receiver fails: dead after two tries, then replayed by the operator
        receiver.status = 503
        await notify(pool, where)
        dead = (await until_state(client, operator, webhook_id, "dead", count=4))[0]
        assert [a["status_code"] for a in dead["log"]] == [503, 503]
        failed_only = await all_items(
            client, f"{WEBHOOKS}/{webhook_id}/deliveries", operator.headers, {"state": "dead"}
        )
        assert [d["id"] for d in failed_only] == [dead["id"]]
        receiver.status = 200
        replay = f"{WEBHOOKS}/{webhook_id}/deliveries/{dead['id']}/replay"
        assert (await client.post(replay, headers=accounts["monitor"].headers)).status_code == 403
        replayed = await client.post(replay, headers=operator.headers)
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["state"] in ("pending", "sending", "delivered")
        await until_state(client, operator, webhook_id, "delivered", count=4)
        again = await client.post(replay, headers=operator.headers)
        assert again.status_code == 409, again.text
        assert "delivered" in again.json()["detail"]
    one = await client.get(
        f"{WEBHOOKS}/{webhook_id}/deliveries/{dead['id']}", headers=operator.headers
    )
    assert one.json()["state"] == "delivered" and len(one.json()["log"]) == 3
    assert len(receiver.received) == 4  # 1 + 2 failed + 1 replayed (after the test event)
    assert len(set(receiver.event_ids)) == 2

    # update and delete
    patched = await client.patch(
        f"{WEBHOOKS}/{webhook_id}",
        json={"event_types": ["alarm.cleared"], "enabled": False},
        headers=operator.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["event_types"] == ["alarm.cleared"] and not patched.json()["enabled"]
    deleted = await client.delete(f"{WEBHOOKS}/{webhook_id}", headers=operator.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"{WEBHOOKS}/{webhook_id}", headers=operator.headers)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("hooks.example.com/x", "http:// or https://"),
        ("http://user:pass@127.0.0.1:9/x", "credentials"),
        ("http:///nohost", "needs a host"),
        ("http://127.0.0.1:99999/x", "not a valid URL"),
    ],
)
async def test_bad_webhook_urls_are_refused(
    client: httpx.AsyncClient, accounts: dict[str, Account], url: str, message: str
) -> None:
    response = await client.post(
        WEBHOOKS, json={"url": url, "event_types": ["*"]}, headers=accounts["operator"].headers
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"], response.json()


async def test_webhook_to_the_platform_itself_is_refused(
    client: httpx.AsyncClient, accounts: dict[str, Account], backoffice: Backoffice
) -> None:
    operator = accounts["operator"]
    port = backoffice.url.rsplit(":", 1)[1]
    for url in (
        f"{backoffice.url}/api/v1/users",
        f"http://localhost:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/x",
        "http://127.0.0.1:8000/",  # the firmware base URL chargers download from
    ):
        response = await client.post(
            WEBHOOKS, json={"url": url, "event_types": ["*"]}, headers=operator.headers
        )
        assert response.status_code == 422, (url, response.text)
        assert "this platform" in response.json()["detail"], (url, response.json())


async def test_unknown_event_type_is_refused(
    client: httpx.AsyncClient, accounts: dict[str, Account], receiver: Receiver
) -> None:
    operator = accounts["operator"]
    for event_types in (["alarm.exploded"], ["nothing.*"], ["alarm.raised", "Alarm.Raised"]):
        response = await client.post(
            WEBHOOKS,
            json={"url": receiver.url, "event_types": event_types},
            headers=operator.headers,
        )
        assert response.status_code == 422, response.text
        assert "unknown event type" in response.json()["detail"]
    empty = await client.post(
        WEBHOOKS, json={"url": receiver.url, "event_types": []}, headers=operator.headers
    )
    assert empty.status_code == 422
    catalogue = await client.get(
        "/api/v1/notification-event-types", headers=accounts["monitor"].headers
    )
    assert {"alarm.raised", "alarm.acknowledged", "alarm.cleared"} <= {
        e["type"] for e in catalogue.json()
    }


async def test_private_addresses_refused_unless_allowed(
    backoffice_settings: Any, new_account: Any, receiver: Receiver
) -> None:
    """CSMS_WEBHOOK_ALLOW_PRIVATE=false (production's default): loopback, private and
    link-local (cloud metadata) receivers are refused; public ones pass."""
    settings = backoffice_settings.model_copy(update={"webhook_allow_private": False})
    operator: Account = await new_account("operator")
    async with (
        serving(settings) as strict,
        httpx.AsyncClient(base_url=strict.url, timeout=TIMEOUT) as client,
    ):
        for url in (
            receiver.url,
            "http://localhost:8080/hooks",
            "http://10.1.2.3/hooks",
            "http://192.168.1.20/hooks",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/hooks",
            "http://0.0.0.0:8080/hooks",
        ):
            response = await client.post(
                WEBHOOKS, json={"url": url, "event_types": ["*"]}, headers=operator.headers
            )
            assert response.status_code == 422, (url, response.text)
            assert "CSMS_WEBHOOK_ALLOW_PRIVATE" in response.json()["detail"], url
        public = await client.post(
            WEBHOOKS,
            json={"url": "https://93.184.215.14/hooks", "event_types": ["*"], "enabled": False},
            headers=operator.headers,
        )
        assert public.status_code == 201, public.text
        await client.delete(f"{WEBHOOKS}/{public.json()['id']}", headers=operator.headers)


async def test_email_subscriptions_over_rest(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"]
    where = site()
    response = await client.post(
        EMAIL,
        json={
            "recipients": ["ops@operator.example"],
            "event_types": ["alarm.raised"],
            "site_id": where,
        },
        headers=operator.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["recipients"] == ["ops@operator.example"] and "secret" not in created
    for body in (
        {"recipients": ["not an address"], "event_types": ["alarm.raised"]},
        {"recipients": [], "event_types": ["alarm.raised"]},
        {"recipients": ["ops@operator.example"], "event_types": ["alarm.unknown"]},
        {"recipients": ["ops@operator.example"], "event_types": ["*"], "url": "http://x"},
    ):
        bad = await client.post(EMAIL, json=body, headers=operator.headers)
        assert bad.status_code == 422, (body, bad.text)
    path = f"{EMAIL}/{created['id']}"
    patched = await client.patch(
        path, json={"recipients": ["a@x.example", "b@x.example"]}, headers=operator.headers
    )
    assert patched.json()["recipients"] == ["a@x.example", "b@x.example"]
    # a webhook id is not an e-mail subscription and the other way round
    assert (
        await client.get(f"{WEBHOOKS}/{created['id']}", headers=operator.headers)
    ).status_code == 404
    tested = await client.post(f"{path}/test", headers=operator.headers)
    assert tested.status_code == 202 and tested.json()["event_id"]
    missing = await client.post(f"{EMAIL}/999999999/test", headers=operator.headers)
    assert missing.status_code == 404
    log = await client.get(f"{path}/deliveries", headers=operator.headers)
    assert log.status_code == 200 and log.json()["items"] == []
    assert (await client.get(path, headers=accounts["monitor"].headers)).status_code == 403
    assert (await client.delete(path, headers=operator.headers)).status_code == 204
    assert (await client.get(path, headers=operator.headers)).status_code == 404
