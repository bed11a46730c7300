"""The live-event publisher gathers events into one stream entry (CSMS_EVENT_BATCH_DELAY_MS):
counted in stream entries, not timed."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from csms.cluster.events import CHARGER_CONNECTED, TRANSACTION_UPDATED, EventPublisher, read_events
from csms.cluster.keys import Keys
from csms.settings import NodeSettings
from tests.timeouts import TIMEOUT


async def test_events_published_while_a_batch_gathers_share_one_entry(
    redis: Redis, keys: Keys
) -> None:
    # long enough that the loop turns below all fall inside it, short enough for a test
    publisher = EventPublisher(redis, keys, "n1", gather_seconds=1.0)
    await publisher.start()
    try:
        publisher.publish(CHARGER_CONNECTED, "CP-1", protocol="ocpp2.0.1")
        for _ in range(20):
            await asyncio.sleep(0)  # the publisher took the first event and is gathering
        for n in range(5):
            publisher.publish(TRANSACTION_UPDATED, "CP-1", seq_no=n)
        events = read_events(redis, keys, last_id="0", block_ms=int(TIMEOUT * 1000))
        received = [await asyncio.wait_for(anext(events), TIMEOUT) for _ in range(6)]
        await events.aclose()
    finally:
        await publisher.close()
    assert [e.type for e in received] == [CHARGER_CONNECTED] + [TRANSACTION_UPDATED] * 5
    assert await redis.xlen(keys.events()) == 1  # one XADD for the six
    assert publisher.batches == 1 and publisher.dropped == 0


def test_the_node_setting_defaults_to_a_gather_longer_than_the_writes() -> None:
    settings = NodeSettings()
    assert settings.event_batch_delay_ms == 50.0
    assert NodeSettings(event_batch_delay_ms=5).event_batch_delay_ms == 5.0
