"""SecurityProfileStore: each charger's recorded security profile only goes up by
connecting (OCPP 2.0.1 A05.FR.07, 1.6 security whitepaper A05.FR.09), the operator sets it
either way (A00.FR.005: lowering is not done over OCPP), and the last upgrade's life."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from contract_helpers import Backend, at, unique

from csms.domain.security_profiles import COMPLETED, PENDING, ROLLED_BACK, SecurityState, Upgrade
from csms.errors import NotFound


def upgrade(target: int, *, upgrade_id: str = "U1", second: int = 0) -> Upgrade:
    return Upgrade(
        id=upgrade_id,
        target=target,
        state=PENDING,
        started_at=at(second),
        deadline=at(second) + timedelta(minutes=10),
        restore={"protocol": "ocpp2.0.1", "priority": "0"},
    )


async def test_a_registered_charger_never_seen_has_minimum_0(backend: Backend) -> None:
    cp = await backend.add_charger()
    assert await backend.stores.security_profiles.get(cp) == SecurityState(cp)


async def test_an_unknown_charger_has_no_state(backend: Backend) -> None:
    store = backend.stores.security_profiles
    assert await store.get(unique("NOPE")) is None
    with pytest.raises(NotFound):
        await store.admit(unique("NOPE"), 1, at(1))
    with pytest.raises(NotFound):
        await store.set_minimum(unique("NOPE"), 2)


async def test_a_connection_raises_the_minimum_to_its_profile(backend: Backend) -> None:
    """A05.FR.07 (2.0.1) / A05.FR.09 (1.6): once connected with a profile, never lower."""
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    admission = await store.admit(cp, 2, at(1))
    assert (admission.admitted, admission.minimum) == (True, 2)
    state = await store.get(cp)
    assert state == SecurityState(cp, minimum=2, last_profile=2, last_connected_at=at(1))


async def test_a_weaker_connection_is_refused_and_changes_nothing(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.admit(cp, 3, at(1))
    refused = await store.admit(cp, 1, at(2))
    assert (refused.admitted, refused.minimum) == (False, 3)
    state = await store.get(cp)
    assert state is not None
    assert (state.minimum, state.last_profile, state.last_connected_at) == (3, 3, at(1))


async def test_a_stronger_connection_keeps_being_admitted_and_equal_too(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.admit(cp, 1, at(1))
    assert (await store.admit(cp, 1, at(2))).admitted
    assert (await store.admit(cp, 3, at(3))).minimum == 3
    assert not (await store.admit(cp, 2, at(4))).admitted


async def test_connections_racing_are_decided_one_after_the_other(backend: Backend) -> None:
    """A secure and a weak handshake at once: whichever is decided second sees the first."""
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    secure, weak = await asyncio.gather(store.admit(cp, 3, at(1)), store.admit(cp, 1, at(1)))
    assert secure.admitted and not weak.admitted
    state = await store.get(cp)
    assert state is not None and state.minimum == 3


async def test_the_operator_sets_the_minimum_up_or_down(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.admit(cp, 3, at(1))
    lowered = await store.set_minimum(cp, 1)
    assert (lowered.minimum, lowered.last_profile) == (1, 3)
    assert (await store.admit(cp, 1, at(2))).admitted
    assert (await store.set_minimum(cp, 2)).minimum == 2
    assert not (await store.admit(cp, 1, at(3))).admitted


async def test_a_connection_reaching_the_target_completes_the_pending_upgrade(
    backend: Backend,
) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.admit(cp, 1, at(1))
    started = await store.start_upgrade(cp, upgrade(3, second=2))
    assert started.upgrade == upgrade(3, second=2)
    # back at the old profile (before the reset): still pending
    assert (await store.admit(cp, 1, at(3))).completed is None
    admission = await store.admit(cp, 3, at(4))
    assert admission.completed is not None and admission.completed.state == COMPLETED
    state = await store.get(cp)
    assert state is not None and state.upgrade is not None
    assert (state.minimum, state.upgrade.state, state.upgrade.finished_at) == (3, COMPLETED, at(4))
    assert state.upgrade.detail == "connected with security profile 3"
    assert state.upgrade.restore == {"protocol": "ocpp2.0.1", "priority": "0"}


async def test_finish_upgrade_ends_only_the_pending_upgrade_it_names(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.start_upgrade(cp, upgrade(2, upgrade_id="U1"))
    assert not await store.finish_upgrade(cp, "OTHER", ROLLED_BACK, "late", at(5))
    assert await store.finish_upgrade(cp, "U1", ROLLED_BACK, "not back in time", at(6))
    assert not await store.finish_upgrade(cp, "U1", ROLLED_BACK, "again", at(7))
    state = await store.get(cp)
    assert state is not None and state.upgrade is not None
    assert (state.upgrade.state, state.upgrade.detail, state.upgrade.finished_at) == (
        ROLLED_BACK,
        "not back in time",
        at(6),
    )
    assert state.minimum == 0  # a rollback never raised it
    await store.note_upgrade(cp, "U1", "not back in time; priority restored")
    state = await store.get(cp)
    assert state is not None and state.upgrade is not None
    assert state.upgrade.detail == "not back in time; priority restored"
    assert state.upgrade.restore == {"protocol": "ocpp2.0.1", "priority": "0"}


async def test_note_upgrade_may_replace_what_a_rollback_restores(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.start_upgrade(cp, upgrade(3, upgrade_id="U1"))
    await store.note_upgrade(cp, "U1", "sent", restore={"priority": "0,1"})
    await store.note_upgrade(cp, "OTHER", "ignored", restore={"priority": "9"})
    state = await store.get(cp)
    assert state is not None and state.upgrade is not None
    assert (state.upgrade.detail, state.upgrade.restore) == ("sent", {"priority": "0,1"})
    assert state.upgrade.state == PENDING


async def test_a_new_upgrade_replaces_the_last_one(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.start_upgrade(cp, upgrade(2, upgrade_id="U1"))
    await store.start_upgrade(cp, upgrade(3, upgrade_id="U2", second=9))
    assert not await store.finish_upgrade(cp, "U1", ROLLED_BACK, "", at(10))
    state = await store.get(cp)
    assert state is not None and state.upgrade == upgrade(3, upgrade_id="U2", second=9)


async def test_removing_the_charger_removes_its_state(backend: Backend) -> None:
    cp = await backend.add_charger()
    store = backend.stores.security_profiles
    await store.admit(cp, 3, at(1))
    await backend.stores.chargers.remove(cp)
    assert await store.get(cp) is None
    await backend.add_charger(cp)
    assert await store.get(cp) == SecurityState(cp)
