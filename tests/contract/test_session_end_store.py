"""SessionStore, continued: how sessions end (the charger's stop, a close by the CSMS) and
what is asked about the open ones (count_active_for_token, open_sessions, last_activity,
open_after_boot)."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest
from contract_helpers import (
    OCPP201,
    T0,
    Backend,
    at,
    changes,
    ending,
    event,
    named,
    new_session,
    sample,
    stored_session,
    unique,
)

from csms.domain.chargers import Boot
from csms.domain.transactions import Transaction

# --- finish ---------------------------------------------------------------------------------


async def test_finish_ends_the_session(backend: Backend) -> None:
    pk = await named(backend)
    sessions = backend.stores.sessions
    before = await stored_session(backend, pk)
    how = ending(
        at(3600),
        meter_start_wh=Decimal("100.5"),
        meter_stop_wh=Decimal("2100.5"),
        energy_wh=Decimal(2000),
        flags=("no_meter_reading",),
        stop_reason="EVDisconnected",
        stop_id_token="STOP",
    )
    assert await sessions.finish(pk, how) is True
    assert await stored_session(backend, pk) == dataclasses.replace(
        before,
        ended_at=at(3600),
        meter_start_wh=Decimal("100.5"),
        meter_stop_wh=Decimal("2100.5"),
        energy_wh=Decimal(2000),
        flags=["no_meter_reading"],
        stop_reason="EVDisconnected",
        stop_id_token="STOP",
        closed_by="charger",
        close_reason=None,
    )


async def test_finish_keeps_the_meter_start_the_session_had(backend: Backend) -> None:
    cp = await backend.add_charger()
    started, _ = await backend.stores.sessions.create_started(
        cp, new_session("TAG-A", meter_start_wh=1000)
    )
    assert await backend.stores.sessions.finish(started.id, ending(meter_start_wh=Decimal(7)))
    assert (await stored_session(backend, started.id)).meter_start_wh == Decimal(1000)


async def test_finish_keeps_a_stop_token_when_it_has_none(backend: Backend) -> None:
    pk = await named(backend)
    await backend.stores.sessions.apply(pk, changes(stop_id_token="STOP"))
    assert await backend.stores.sessions.finish(pk, ending(stop_id_token=None, stop_reason=None))
    ended = await stored_session(backend, pk)
    assert (ended.stop_id_token, ended.stop_reason) == ("STOP", None)


async def test_finish_once(backend: Backend) -> None:
    """1.6 4.10 / E06: a StopTransaction or Ended message that comes again ends nothing."""
    pk = await named(backend)
    sessions = backend.stores.sessions
    assert await sessions.finish(pk, ending(at(60), stop_reason="Local"))
    ended = await stored_session(backend, pk)
    again = ending(
        at(120),
        meter_stop_wh=Decimal(1),
        energy_wh=Decimal(0),
        flags=("meter_stop_below_start",),
        stop_reason="Remote",
        stop_id_token="OTHER",
    )
    assert await sessions.finish(pk, again) is False
    assert await stored_session(backend, pk) == ended


async def test_a_csms_close_ends_a_session_that_has_not_ended(backend: Backend) -> None:
    """docs/topics/sessions.md: a session the charger abandoned is closed by the CSMS, with
    the rule that closed it."""
    pk = await named(backend)
    before = await stored_session(backend, pk)
    close = ending(at(90), flags=("meter_stop_estimated",), stop_reason=None,
                   close_reason="superseded")  # fmt: skip
    assert await backend.stores.sessions.finish(pk, close) is True
    assert await stored_session(backend, pk) == dataclasses.replace(
        before,
        ended_at=at(90),
        meter_stop_wh=close.meter_stop_wh,
        energy_wh=close.energy_wh,
        flags=["meter_stop_estimated"],
        closed_by="csms",
        close_reason="superseded",
    )


@pytest.mark.parametrize("first_close", [None, "superseded"])
async def test_a_csms_close_of_an_ended_session_changes_nothing(
    backend: Backend, first_close: str | None
) -> None:
    pk = await named(backend)
    assert await backend.stores.sessions.finish(pk, ending(at(60), close_reason=first_close))
    ended = await stored_session(backend, pk)
    late_close = ending(at(90), close_reason="rebooted")
    assert await backend.stores.sessions.finish(pk, late_close) is False
    assert await stored_session(backend, pk) == ended


async def test_the_chargers_late_stop_replaces_a_csms_close_once(backend: Backend) -> None:
    """docs/topics/sessions.md: the charger's own stop has the true readings; it replaces
    the close (its flags replace the ones an end decides, others stay), and the close
    reason stays as history. A second copy changes nothing."""
    pk = await named(backend)
    sessions = backend.stores.sessions
    close = ending(at(90), meter_stop_wh=Decimal(1500), energy_wh=Decimal(500),
                   flags=("meter_stop_estimated", "unauthorized", "kept"),
                   stop_reason=None, close_reason="rebooted")  # fmt: skip
    assert await sessions.finish(pk, close)
    closed = await stored_session(backend, pk)
    stop = ending(at(120), meter_stop_wh=Decimal(2500), energy_wh=Decimal(1500),
                  flags=("no_meter_reading",), stop_reason="EVDisconnected",
                  stop_id_token="STOP")  # fmt: skip
    assert await sessions.finish(pk, stop) is True
    stopped = await stored_session(backend, pk)
    assert stopped == dataclasses.replace(
        closed,
        ended_at=at(120),
        meter_stop_wh=Decimal(2500),
        energy_wh=Decimal(1500),
        flags=["kept", "no_meter_reading"],
        stop_reason="EVDisconnected",
        stop_id_token="STOP",
        closed_by="charger",
        close_reason="rebooted",
    )
    assert await sessions.finish(pk, dataclasses.replace(stop, ended_at=at(130))) is False
    assert await stored_session(backend, pk) == stopped


async def test_finish_of_an_unknown_session_is_false(backend: Backend) -> None:
    assert await backend.stores.sessions.finish(10**12, ending()) is False


# --- count_active_for_token -------------------------------------------------------------------


async def test_active_sessions_of_a_token_are_counted_on_every_charger(backend: Backend) -> None:
    """1.6 7.2 / 2.0.1 ConcurrentTx: the count decides whether a token already charges."""
    token = unique("tag")
    one, two = await backend.add_charger(), await backend.add_charger()
    sessions = backend.stores.sessions
    assert await sessions.count_active_for_token(token) == 0
    started, _ = await sessions.create_started(one, new_session(token))
    pk = await named(backend, two)
    await sessions.apply(pk, changes(id_token=token.upper(), authorization_status="Accepted"))
    await named(backend, two, "uuid-other")  # no token
    await sessions.create_started(two, new_session(unique("tag")))  # another token
    assert await sessions.count_active_for_token(token) == 2
    assert await sessions.count_active_for_token(token.upper()) == 2  # case-insensitive
    assert await sessions.count_active_for_token(token, excluding_pk=started.id) == 1
    assert await sessions.count_active_for_token(token, excluding_pk=pk) == 1
    await sessions.finish(started.id, ending())
    assert await sessions.count_active_for_token(token) == 1
    assert await sessions.count_active_for_token(token, excluding_pk=started.id) == 1


@pytest.mark.parametrize("status", ["Blocked", "Invalid", "ConcurrentTx", None])
async def test_a_session_the_csms_did_not_accept_is_not_counted(
    backend: Backend, status: str | None
) -> None:
    """docs/topics/sessions.md: a session the CSMS refused is not the token's session (it
    must not make the token's next start ConcurrentTx)."""
    token = unique("tag")
    cp = await backend.add_charger()
    await backend.stores.sessions.create_started(
        cp, new_session(token, authorization_status=status or "Accepted")
    )
    if status is None:  # a session named by its charger, its token not decided
        pk = await named(backend, cp)
        await backend.stores.sessions.apply(pk, changes(id_token=token))
        assert await backend.stores.sessions.count_active_for_token(token) == 1
    else:
        assert await backend.stores.sessions.count_active_for_token(token) == 0


