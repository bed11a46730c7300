"""SessionStore: sessions the CSMS names (1.6), sessions the charger names (2.0.1), their
sequenced messages and the rules that merge a message into its session (how sessions end:
test_session_end_store.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from contract_helpers import (
    OCPP16,
    OCPP201,
    REFUSED,
    T0,
    Backend,
    at,
    changes,
    ending,
    event,
    named,
    new_session,
    stored_session,
    unique,
)

from csms.domain.transactions import Transaction

MAX_INT32 = 2**31 - 1


# --- create_started / find_started (1.6) ----------------------------------------------------


async def test_create_started_draws_a_positive_int32_transaction_id(backend: Backend) -> None:
    """1.6 StartTransaction.conf carries an integer transactionId the CSMS chooses."""
    cp = await backend.add_charger()
    new = new_session("TAG-A", reservation_id=4, parent_id_token="GROUP", evse_id=0)
    created, fresh = await backend.stores.sessions.create_started(cp, new)
    assert fresh is True
    assert created.transaction_id.isdigit()
    assert 1 <= int(created.transaction_id) <= MAX_INT32
    assert str(int(created.transaction_id)) == created.transaction_id
    assert dataclasses.replace(created, id=0, transaction_id="") == Transaction(
        id=0,
        charge_point_id=cp,
        protocol=OCPP16,
        transaction_id="",
        evse_id=0,
        connector_id=1,
        id_token="TAG-A",
        id_token_type="ISO14443",
        parent_id_token="GROUP",
        authorization_status="Accepted",
        remote_start_id=None,
        reservation_id=4,
        started_at=T0,
        ended_at=None,
        meter_start_wh=Decimal(1000),
        meter_stop_wh=None,
        energy_wh=None,
        stop_reason=None,
        stop_id_token=None,
        charging_state=None,
        last_seq_no=None,
        last_trigger_reason=None,
        offline=False,
        flags=[],
    )
    stores = backend.stores.sessions
    assert await stores.find_started(cp, new.start_key) == created
    assert await stores.get(cp, created.transaction_id) == created
    assert await stores.get_by_pk(created.id) == created


async def test_a_start_created_twice_gives_the_first_session(backend: Backend) -> None:
    """1.6 3.7.1 / 4.8: a StartTransaction whose answer was lost comes again; it must get
    the same transaction id and create nothing."""
    cp, token = await backend.add_charger(), unique("TAG")
    first, _ = await backend.stores.sessions.create_started(cp, new_session(token))
    again, fresh = await backend.stores.sessions.create_started(
        cp, new_session(token, authorization_status="Blocked")
    )
    assert (again, fresh) == (first, False)
    assert await backend.stores.sessions.count_active_for_token(token) == 1


async def test_starts_made_at_once_create_one_session(backend: Backend) -> None:
    cp = await backend.add_charger()
    token = unique("TAG")
    results = await asyncio.gather(
        *(backend.stores.sessions.create_started(cp, new_session(token)) for _ in range(3))
    )
    assert len({s.id for s, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, True]
    assert await backend.stores.sessions.count_active_for_token(token) == 1


async def test_the_same_start_on_another_charger_is_another_session(backend: Backend) -> None:
    one, two = await backend.add_charger(), await backend.add_charger()
    first, _ = await backend.stores.sessions.create_started(one, new_session("TAG-A"))
    other, fresh = await backend.stores.sessions.create_started(two, new_session("TAG-A"))
    assert fresh is True
    assert other.id != first.id and other.transaction_id != first.transaction_id
    assert await backend.stores.sessions.find_started(two, new_session("TAG-A").start_key) == other


async def test_find_started_of_an_unknown_key_is_none(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.sessions.create_started(cp, new_session("TAG-A"))
    assert await backend.stores.sessions.find_started(cp, new_session("TAG-B").start_key) is None


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Transaction ids the next draws give (both implementations draw with
    ``secrets.randbelow(2**31 - 1) + 1``); a real draw when the list is empty."""
    planned: list[int] = []
    real = secrets.randbelow

    def randbelow(n: int) -> int:
        return planned.pop(0) - 1 if planned else real(n)

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    yield planned


def free_id() -> int:
    return secrets.randbelow(MAX_INT32 - 1_000_000) + 1_000_000


async def test_a_drawn_id_is_unique_across_chargers(backend: Backend, draws: list[int]) -> None:
    taken, free = free_id(), free_id()
    one, two = await backend.add_charger(), await backend.add_charger()
    draws.extend([taken, taken, free])
    first, _ = await backend.stores.sessions.create_started(one, new_session("TAG-A"))
    second, _ = await backend.stores.sessions.create_started(two, new_session("TAG-A"))
    assert (first.transaction_id, second.transaction_id) == (str(taken), str(free))


