"""TariffStore, pushes: the price display each charger should have, pending until the node
holding the charger has applied it (failed ones retried when it next connects)."""

from __future__ import annotations

import pytest
from contract_helpers import NOW, REFUSED, Backend, definition, unique

from csms.domain.tariff_catalog import (
    PUSH_ACCEPTED,
    PUSH_FAILED,
    PUSH_NOT_SUPPORTED,
    PUSH_PENDING,
    PUSH_REJECTED,
    TariffPush,
)


async def new_tariff(backend: Backend) -> str:
    tariff_id = unique("T")
    await backend.stores.tariffs.add_tariff(
        tariff_id, description="", definition=definition(), currency="EUR", created_by=None
    )
    return tariff_id


async def push_of(backend: Backend, cp: str) -> TariffPush:
    (push,) = await backend.stores.tariffs.list_pushes(charge_point_id=cp)
    return push


async def test_request_pushes_makes_a_pending_push(backend: Backend) -> None:
    cp, tariff_id = await backend.add_charger(), await new_tariff(backend)
    await backend.stores.tariffs.request_pushes([(cp, tariff_id, 3)])
    push = await push_of(backend, cp)
    assert (push.charge_point_id, push.tariff_id, push.tariff_version) == (cp, tariff_id, 3)
    assert (push.status, push.detail, push.attempts) == (PUSH_PENDING, "", 0)
    assert await backend.stores.tariffs.pending_pushes([cp]) == [push]