async def test_a_stop_token_is_not_counted(backend: Backend) -> None:
    token = unique("tag")
    pk = await named(backend)
    await backend.stores.sessions.apply(pk, changes(stop_id_token=token))
    assert await backend.stores.sessions.count_active_for_token(token) == 0


# --- open_sessions / last_activity / open_after_boot --------------------------------------------


async def test_open_sessions_are_the_chargers_sessions_not_ended_by_start(
    backend: Backend,
) -> None:
    cp, other = await backend.add_charger(), await backend.add_charger()
    sessions = backend.stores.sessions

    async def opened(transaction_id: str, second: int, charger: str = cp) -> Transaction:
        return await sessions.open_named(
            charger, transaction_id, protocol=OCPP201, started_at=at(second), evse_id=1,
            connector_id=1,
        )  # fmt: skip

    late, early = await opened("late", 30), await opened("early", 10)
    same_time = await opened("same-time", 10)  # then by row id
    ended = await opened("ended", 5)
    closed = await opened("closed", 6)
    await opened("elsewhere", 1, other)
    started, _ = await sessions.create_started(cp, new_session("TAG-A", started_at=at(20)))
    assert await sessions.finish(ended.id, ending(at(40)))
    assert await sessions.finish(closed.id, ending(at(40), close_reason="superseded"))
    assert await sessions.open_sessions(cp) == [early, same_time, started, late]
    assert await sessions.open_sessions(unique("CT")) == []