async def test_a_drawn_id_avoids_the_chargers_own_named_sessions(
    backend: Backend, draws: list[int]
) -> None:
    taken, free = free_id(), free_id()
    cp = await backend.add_charger()
    await named(backend, cp, str(taken))
    draws.extend([taken, free])
    created, _ = await backend.stores.sessions.create_started(cp, new_session("TAG-A"))
    assert created.transaction_id == str(free)


async def test_a_drawn_id_may_equal_an_id_another_charger_named(
    backend: Backend, draws: list[int]
) -> None:
    """Only the ids the CSMS draws are unique across chargers (1.6); 2.0.1 chargers name
    their own sessions (E01.FR.08: unique per charger)."""
    shared = free_id()
    one, two = await backend.add_charger(), await backend.add_charger()
    await named(backend, one, str(shared))
    draws.append(shared)
    created, _ = await backend.stores.sessions.create_started(two, new_session("TAG-A"))
    assert created.transaction_id == str(shared)


async def test_drawing_gives_up_when_every_draw_is_taken(
    backend: Backend, draws: list[int]
) -> None:
    taken = free_id()
    cp = await backend.add_charger()
    draws.append(taken)
    await backend.stores.sessions.create_started(cp, new_session("TAG-A"))
    draws.extend([taken] * 100)
    with pytest.raises(RuntimeError):
        await backend.stores.sessions.create_started(cp, new_session("TAG-B"))
    assert await backend.stores.sessions.find_started(cp, new_session("TAG-B").start_key) is None


async def test_a_session_of_an_unregistered_charger_is_refused(backend: Backend) -> None:
    cp = unique("CT")
    with pytest.raises(REFUSED):
        await backend.stores.sessions.create_started(cp, new_session("TAG-A"))
    with pytest.raises(REFUSED):
        await named(backend, cp)
    assert await backend.stores.sessions.get(cp, "TX-1") is None


# --- open_named / get (2.0.1) ---------------------------------------------------------------


async def test_open_named_creates_the_session_with_the_given_values(backend: Backend) -> None:
    cp = await backend.add_charger()
    opened = await backend.stores.sessions.open_named(
        cp, "uuid-1", protocol=OCPP201, started_at=at(5), evse_id=2, connector_id=1
    )
    assert dataclasses.replace(opened, id=0) == Transaction(
        id=0,
        charge_point_id=cp,
        protocol=OCPP201,
        transaction_id="uuid-1",
        evse_id=2,
        connector_id=1,
        id_token=None,
        id_token_type=None,
        parent_id_token=None,
        authorization_status=None,
        remote_start_id=None,
        reservation_id=None,
        started_at=at(5),
        ended_at=None,
        meter_start_wh=None,
        meter_stop_wh=None,
        energy_wh=None,
        stop_reason=None,
        stop_id_token=None,
        charging_state=None,
        last_seq_no=None,
        last_trigger_reason=None,
        offline=False,
        flags=[],
    )
    assert await backend.stores.sessions.get(cp, "uuid-1") == opened
    assert await backend.stores.sessions.get_by_pk(opened.id) == opened


async def test_open_named_again_returns_the_session_unchanged(backend: Backend) -> None:
    """Whichever message of a session arrives first opens it (E 1.3.2: out of order)."""
    cp = await backend.add_charger()
    sessions = backend.stores.sessions
    first = await sessions.open_named(
        cp, "uuid-1", protocol=OCPP201, started_at=at(5), evse_id=2, connector_id=1
    )
    await sessions.record_and_apply(event(first.id, 1, charging_state="Charging"))
    changed = await stored_session(backend, first.id)
    again = await sessions.open_named(
        cp, "uuid-1", protocol=OCPP201, started_at=at(1), evse_id=3, connector_id=2
    )
    assert again == changed


async def test_open_named_made_at_once_opens_one_session(backend: Backend) -> None:
    cp = await backend.add_charger()
    opened = await asyncio.gather(*(named(backend, cp, "uuid-1") for _ in range(3)))
    assert len(set(opened)) == 1


async def test_the_same_name_on_another_charger_is_another_session(backend: Backend) -> None:
    """E01.FR.08: a transaction id is unique per charger only."""
    one = await named(backend, await backend.add_charger(), "uuid-1")
    two = await named(backend, await backend.add_charger(), "uuid-1")
    assert one != two


async def test_get_of_an_unknown_session_is_none(backend: Backend) -> None:
    cp = await backend.add_charger()
    pk = await named(backend, cp, "uuid-1")
    assert await backend.stores.sessions.get(cp, "uuid-2") is None
    assert await backend.stores.sessions.get(await backend.add_charger(), "uuid-1") is None
    assert await backend.stores.sessions.get_by_pk(pk + 10_000_000) is None