async def test_request_pushes_of_no_tariff_clears_the_display(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.tariffs.request_pushes([(cp, None, None)])
    push = await push_of(backend, cp)
    assert (push.tariff_id, push.tariff_version, push.status) == (None, None, PUSH_PENDING)


async def test_request_pushes_replaces_an_older_request(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    cp, first = await backend.add_charger(), await new_tariff(backend)
    second = await new_tariff(backend)
    await tariffs.request_pushes([(cp, first, 1)])
    older = await push_of(backend, cp)
    await tariffs.record_push(
        cp, requested_at=older.requested_at, status=PUSH_REJECTED, detail="refused"
    )
    backend.tick()
    await tariffs.request_pushes([(cp, second, 2)])
    push = await push_of(backend, cp)
    assert (push.tariff_id, push.tariff_version) == (second, 2)
    assert (push.status, push.detail, push.attempts) == (PUSH_PENDING, "", 0)
    assert push.requested_at > older.requested_at


async def test_request_pushes_skips_unregistered_chargers(backend: Backend) -> None:
    cp, unregistered = await backend.add_charger(), unique("CT")
    tariff_id = await new_tariff(backend)
    await backend.stores.tariffs.request_pushes([(unregistered, tariff_id, 1), (cp, tariff_id, 1)])
    pushes = await backend.stores.tariffs.list_pushes(tariff_id=tariff_id)
    assert [p.charge_point_id for p in pushes] == [cp]
    assert await backend.stores.tariffs.pending_pushes([unregistered]) == []


async def test_request_pushes_of_an_unknown_tariff_is_refused(backend: Backend) -> None:
    """A push names a tariff that exists (the schema's foreign key): nothing is stored."""
    cp, other = await backend.add_charger(), await backend.add_charger()
    tariff_id = await new_tariff(backend)
    with pytest.raises(REFUSED):
        await backend.stores.tariffs.request_pushes([(other, tariff_id, 1), (cp, unique("T"), 1)])
    assert await backend.stores.tariffs.pending_pushes([cp, other]) == []


async def test_request_pushes_of_one_charger_twice_keeps_the_last(backend: Backend) -> None:
    """The earlier one is replaced before it is checked: only the later one's tariff must
    exist."""
    cp, first = await backend.add_charger(), await new_tariff(backend)
    second = await new_tariff(backend)
    tariffs = backend.stores.tariffs
    await tariffs.request_pushes([(cp, first, 1), (cp, second, 2)])
    push = await push_of(backend, cp)
    assert (push.tariff_id, push.tariff_version) == (second, 2)
    await tariffs.request_pushes([(cp, unique("T"), 9), (cp, None, None)])
    push = await push_of(backend, cp)
    assert (push.tariff_id, push.tariff_version) == (None, None)


async def test_pending_pushes_are_the_given_chargers_pending_ones(backend: Backend) -> None:
    """Failed ones only with ``retry_failed`` (when the charger connects again); accepted,
    rejected and not supported ones are done."""
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    prefix = unique("CT")
    statuses = [PUSH_PENDING, PUSH_FAILED, PUSH_ACCEPTED, PUSH_REJECTED, PUSH_NOT_SUPPORTED]
    chargers = {status: f"{prefix}-{status}" for status in statuses}
    for cp in chargers.values():
        await backend.add_charger(cp)
    not_asked = await backend.add_charger()
    await tariffs.request_pushes([(cp, tariff_id, 1) for cp in [*chargers.values(), not_asked]])
    for status, cp in chargers.items():
        if status != PUSH_PENDING:
            push = await push_of(backend, cp)
            await tariffs.record_push(cp, requested_at=push.requested_at, status=status, detail="")
    asked = list(chargers.values())
    pending = await tariffs.pending_pushes(asked)
    assert [(p.charge_point_id, p.status) for p in pending] == [
        (chargers[PUSH_PENDING], PUSH_PENDING)
    ]
    retried = await tariffs.pending_pushes(asked, retry_failed=True)
    assert [(p.charge_point_id, p.status) for p in retried] == [
        (chargers[PUSH_FAILED], PUSH_FAILED),  # by charger
        (chargers[PUSH_PENDING], PUSH_PENDING),
    ]
    assert await tariffs.pending_pushes([]) == []


async def test_record_push_keeps_what_became_of_it(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    cp, tariff_id = await backend.add_charger(), await new_tariff(backend)
    await tariffs.request_pushes([(cp, tariff_id, 1)])
    requested = await push_of(backend, cp)
    assert await tariffs.record_push(
        cp, requested_at=requested.requested_at, status=PUSH_FAILED, detail="timeout"
    )
    failed = await push_of(backend, cp)
    assert (failed.status, failed.detail, failed.attempts) == (PUSH_FAILED, "timeout", 1)
    assert (failed.tariff_id, failed.requested_at) == (tariff_id, requested.requested_at)
    assert await tariffs.record_push(
        cp, requested_at=requested.requested_at, status=PUSH_ACCEPTED, detail="x" * 600
    )
    accepted = await push_of(backend, cp)
    assert (accepted.status, accepted.detail, accepted.attempts) == (PUSH_ACCEPTED, "x" * 500, 2)


async def test_record_push_of_a_replaced_request_changes_nothing(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    cp, tariff_id = await backend.add_charger(), await new_tariff(backend)
    await tariffs.request_pushes([(cp, tariff_id, 1)])
    older = await push_of(backend, cp)
    backend.tick()
    await tariffs.request_pushes([(cp, tariff_id, 2)])
    newer = await push_of(backend, cp)
    assert not await tariffs.record_push(
        cp, requested_at=older.requested_at, status=PUSH_ACCEPTED, detail=""
    )
    assert await push_of(backend, cp) == newer


async def test_record_push_without_a_request_is_false(backend: Backend) -> None:
    cp = await backend.add_charger()
    for charger in (cp, unique("CT")):
        assert not await backend.stores.tariffs.record_push(
            charger, requested_at=NOW, status=PUSH_ACCEPTED, detail=""
        )
    assert await backend.stores.tariffs.list_pushes(charge_point_id=cp) == []


async def test_list_pushes_filters_by_tariff_and_charger(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    first, second = await new_tariff(backend), await new_tariff(backend)
    prefix = unique("CT")
    cp_b, cp_a, cp_c = f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"
    for cp in (cp_b, cp_a, cp_c):
        await backend.add_charger(cp)
    await tariffs.request_pushes([(cp_b, first, 1), (cp_a, first, 1), (cp_c, second, 1)])
    assert [p.charge_point_id for p in await tariffs.list_pushes(tariff_id=first)] == [cp_a, cp_b]
    assert [p.tariff_id for p in await tariffs.list_pushes(charge_point_id=cp_c)] == [second]
    assert await tariffs.list_pushes(tariff_id=second, charge_point_id=cp_a) == []
    everything = [p.charge_point_id for p in await tariffs.list_pushes()]
    assert [cp for cp in everything if cp.startswith(prefix)] == [cp_a, cp_b, cp_c]


async def test_pushes_go_with_their_charger_and_their_tariff(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    removed_cp, kept_cp = await backend.add_charger(), await backend.add_charger()
    removed_tariff, tariff_id = await new_tariff(backend), await new_tariff(backend)
    cleared = await backend.add_charger()
    await tariffs.request_pushes(
        [(removed_cp, tariff_id, 1), (kept_cp, removed_tariff, 1), (cleared, None, None)]
    )
    await backend.stores.chargers.remove(removed_cp)
    await tariffs.remove_tariff(removed_tariff)
    assert await tariffs.pending_pushes([removed_cp, kept_cp]) == []
    assert [p.charge_point_id for p in await tariffs.pending_pushes([cleared])] == [cleared]