async def test_open_sessions_asked_at_once_are_each_chargers(backend: Backend) -> None:
    ids = [await backend.add_charger() for _ in range(3)]
    pks = [await named(backend, cp) for cp in ids[:2]]
    found = await asyncio.gather(*(backend.stores.sessions.open_sessions(cp) for cp in ids))
    assert [[s.id for s in sessions] for sessions in found] == [[pks[0]], [pks[1]], []]


async def test_last_activity_is_the_latest_start_sample_or_event(backend: Backend) -> None:
    """Where a session the charger abandoned is ended (docs/topics/sessions.md)."""
    cp = await backend.add_charger()
    sessions = backend.stores.sessions
    pk = await named(backend, cp)  # started at T0
    other = await named(backend, cp, "TX-2")
    assert await sessions.last_activity(pk) == T0
    early = sample(-60, "1")  # a sample before the start does not move it back
    await backend.stores.meters.add_samples(cp, 1, 1, pk, [early])
    assert await sessions.last_activity(pk) == T0
    await backend.stores.meters.add_samples(cp, 1, 1, pk, [sample(30, "2")])
    assert await sessions.last_activity(pk) == at(30)
    message = dataclasses.replace(event(pk, 1), occurred_at=at(45))
    assert await sessions.record_and_apply(message)
    assert await sessions.last_activity(pk) == at(45)
    recorded_only = dataclasses.replace(event(pk, 2), occurred_at=at(50))
    assert await sessions.record_event(recorded_only)
    assert await sessions.last_activity(pk) == at(50)
    # another session's samples and events are its own
    await backend.stores.meters.add_samples(cp, 1, 2, other, [sample(90, "3")])
    assert await sessions.record_and_apply(dataclasses.replace(event(other, 1),
                                                               occurred_at=at(95)))  # fmt: skip
    assert await sessions.last_activity(pk) == at(50)
    assert await sessions.last_activity(other) == at(95)


async def test_last_activity_of_an_unknown_session_is_none(backend: Backend) -> None:
    assert await backend.stores.sessions.last_activity(10**12) is None


async def test_open_after_boot_finds_sessions_their_charger_rebooted_without_ending(
    backend: Backend,
) -> None:
    """docs/topics/sessions.md, rule "rebooted": open, nothing heard since the charger's
    last boot, which is older than the grace (``booted_before``)."""
    stores = backend.stores
    rebooted, fresh_boot, never_booted = [await backend.add_charger() for _ in range(3)]
    boot = at(100)
    await stores.chargers.record_boot(Boot(rebooted, boot, {}))
    await stores.chargers.record_boot(Boot(fresh_boot, at(700), {}))
    silent = await named(backend, rebooted, "silent")  # started at T0, nothing since
    heard = await named(backend, rebooted, "heard")
    await stores.meters.add_samples(rebooted, 1, 1, heard, [sample(150, "1")])  # after boot
    ended = await named(backend, rebooted, "ended")
    assert await stores.sessions.finish(ended, ending(at(50)))
    sampled_before = await named(backend, rebooted, "sampled-before")
    await stores.meters.add_samples(rebooted, 1, 2, sampled_before, [sample(99, "1")])
    await named(backend, fresh_boot, "too-recent")  # booted after booted_before
    await named(backend, never_booted, "no-boot")
    found = await stores.sessions.open_after_boot(at(600))
    mine = [s.id for s in found if s.charge_point_id in (rebooted, fresh_boot, never_booted)]
    assert mine == [silent, sampled_before]  # by row id
    assert [s.id for s in found] == sorted(s.id for s in found)
    assert [s for s in await stores.sessions.open_after_boot(boot)
            if s.charge_point_id == rebooted] == []  # fmt: skip