# --- record_and_apply / record_event ----------------------------------------------------------


async def test_a_sequenced_message_is_recorded_and_applied(backend: Backend) -> None:
    pk = await named(backend)
    assert await backend.stores.sessions.record_and_apply(
        event(pk, 0, charging_state="Charging", trigger_reason="CablePluggedIn")
    )
    applied = await stored_session(backend, pk)
    assert (applied.charging_state, applied.last_seq_no, applied.last_trigger_reason) == (
        "Charging",
        0,
        "CablePluggedIn",
    )


async def test_a_replayed_seq_no_is_false_and_changes_nothing(backend: Backend) -> None:
    """E04.FR.02 / part 2 E 1.3.1-1.3.2: a message whose answer was lost is sent again with
    its seqNo; it must not apply twice (nor its different content apply at all)."""
    pk = await named(backend)
    sessions = backend.stores.sessions
    assert await sessions.record_and_apply(event(pk, 3, charging_state="Charging"))
    before = await stored_session(backend, pk)
    replay = event(pk, 3, charging_state="Idle", id_token="TAG", offline=True, evse_id=9)
    assert await sessions.record_and_apply(replay) is False
    assert await sessions.record_event(replay) is False
    assert await stored_session(backend, pk) == before


async def test_seq_nos_are_per_session(backend: Backend) -> None:
    cp = await backend.add_charger()
    one, two = await named(backend, cp, "uuid-1"), await named(backend, cp, "uuid-2")
    assert await backend.stores.sessions.record_and_apply(event(one, 1))
    assert await backend.stores.sessions.record_and_apply(event(two, 1))


async def test_a_message_of_an_ended_session_is_kept_but_not_applied(backend: Backend) -> None:
    pk = await named(backend)
    sessions = backend.stores.sessions
    assert await sessions.finish(pk, ending())
    ended = await stored_session(backend, pk)
    late = event(pk, 7, charging_state="Charging", id_token="TAG", offline=True)
    assert await sessions.record_and_apply(late) is True  # recorded
    assert await stored_session(backend, pk) == ended  # not applied
    assert await sessions.record_and_apply(late) is False  # so its replay is one


async def test_messages_of_one_session_made_at_once_apply_in_call_order(
    backend: Backend,
) -> None:
    pk = await named(backend)
    calls = [
        event(pk, 2, charging_state="Charging", id_token="FIRST", trigger_reason="Authorized"),
        event(pk, 1, charging_state="EVConnected", id_token="SECOND", evse_id=4),
        event(pk, 3, charging_state="SuspendedEV", trigger_reason="ChargingStateChanged"),
    ]
    results = await asyncio.gather(*(backend.stores.sessions.record_and_apply(e) for e in calls))
    assert results == [True, True, True]
    applied = await stored_session(backend, pk)
    assert (applied.charging_state, applied.id_token, applied.evse_id) == (
        "SuspendedEV",
        "FIRST",
        4,
    )
    assert (applied.last_seq_no, applied.last_trigger_reason) == (3, "ChargingStateChanged")


async def test_a_replay_made_at_once_with_its_original_is_false(backend: Backend) -> None:
    cp = await backend.add_charger()
    one, two = await named(backend, cp, "uuid-1"), await named(backend, cp, "uuid-2")
    calls = [
        event(one, 5, charging_state="Charging"),
        event(two, 5, charging_state="EVConnected"),
        event(one, 5, charging_state="Idle"),  # the replay
        event(one, 6, trigger_reason="MeterValuePeriodic"),
    ]
    results = await asyncio.gather(*(backend.stores.sessions.record_and_apply(e) for e in calls))
    assert results == [True, True, False, True]
    assert (await stored_session(backend, one)).charging_state == "Charging"
    assert (await stored_session(backend, two)).charging_state == "EVConnected"


async def test_record_event_records_without_applying(backend: Backend) -> None:
    pk = await named(backend)
    sessions = backend.stores.sessions
    before = await stored_session(backend, pk)
    message = event(pk, 4, charging_state="Charging", id_token="TAG")
    assert await sessions.record_event(message) is True
    assert await stored_session(backend, pk) == before
    assert await sessions.record_event(message) is False
    assert await sessions.record_and_apply(message) is False
    assert await stored_session(backend, pk) == before


async def test_a_message_of_an_unknown_session_is_refused(backend: Backend) -> None:
    pk = await named(backend) + 10_000_000
    with pytest.raises(REFUSED):
        await backend.stores.sessions.record_and_apply(event(pk, 1))
    with pytest.raises(REFUSED):
        await backend.stores.sessions.record_event(event(pk, 1))


