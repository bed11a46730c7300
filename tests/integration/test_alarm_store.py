"""The alarm store against PostgreSQL (csms.store.alarms): every transition happens once
however many processes attempt it at the same moment (the partial unique index and the
conditional statements), the outbox is called inside the transition's transaction, rules
and maintenance apply inside the raise."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from csms.domain.alarms import AlarmType, Condition, Rule, Scope, Severity
from csms.domain.clock import utc_now
from csms.store import alarms as store
from csms.store import chargers

pytestmark = pytest.mark.integration

WINDOW = timedelta(minutes=5)
ATTEMPTS = 12


async def charger(pool: asyncpg.Pool) -> str:
    cp = f"AL-{secrets.token_hex(5)}"
    await chargers.add_charger(pool, cp, password_hash=None)
    return cp


def fault(cp: str, connector: int = 1) -> Condition:
    return Condition(AlarmType.CONNECTOR_FAULTED, cp, f"0/{connector}", "Faulted", {"x": 1})


async def test_concurrent_raises_and_clears_happen_once(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    condition = fault(cp)
    raised = await asyncio.gather(
        *(
            store.raise_alarm(pool, condition, now=utc_now(), flapping_window=WINDOW)
            for _ in range(ATTEMPTS)
        )
    )
    assert [c.action for c in raised if c is not None] == ["raised"]
    cleared = await asyncio.gather(
        *(store.clear_key(pool, condition.key, now=utc_now()) for _ in range(ATTEMPTS))
    )
    assert [c.action for c in cleared if c is not None] == ["cleared"]
    # raised again within the window, from many places at once: reopened once
    again = await asyncio.gather(
        *(
            store.raise_alarm(pool, condition, now=utc_now(), flapping_window=WINDOW)
            for _ in range(ATTEMPTS)
        )
    )
    (change,) = [c for c in again if c is not None]
    assert (change.action, change.alarm.count) == ("reraised", 2)
    rows = await pool.fetch("SELECT id FROM alarms WHERE dedupe_key = $1", condition.key)
    assert len(rows) == 1
    actions = [t.action for t in await store.history(pool, rows[0]["id"])]
    assert actions == ["raised", "cleared", "reraised"]


async def test_after_the_window_a_new_alarm(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    condition = fault(cp, 2)
    first = await store.raise_alarm(pool, condition, now=utc_now(), flapping_window=WINDOW)
    assert first is not None
    await store.clear_key(pool, condition.key, now=utc_now())
    later = utc_now() + WINDOW + timedelta(seconds=1)
    second = await store.raise_alarm(pool, condition, now=later, flapping_window=WINDOW)
    assert second is not None and second.action == "raised" and second.alarm.id != first.alarm.id


async def test_ack_and_clear_by_hand_are_conditional(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    change = await store.raise_alarm(pool, fault(cp, 3), now=utc_now(), flapping_window=WINDOW)
    assert change is not None
    alarm_id = change.alarm.id
    acks = await asyncio.gather(
        *(
            store.acknowledge(pool, alarm_id, now=utc_now(), by=f"u{i}", note="n")
            for i in range(ATTEMPTS)
        )
    )
    assert len([a for a in acks if a is not None]) == 1
    clears = await asyncio.gather(
        *(
            store.clear_by_hand(pool, alarm_id, now=utc_now(), by="op", note="done")
            for _ in range(ATTEMPTS)
        )
    )
    assert len([c for c in clears if c is not None]) == 1
    found = await store.get_alarm(pool, alarm_id)
    assert found is not None and found.cleared_by == "op" and found.clear_note == "done"


async def test_outbox_runs_in_the_transition_s_transaction(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    calls: list[tuple[str, Mapping[str, Any], str | None, str | None, str]] = []

    async def outbox(
        conn: Any,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        site_id: str | None,
        charge_point_id: str | None,
        key: str,
    ) -> None:
        assert conn.is_in_transaction()
        calls.append((event_type, payload, site_id, charge_point_id, key))

    condition = fault(cp, 4)
    change = await store.raise_alarm(
        pool, condition, now=utc_now(), flapping_window=WINDOW, outbox=outbox
    )
    assert change is not None
    await store.acknowledge(pool, change.alarm.id, now=utc_now(), by="m", note="n", outbox=outbox)
    await store.clear_key(pool, condition.key, now=utc_now(), outbox=outbox)
    assert [c[0] for c in calls] == ["alarm.raised", "alarm.acknowledged", "alarm.cleared"]
    assert {c[3] for c in calls} == {cp}
    assert len({c[4] for c in calls}) == 3  # a key per transition
    assert calls[1][1]["by"] == "m"

    async def failing(conn: Any, event_type: str, payload: Mapping[str, Any], **_: Any) -> None:
        raise RuntimeError("outbox down")

    other = fault(cp, 5)
    with pytest.raises(RuntimeError):
        await store.raise_alarm(pool, other, now=utc_now(), flapping_window=WINDOW, outbox=failing)
    assert await store.open_alarm(pool, other.key) is None  # rolled back with it


async def test_rules_and_maintenance_apply_inside_the_raise(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    rule = await store.create_rule(
        pool, Rule(AlarmType.CONNECTOR_FAULTED, Scope.CHARGER, cp, enabled=False), "op"
    )
    assert rule is not None and rule.id is not None
    assert await store.raise_alarm(pool, fault(cp), now=utc_now(), flapping_window=WINDOW) is None
    await store.update_rule(
        pool,
        rule.id,
        Rule(AlarmType.CONNECTOR_FAULTED, Scope.CHARGER, cp, severity=Severity.CRITICAL),
        "op",
    )
    change = await store.raise_alarm(pool, fault(cp), now=utc_now(), flapping_window=WINDOW)
    assert change is not None and change.alarm.severity is Severity.CRITICAL
    await store.set_maintenance(pool, Scope.CHARGER, cp, enabled=True, note="", by="op")
    assert (
        await store.raise_alarm(pool, fault(cp, 9), now=utc_now(), flapping_window=WINDOW) is None
    )
    await store.set_maintenance(pool, Scope.CHARGER, cp, enabled=False, note="", by="op")
    assert await store.delete_rule(pool, rule.id)
    counts = await store.count_open_by_severity(pool)
    assert set(counts) == {"critical", "major", "minor", "warning", "info"}
    assert counts["critical"] >= 1


async def test_batched_clears_and_resets_happen_once_per_key(pool: asyncpg.Pool) -> None:
    """The node's store adapter gathers clears and counter resets of many chargers into one
    statement (a boot storm): each open alarm is cleared once, with its history, whichever
    callers of a batch named it; closed keys and unknown counters change nothing."""
    cps = [await charger(pool) for _ in range(4)]
    seen: list[str] = []

    async def outbox(conn: Any, event: str, _payload: Mapping[str, Any], **_: Any) -> None:
        assert conn.is_in_transaction()
        seen.append(event)

    adapter = store.PostgresAlarms(pool, outbox=outbox)
    for cp in cps[:2]:
        await store.raise_alarm(pool, fault(cp), now=utc_now(), flapping_window=WINDOW)
    keys = [fault(cp).key for cp in cps]
    cleared = await asyncio.gather(
        *(adapter.clear(key, now=utc_now()) for key in keys * 3)  # each key three times
    )
    assert sorted(c.alarm.dedupe_key for c in cleared if c is not None) == sorted(keys[:2])
    assert all(c.alarm.state.value == "cleared" for c in cleared if c is not None)
    history = await pool.fetchval(
        """SELECT count(*) FROM alarm_history h JOIN alarms a ON a.id = h.alarm_id
           WHERE a.dedupe_key = ANY($1) AND h.action = 'cleared'""",
        keys,
    )
    assert history == 2 and seen.count("alarm.cleared") == 2
    # counters: those bumped are reset once, the others report nothing to reset
    await store.bump_counter(pool, f"boot:{cps[0]}")
    resets = await asyncio.gather(*(adapter.reset(f"boot:{cp}") for cp in cps))
    assert resets == [True, False, False, False]
