"""ChargerStore: registration, boots, connector statuses, heartbeats, firmware/diagnostics
statuses (presence: test_presence_store.py)."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest
from contract_helpers import (
    OCPP16,
    OCPP201,
    REFUSED,
    Backend,
    PostgresBackend,
    at,
    connector_status,
    event,
    new_session,
    sample,
    stored_charger,
    unique,
)

from csms.domain.chargers import Boot, Charger, Presence
from csms.domain.reports import VariableRow
from csms.errors import AlreadyExists, NotFound

IDENTITY = {
    "vendor": "ACME",
    "model": "Wallbox 1",
    "serial_number": "SN-1",
    "firmware_version": "1.2.3",
    "iccid": "8931",
    "imsi": "2620",
    "meter_type": "MT",
    "meter_serial_number": "MSN-1",
}


# --- add / get / update / remove --------------------------------------------------------------


async def test_add_registers_a_charger_with_nothing_reported_yet(backend: Backend) -> None:
    cp = unique("CT")
    added = await backend.stores.chargers.add(
        cp, password_hash="hash", boot_policy="pending", ocpp_version=OCPP201, description="d"
    )
    assert added == await backend.stores.chargers.get(cp)
    assert dataclasses.replace(added, created_at=at(0)) == Charger(
        charge_point_id=cp,
        password_hash="hash",
        auth_mode="basic",
        boot_policy="pending",
        ocpp_version=OCPP201,
        description="d",
        registration_status=None,
        vendor=None,
        model=None,
        serial_number=None,
        firmware_version=None,
        iccid=None,
        imsi=None,
        meter_type=None,
        meter_serial_number=None,
        connected_protocol=None,
        connected_node=None,
        last_boot_at=None,
        last_heartbeat_at=None,
        last_seen_at=None,
        firmware_status=None,
        diagnostics_status=None,
        created_at=at(0),
    )


async def test_add_without_a_password_hash_is_auth_mode_none(backend: Backend) -> None:
    cp = await backend.add_charger(password_hash=None)
    assert (await stored_charger(backend, cp)).auth_mode == "none"


async def test_add_of_a_registered_id_is_already_exists(backend: Backend) -> None:
    cp = await backend.add_charger(description="first")
    with pytest.raises(AlreadyExists):
        await backend.add_charger(cp, description="second")
    assert (await stored_charger(backend, cp)).description == "first"


async def test_get_of_an_unregistered_charger_is_none(backend: Backend) -> None:
    assert await backend.stores.chargers.get(unique("CT")) is None


async def test_update_changes_the_operator_set_fields(backend: Backend) -> None:
    cp = await backend.add_charger(password_hash=None)
    before = await stored_charger(backend, cp)
    updated = await backend.stores.chargers.update(
        cp,
        password_hash="new-hash",
        auth_mode="basic",
        boot_policy="reject",
        ocpp_version=OCPP16,
        description="moved",
    )
    assert updated == await stored_charger(backend, cp)
    assert updated == dataclasses.replace(
        before,
        password_hash="new-hash",
        auth_mode="basic",
        boot_policy="reject",
        ocpp_version=OCPP16,
        description="moved",
    )


async def test_update_of_one_field_leaves_the_others(backend: Backend) -> None:
    cp = await backend.add_charger(ocpp_version=OCPP201, description="kept")
    updated = await backend.stores.chargers.update(cp, ocpp_version=None)
    assert (updated.ocpp_version, updated.description) == (None, "kept")


async def test_update_of_an_unregistered_charger_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.stores.chargers.update(unique("CT"), description="x")


@pytest.mark.parametrize("field", ["registration_status", "vendor", "created_at", "unknown"])
async def test_update_of_other_fields_is_refused(backend: Backend, field: str) -> None:
    cp = await backend.add_charger()
    with pytest.raises(ValueError):
        await backend.stores.chargers.update(cp, **{field: None})


async def test_update_with_nothing_to_change_returns_the_charger(backend: Backend) -> None:
    cp = await backend.add_charger()
    assert await backend.stores.chargers.update(cp) == await stored_charger(backend, cp)


async def test_remove_deletes_the_charger_and_everything_recorded_about_it(
    backend: Backend,
) -> None:
    stores = backend.stores
    cp = await backend.add_charger()
    await stores.chargers.record_boot(Boot(cp, at(0), IDENTITY))
    await stores.chargers.record_connector_status(cp, connector_status(1, 1, "Occupied", 1))
    await stores.chargers.record_presence(Presence(cp, OCPP201, "n1", 1, at(1)))
    session = await stores.sessions.open_named(
        cp, "T1", protocol=OCPP201, started_at=at(1), evse_id=1, connector_id=1
    )
    token = unique("TAG")
    accepted = event(session.id, 1, id_token=token, authorization_status="Accepted")
    assert await stores.sessions.record_and_apply(accepted)
    started, _ = await stores.sessions.create_started(cp, new_session(token))
    await stores.meters.add_samples(cp, 1, 1, session.id, [sample(2, "10")])
    await stores.reports.record_notification(cp, "SecurityEventNotification", {"type": "x"})
    await stores.reports.upsert_configuration(cp, [("HeartbeatInterval", "60", False)])
    row = VariableRow(
        "OCPPCommCtrlr", "", -1, -1, "HeartbeatInterval", "", "Actual", "60", None, None
    )
    await stores.reports.upsert_variables(cp, [row])
    await stores.reports.record_availability(
        cp, evse_id=0, connector_id=0, operative=False, answer="Accepted"
    )
    assert await stores.sessions.count_active_for_token(token) == 2

    await stores.chargers.remove(cp)

    assert await stores.chargers.get(cp) is None
    assert await stores.sessions.get(cp, "T1") is None
    assert await stores.sessions.get_by_pk(session.id) is None
    assert await stores.sessions.find_started(cp, new_session(token).start_key) is None
    assert await stores.sessions.count_active_for_token(token) == 0
    assert await stores.meters.register_readings_wh(session.id) == (None, None)
    # registered again, the charger starts from nothing
    await backend.add_charger(cp)
    assert await stores.chargers.list_connectors(cp) == []
    assert await stores.sessions.get(cp, "T1") is None
    assert await stores.sessions.get(cp, started.transaction_id) is None
    assert await stores.reports.list_notifications(cp) == []
    assert await stores.reports.list_configuration(cp) == []
    assert await stores.reports.list_variables(cp) == []
    assert await stores.reports.list_availability(cp) == []
    fresh = await stored_charger(backend, cp)
    assert (fresh.registration_status, fresh.vendor, fresh.connected_node) == (None, None, None)


async def test_remove_of_an_unregistered_charger_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.stores.chargers.remove(unique("CT"))


async def test_remove_leaves_other_chargers_alone(backend: Backend) -> None:
    gone, kept = await backend.add_charger(), await backend.add_charger()
    for cp in (gone, kept):
        await backend.stores.chargers.record_connector_status(
            cp, connector_status(0, 1, "Available", 1)
        )
    await backend.stores.chargers.remove(gone)
    assert await backend.stores.chargers.list_connectors(kept) == [
        connector_status(0, 1, "Available", 1)
    ]


# --- record_boot ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("boot_policy", "status"),
    [
        ("accept", "Accepted"),  # B01.FR.02
        ("pending", "Pending"),  # B02.FR.01
        ("reject", "Rejected"),  # B03.FR.02
    ],
)
async def test_a_boot_gets_the_status_of_the_boot_policy_and_stores_the_identity(
    backend: Backend, boot_policy: str, status: str
) -> None:
    cp = await backend.add_charger(boot_policy=boot_policy)
    assert await backend.stores.chargers.record_boot(Boot(cp, at(5), IDENTITY)) == status
    stored = await stored_charger(backend, cp)
    assert stored.registration_status == status
    assert (stored.last_boot_at, stored.last_seen_at) == (at(5), at(5))
    assert {name: getattr(stored, name) for name in IDENTITY} == IDENTITY


async def test_a_boot_of_an_unregistered_charger_is_rejected_and_stores_nothing(
    backend: Backend,
) -> None:
    cp = unique("CT")
    assert await backend.stores.chargers.record_boot(Boot(cp, at(0), IDENTITY)) == "Rejected"
    assert await backend.stores.chargers.get(cp) is None


async def test_a_boot_follows_a_changed_boot_policy(backend: Backend) -> None:
    cp = await backend.add_charger(boot_policy="pending")
    assert await backend.stores.chargers.record_boot(Boot(cp, at(0), IDENTITY)) == "Pending"
    await backend.stores.chargers.update(cp, boot_policy="accept")
    assert await backend.stores.chargers.record_boot(Boot(cp, at(1), IDENTITY)) == "Accepted"


async def test_a_reboot_replaces_the_whole_identity(backend: Backend) -> None:
    """B01.FR.03: every boot reports the identity again; what it leaves out is unknown."""
    cp = await backend.add_charger()
    await backend.stores.chargers.record_boot(Boot(cp, at(0), IDENTITY))
    await backend.stores.chargers.record_boot(Boot(cp, at(9), {"vendor": "ACME", "model": "2"}))
    stored = await stored_charger(backend, cp)
    assert {name: getattr(stored, name) for name in IDENTITY} == {
        **dict.fromkeys(IDENTITY),
        "vendor": "ACME",
        "model": "2",
    }
    assert stored.last_boot_at == at(9)


async def test_boots_made_at_once_land_in_call_order(backend: Backend) -> None:
    cp = await backend.add_charger()
    boots = [Boot(cp, at(second), {"model": f"M{second}"}) for second in (3, 1, 2)]
    results = await asyncio.gather(*(backend.stores.chargers.record_boot(b) for b in boots))
    assert results == ["Accepted"] * 3
    stored = await stored_charger(backend, cp)
    assert (stored.model, stored.last_boot_at) == ("M2", at(2))


# --- connector statuses ---------------------------------------------------------------------


async def test_the_newest_status_of_a_connector_is_kept(backend: Backend) -> None:
    cp = await backend.add_charger()
    chargers = backend.stores.chargers
    await chargers.record_connector_status(cp, connector_status(1, 1, "Available", 1))
    newer = connector_status(
        1,
        1,
        "Faulted",
        2,
        error_code="GroundFailure",
        info="i",
        vendor_id="V",
        vendor_error_code="E7",
    )
    await chargers.record_connector_status(cp, newer)
    assert await chargers.list_connectors(cp) == [newer]


async def test_an_older_status_replayed_changes_nothing(backend: Backend) -> None:
    cp = await backend.add_charger()
    chargers = backend.stores.chargers
    newest = connector_status(1, 1, "Occupied", 10)
    await chargers.record_connector_status(cp, newest)
    await chargers.record_connector_status(cp, connector_status(1, 1, "Available", 9))
    assert await chargers.list_connectors(cp) == [newest]


async def test_connectors_are_listed_by_evse_then_connector(backend: Backend) -> None:
    cp = await backend.add_charger()
    statuses = [
        connector_status(evse, connector, "Available", evse * 10 + connector)
        for evse, connector in [(2, 1), (0, 0), (1, 2), (1, 0), (10, 1), (1, 1)]
    ]
    for status in statuses:
        await backend.stores.chargers.record_connector_status(cp, status)
    listed = await backend.stores.chargers.list_connectors(cp)
    assert [(s.evse_id, s.connector_id) for s in listed] == [
        (0, 0),
        (1, 0),
        (1, 1),
        (1, 2),
        (2, 1),
        (10, 1),
    ]


async def test_statuses_made_at_once_keep_the_newest_per_connector(backend: Backend) -> None:
    one, two = await backend.add_charger(), await backend.add_charger()
    calls = [
        (one, connector_status(0, 1, "Charging", 5)),
        (two, connector_status(0, 1, "Available", 1)),
        (one, connector_status(0, 1, "Preparing", 3)),  # older than the one before
        (one, connector_status(0, 2, "Faulted", 4)),
        (two, connector_status(0, 1, "Finishing", 2)),
    ]
    await asyncio.gather(
        *(backend.stores.chargers.record_connector_status(cp, s) for cp, s in calls)
    )
    assert await backend.stores.chargers.list_connectors(one) == [calls[0][1], calls[3][1]]
    assert await backend.stores.chargers.list_connectors(two) == [calls[4][1]]


async def test_a_status_of_an_unregistered_charger_is_refused(backend: Backend) -> None:
    cp = unique("CT")
    with pytest.raises(REFUSED):
        await backend.stores.chargers.record_connector_status(
            cp, connector_status(0, 1, "Available", 1)
        )
    assert await backend.stores.chargers.list_connectors(cp) == []


# --- heartbeats and charger statuses --------------------------------------------------------


async def test_a_heartbeat_sets_last_heartbeat_and_last_seen(backend: Backend) -> None:
    """G02.FR.04: any message shows the charger is there."""
    cp = await backend.add_charger()
    backend.stores.chargers.note_heartbeat(cp, at(30))
    await backend.settle()
    stored = await stored_charger(backend, cp)
    assert (stored.last_heartbeat_at, stored.last_seen_at) == (at(30), at(30))


async def test_heartbeats_noted_together_keep_the_last(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    if backend.name == "postgres":
        # the plan production gets (thousands of chargers): look each charger up by key
        dsn: str = request.getfixturevalue("database_url")
        pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=1,
            server_settings={"enable_hashjoin": "off", "enable_mergejoin": "off"},
        )
        assert pool is not None
        try:
            await _heartbeats_noted_together(PostgresBackend(pool))
        finally:
            await pool.close()
    else:
        await _heartbeats_noted_together(backend)


async def _heartbeats_noted_together(backend: Backend) -> None:
    cp = await backend.add_charger()
    for second in (1, 2, 3):
        backend.stores.chargers.note_heartbeat(cp, at(second))
    await backend.settle()
    stored = await stored_charger(backend, cp)
    assert (stored.last_heartbeat_at, stored.last_seen_at) == (at(3), at(3))


async def test_a_heartbeat_of_an_unregistered_charger_is_dropped(backend: Backend) -> None:
    cp = unique("CT")
    backend.stores.chargers.note_heartbeat(cp, at(30))
    await backend.settle()
    assert await backend.stores.chargers.get(cp) is None


async def test_charger_statuses_keep_the_latest_of_each(backend: Backend) -> None:
    cp = await backend.add_charger()
    chargers = backend.stores.chargers

    async def statuses() -> tuple[str | None, str | None]:
        stored = await stored_charger(backend, cp)
        return stored.firmware_status, stored.diagnostics_status

    await chargers.record_charger_status(cp, firmware_status="Downloading")
    assert await statuses() == ("Downloading", None)
    await chargers.record_charger_status(cp, diagnostics_status="Uploading")
    assert await statuses() == ("Downloading", "Uploading")
    await chargers.record_charger_status(cp, firmware_status="Installed")
    assert await statuses() == ("Installed", "Uploading")
    await chargers.record_charger_status(cp)
    assert await statuses() == ("Installed", "Uploading")
    await chargers.record_charger_status(cp, firmware_status="Idle", diagnostics_status="Uploaded")
    assert await statuses() == ("Idle", "Uploaded")


async def test_a_charger_status_of_an_unregistered_charger_is_ignored(backend: Backend) -> None:
    cp = unique("CT")
    await backend.stores.chargers.record_charger_status(cp, firmware_status="Idle")
    assert await backend.stores.chargers.get(cp) is None