@pytest.mark.parametrize("missing", ["seq_no", "trigger_reason"])
async def test_a_message_without_seq_no_or_trigger_reason_is_refused(
    backend: Backend, missing: str
) -> None:
    """Both are required in a 2.0.1 TransactionEventRequest."""
    pk = await named(backend)
    message = event(pk, 1, charging_state="Charging")
    message = dataclasses.replace(
        message, changes=dataclasses.replace(message.changes, **{missing: None})
    )
    with pytest.raises(REFUSED):
        await backend.stores.sessions.record_and_apply(message)
    with pytest.raises(REFUSED):
        await backend.stores.sessions.record_event(message)
    assert (await stored_session(backend, pk)).charging_state is None


# --- apply: one rule per field --------------------------------------------------------------


async def applied(backend: Backend, *steps: dict[str, object]) -> Transaction:
    """A new session after applying ``steps`` (SessionChanges values) in order."""
    pk = await named(backend)
    for values in steps:
        await backend.stores.sessions.apply(pk, changes(**values))
    return await stored_session(backend, pk)


@pytest.mark.parametrize(
    "field",
    ["id_token", "id_token_type", "authorization_status", "parent_id_token"],
)
async def test_the_first_token_wins(backend: Backend, field: str) -> None:
    """E03.FR.01: the idToken comes once, with the first message after authorization; a
    later one (a stop token, E07.FR.02) does not replace the authorization."""
    result = await applied(
        backend, {field: None}, {field: "FIRST"}, {field: "SECOND"}, {field: None}
    )
    assert getattr(result, field) == "FIRST"


@pytest.mark.parametrize("field", ["remote_start_id", "reservation_id"])
async def test_the_first_remote_start_and_reservation_win(backend: Backend, field: str) -> None:
    """E03.FR.03 / H01.FR.15: the reservationId comes once; so does the remoteStartId."""
    result = await applied(backend, {field: None}, {field: 11}, {field: 12}, {field: None})
    assert getattr(result, field) == 11


@pytest.mark.parametrize(
    ("field", "first", "second"),
    [
        ("charging_state", "Charging", "SuspendedEV"),  # E02.FR.13
        ("trigger_reason", "Authorized", "ChargingStateChanged"),
        ("evse_id", 3, 4),
        ("connector_id", 2, 1),
    ],
)
async def test_the_newest_state_wins_and_none_keeps_it(
    backend: Backend, field: str, first: object, second: object
) -> None:
    """E01.FR.16: the evse is given once, not repeated; a message without it says nothing."""
    column = "last_trigger_reason" if field == "trigger_reason" else field
    result = await applied(backend, {field: first})
    assert getattr(result, column) == first
    result = await applied(backend, {field: first}, {field: second}, {field: None})
    assert getattr(result, column) == second


async def test_the_earliest_start_wins(backend: Backend) -> None:
    """Part 2 E 1.3.2: messages may arrive out of order; the session opened by a later
    message moves back to the Started message's time, never forward."""
    result = await applied(backend, {"started_at": T0 + timedelta(minutes=5)})
    assert result.started_at == T0
    result = await applied(
        backend, {"started_at": T0 - timedelta(minutes=5)}, {"started_at": T0}, {}
    )
    assert result.started_at == T0 - timedelta(minutes=5)


async def test_offline_sticks(backend: Backend) -> None:
    """E04.FR.03: a session with any message that occurred offline stays flagged."""
    assert (await applied(backend, {"offline": False})).offline is False
    assert (await applied(backend, {"offline": True}, {"offline": False})).offline is True


async def test_the_last_seq_no_is_the_highest(backend: Backend) -> None:
    """Part 2 E 1.3.2: out of order, a lower seqNo arrives after a higher one."""
    result = await applied(backend, {"seq_no": 4}, {"seq_no": 2}, {"seq_no": None})
    assert result.last_seq_no == 4
    assert (await applied(backend, {"seq_no": 0})).last_seq_no == 0


async def test_the_newest_stop_token_wins(backend: Backend) -> None:
    """E07.FR.02: the token that ended the authorization (it may differ from the start
    token); a message without one keeps it."""
    result = await applied(
        backend, {"stop_id_token": "STOP-1"}, {"stop_id_token": "STOP-2"}, {"stop_id_token": None}
    )
    assert result.stop_id_token == "STOP-2"


async def test_apply_leaves_an_ended_session_alone(backend: Backend) -> None:
    pk = await named(backend)
    assert await backend.stores.sessions.finish(pk, ending())
    ended = await stored_session(backend, pk)
    await backend.stores.sessions.apply(
        pk, changes(seq_no=9, charging_state="Charging", id_token="T", offline=True)
    )
    assert await stored_session(backend, pk) == ended


async def test_apply_to_an_unknown_session_does_nothing(backend: Backend) -> None:
    await backend.stores.sessions.apply(10**12, changes(charging_state="Charging"))
