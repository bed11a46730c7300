"""Webhook signing secrets sealed at rest (csms.secretbox): the worker seals what was
stored before sealing existed and what the previous CSMS_DATA_KEY sealed, and deliveries
are signed with the secret itself either way."""

from __future__ import annotations

import asyncpg
import pytest
from pydantic import SecretStr

from csms.domain.notifications import WEBHOOK_SECRET_PURPOSE
from csms.secretbox import SecretBox, new_key, parse_key
from tests.fakes.webhook_receiver import Receiver
from tests.integration.notifications.conftest import (
    Notify,
    Subscribe,
    wait_for_state,
    worker_running,
    worker_settings,
)
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


async def stored(pool: asyncpg.Pool, subscription_id: int) -> tuple[str, str | None]:
    row = await pool.fetchrow(
        "SELECT secret, previous_secret FROM notification_subscriptions WHERE id = $1",
        subscription_id,
    )
    assert row is not None
    return row["secret"], row["previous_secret"]


async def test_a_secret_stored_in_clear_is_sealed_by_the_worker_and_still_signs(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    subscription = await subscribe_webhook()  # written in clear, as before sealing existed
    assert (await stored(pool, subscription.id))[0] == receiver.secret
    key = new_key()
    async with worker_running(database_url, data_key=SecretStr(key)):
        secret, _ = await stored(pool, subscription.id)
        box = SecretBox([parse_key(key)])
        assert box.is_current(secret) and receiver.secret not in secret
        assert box.open(secret, purpose=WEBHOOK_SECRET_PURPOSE) == receiver.secret
        await notify("alarm.raised")
        [request] = await receiver.wait_for(1, TIMEOUT)
        await wait_for_state(pool, subscription.id, "delivered")
    assert request.signed  # with the secret the receiver knows, not the sealed value


async def test_a_new_data_key_takes_over_with_the_previous_one_beside_it(
    database_url: str,
    pool: asyncpg.Pool,
    receiver: Receiver,
    subscribe_webhook: Subscribe,
    notify: Notify,
) -> None:
    old, new = new_key(), new_key()
    subscription = await subscribe_webhook()
    async with worker_running(database_url, data_key=SecretStr(old)):
        pass  # sealed under the old key
    under_old, _ = await stored(pool, subscription.id)
    assert SecretBox([parse_key(old)]).is_current(under_old)

    # the new key alone cannot open it: the worker leaves it, and the delivery fails
    # naming the key, never the secret
    async with worker_running(database_url, data_key=SecretStr(new), notify_max_attempts=1):
        assert (await stored(pool, subscription.id))[0] == under_old
        await notify("alarm.raised")
        dead = await wait_for_state(pool, subscription.id, "dead")
    [attempt] = dead.log
    assert attempt.error is not None and "not configured" in attempt.error
    assert receiver.secret not in attempt.error and not receiver.received

    # with the old key as CSMS_DATA_KEY_PREVIOUS: sealed again under the new one, signing
    async with worker_running(
        database_url, data_key=SecretStr(new), data_key_previous=SecretStr(old)
    ):
        under_new, _ = await stored(pool, subscription.id)
        assert SecretBox([parse_key(new)]).is_current(under_new)
        await notify("alarm.raised")
        [request] = await receiver.wait_for(1, TIMEOUT)
    assert request.signed


def test_the_worker_settings_build_one_box_from_both_keys() -> None:
    old, new = new_key(), new_key()
    box = worker_settings(data_key=SecretStr(new), data_key_previous=SecretStr(old)).secret_box
    sealed = SecretBox([parse_key(old)]).seal("whsec_x", purpose=WEBHOOK_SECRET_PURPOSE)
    assert box.open(sealed, purpose=WEBHOOK_SECRET_PURPOSE) == "whsec_x"
    assert box.is_current(box.seal("whsec_y", purpose=WEBHOOK_SECRET_PURPOSE))
    assert not box.is_current(sealed)
