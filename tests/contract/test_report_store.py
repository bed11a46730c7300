"""ReportStore: notifications kept as received, 1.6 configuration keys, the 2.0.1 device
model, availability answers."""

from __future__ import annotations

from typing import Any

import pytest
from contract_helpers import REFUSED, Backend, at, fields_of, unique

from csms.domain.reports import Availability, ConfigurationValue, Notification, VariableRow

SECURITY = "SecurityEventNotification"
FIRMWARE = "FirmwareStatusNotification"
LOG = "LogStatusNotification"

IGNORED = ("reported_at",)  # set by the store's clock (now() in PostgreSQL)


def listed(values: list[Any], *ignore: str) -> list[dict[str, Any]]:
    return [fields_of(v, ignore=ignore) for v in values]


# --- notifications --------------------------------------------------------------------------


async def record(backend: Backend, cp: str, actions: list[str]) -> None:
    for i, action in enumerate(actions):
        await backend.stores.reports.record_notification(
            cp, action, {"n": i}, kind=f"k{i}", occurred_at=at(i)
        )


async def test_a_notification_is_kept_as_received(backend: Backend) -> None:
    cp = await backend.add_charger()
    payload = {"type": "FirmwareUpdated", "techInfo": "v2", "nested": {"list": [1, 2.5, None]}}
    await backend.stores.reports.record_notification(
        cp, SECURITY, payload, kind="FirmwareUpdated", occurred_at=at(3)
    )
    await backend.stores.reports.record_notification(cp, FIRMWARE, {"status": "Idle"})
    newest, oldest = await backend.stores.reports.list_notifications(cp)
    assert isinstance(oldest, Notification)
    assert fields_of(oldest, ignore=("id", "received_at")) == {
        "action": SECURITY,
        "kind": "FirmwareUpdated",
        "occurred_at": at(3),
        "payload": payload,
    }
    assert (newest.action, newest.kind, newest.occurred_at) == (FIRMWARE, None, None)
    assert newest.id > oldest.id


async def test_notifications_are_listed_newest_first(backend: Backend) -> None:
    cp = await backend.add_charger()
    await record(backend, cp, [SECURITY, FIRMWARE, LOG, SECURITY])
    listed = await backend.stores.reports.list_notifications(cp)
    assert [n.payload["n"] for n in listed] == [3, 2, 1, 0]
    assert [n.id for n in listed] == sorted((n.id for n in listed), reverse=True)


async def test_notifications_are_filtered_by_action(backend: Backend) -> None:
    cp = await backend.add_charger()
    await record(backend, cp, [SECURITY, FIRMWARE, LOG, SECURITY])
    reports = backend.stores.reports
    assert [n.payload["n"] for n in await reports.list_notifications(cp, actions=[SECURITY])] == [
        3,
        0,
    ]
    both = await reports.list_notifications(cp, actions=[LOG, FIRMWARE])
    assert [n.payload["n"] for n in both] == [2, 1]
    assert await reports.list_notifications(cp, actions=["Other"]) == []
    assert await reports.list_notifications(cp, actions=[]) == []


async def test_notifications_are_paged_with_limit_and_before_id(backend: Backend) -> None:
    cp = await backend.add_charger()
    await record(backend, cp, [SECURITY, FIRMWARE, SECURITY, LOG, SECURITY])
    reports = backend.stores.reports
    everything = await reports.list_notifications(cp)
    pages, before = [], None
    while True:
        page = await reports.list_notifications(cp, limit=2, before_id=before)
        if not page:
            break
        pages.append([n.payload["n"] for n in page])
        before = page[-1].id
    assert pages == [[4, 3], [2, 1], [0]]
    assert [n.payload["n"] for n in everything] == [4, 3, 2, 1, 0]
    filtered = await reports.list_notifications(
        cp, actions=[SECURITY], limit=1, before_id=everything[0].id
    )
    assert [n.payload["n"] for n in filtered] == [2]
    assert await reports.list_notifications(cp, limit=0) == []


async def test_notifications_of_other_chargers_are_not_listed(backend: Backend) -> None:
    mine, other = await backend.add_charger(), await backend.add_charger()
    await record(backend, other, [SECURITY])
    assert await backend.stores.reports.list_notifications(mine) == []


async def test_a_notification_of_an_unregistered_charger_is_refused(backend: Backend) -> None:
    cp = unique("CT")
    with pytest.raises(REFUSED):
        await backend.stores.reports.record_notification(cp, SECURITY, {})
    assert await backend.stores.reports.list_notifications(cp) == []


# --- 1.6 configuration ----------------------------------------------------------------------


async def test_configuration_is_listed_by_key(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.reports.upsert_configuration(
        cp, [("b", "2", False), ("HeartbeatInterval", "60", False), ("a", None, True)]
    )
    listed_ = await backend.stores.reports.list_configuration(cp)
    # by key as text, character by character ("H" before "a")
    assert [fields_of(v, ignore=IGNORED) for v in listed_] == [
        fields_of(ConfigurationValue(key, value, readonly, at(0)), ignore=IGNORED)
        for key, value, readonly in [
            ("HeartbeatInterval", "60", False),
            ("a", None, True),
            ("b", "2", False),
        ]
    ]


async def test_a_configuration_upsert_replaces_values_and_keeps_a_known_readonly(
    backend: Backend,
) -> None:
    """ChangeConfiguration (1.6 5.3) answers tell the value, not whether the key is
    readonly; GetConfiguration (5.8) tells both."""
    cp = await backend.add_charger()
    reports = backend.stores.reports
    await reports.upsert_configuration(cp, [("A", "1", True), ("B", "1", False), ("C", "1", None)])
    await reports.upsert_configuration(cp, [("A", "2", None), ("B", None, None), ("C", "2", None)])
    assert [(v.key, v.value, v.readonly) for v in await reports.list_configuration(cp)] == [
        ("A", "2", True),
        ("B", None, False),
        ("C", "2", None),
    ]
    await reports.upsert_configuration(cp, [("A", "3", False)])
    assert [(v.key, v.value, v.readonly) for v in await reports.list_configuration(cp)][0] == (
        "A",
        "3",
        False,
    )


async def test_configuration_of_other_chargers_is_not_listed(backend: Backend) -> None:
    mine, other = await backend.add_charger(), await backend.add_charger()
    await backend.stores.reports.upsert_configuration(other, [("A", "1", True)])
    await backend.stores.reports.upsert_configuration(mine, [])
    assert await backend.stores.reports.list_configuration(mine) == []


async def test_a_key_given_twice_in_one_call_keeps_the_last(backend: Backend) -> None:
    cp = await backend.add_charger()
    reports = backend.stores.reports
    await reports.upsert_configuration(cp, [("A", "1", True), ("A", "2", None)])
    assert [(v.key, v.value, v.readonly) for v in await reports.list_configuration(cp)] == [
        ("A", "2", True)
    ]


async def test_configuration_of_an_unregistered_charger_is_refused(backend: Backend) -> None:
    cp = unique("CT")
    with pytest.raises(REFUSED):
        await backend.stores.reports.upsert_configuration(cp, [("A", "1", True)])
    assert await backend.stores.reports.list_configuration(cp) == []


# --- 2.0.1 device model -----------------------------------------------------------------------


def variable(
    component: str = "OCPPCommCtrlr",
    variable_: str = "HeartbeatInterval",
    value: str | None = "60",
    *,
    component_instance: str = "",
    evse_id: int = -1,
    connector_id: int = -1,
    variable_instance: str = "",
    attribute_type: str = "Actual",
    mutability: str | None = "ReadWrite",
    characteristics: dict[str, Any] | None = None,
) -> VariableRow:
    return VariableRow(
        component,
        component_instance,
        evse_id,
        connector_id,
        variable_,
        variable_instance,
        attribute_type,
        value,
        mutability,
        characteristics,
    )


async def test_variables_are_listed_as_configuration_values(backend: Backend) -> None:
    """B07/B08 NotifyReport: one value per attribute of a variable."""
    cp = await backend.add_charger()
    rows = [
        variable("EVSE", "Power", "11000", evse_id=1, connector_id=-1, mutability="ReadOnly"),
        variable(
            "Connector",
            "Type",
            "cType2",
            component_instance="x",
            evse_id=1,
            connector_id=2,
            variable_instance="y",
            attribute_type="Target",
            mutability=None,
        ),
    ]
    await backend.stores.reports.upsert_variables(cp, rows)
    values = await backend.stores.reports.list_variables(cp)
    assert listed(values, *IGNORED) == [
        {
            "key": "Connector/x.Type/y",
            "value": "cType2",
            "readonly": None,
            "component": "Connector",
            "component_instance": "x",
            "variable": "Type",
            "variable_instance": "y",
            "evse_id": 1,
            "connector_id": 2,
            "attribute_type": "Target",
            "mutability": None,
        },
        {
            "key": "EVSE.Power",
            "value": "11000",
            "readonly": True,
            "component": "EVSE",
            "component_instance": None,
            "variable": "Power",
            "variable_instance": None,
            "evse_id": 1,
            "connector_id": None,
            "attribute_type": "Actual",
            "mutability": "ReadOnly",
        },
    ]


async def test_variables_are_listed_by_their_whole_key(backend: Backend) -> None:
    cp = await backend.add_charger()
    keys = [
        ("b", "", -1, -1, "v", "", "Actual"),
        ("a", "i2", -1, -1, "v", "", "Actual"),
        ("a", "i1", 2, -1, "v", "", "Actual"),
        ("a", "i1", 1, 2, "v", "", "Actual"),
        ("a", "i1", 1, 1, "w", "", "Actual"),
        ("a", "i1", 1, 1, "v", "y", "Actual"),
        ("a", "i1", 1, 1, "v", "x", "Target"),
        ("a", "i1", 1, 1, "v", "x", "MinSet"),
        ("B", "", -1, -1, "v", "", "Actual"),
        ("a", "", -1, -1, "v", "", "Actual"),
    ]
    rows = [VariableRow(*key, "1", "ReadWrite", None) for key in keys]
    await backend.stores.reports.upsert_variables(cp, rows)
    values = await backend.stores.reports.list_variables(cp)
    got = [
        (
            v.component,
            v.component_instance or "",
            v.evse_id,
            v.connector_id,
            v.variable,
            v.variable_instance or "",
            v.attribute_type,
        )
        for v in values
    ]
    normalised = [
        (c, ci, None if e == -1 else e, None if n == -1 else n, var, vi, a)
        for c, ci, e, n, var, vi, a in sorted(keys)
    ]
    assert got == normalised


async def test_a_variable_upsert_keeps_a_known_mutability_and_characteristics(
    backend: Backend,
) -> None:
    """GetVariables / SetVariables answers (B06, B05) carry the value only; a NotifyReport
    carries mutability and variableCharacteristics too (B07.FR.08)."""
    cp = await backend.add_charger()
    reports = backend.stores.reports
    limits = {"dataType": "integer", "supportsMonitoring": False, "unit": "s"}
    await reports.upsert_variables(
        cp, [variable(value="60", mutability="ReadOnly", characteristics=limits)]
    )
    await reports.upsert_variables(
        cp, [variable(value="90", mutability=None, characteristics=None)]
    )
    (value,) = await reports.list_variables(cp)
    assert (value.value, value.mutability, value.readonly) == ("90", "ReadOnly", True)
    assert list((await backend.characteristics(cp)).values()) == [limits]
    await reports.upsert_variables(
        cp, [variable(value=None, mutability="ReadWrite", characteristics={"dataType": "x"})]
    )
    (value,) = await reports.list_variables(cp)
    assert (value.value, value.mutability, value.readonly) == (None, "ReadWrite", False)
    assert list((await backend.characteristics(cp)).values()) == [{"dataType": "x"}]


async def test_an_unknown_mutability_stays_unknown(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.reports.upsert_variables(cp, [variable(mutability=None)])
    (value,) = await backend.stores.reports.list_variables(cp)
    assert (value.mutability, value.readonly) == (None, None)
    assert list((await backend.characteristics(cp)).values()) == [None]


async def test_attributes_of_one_variable_are_kept_apart(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.reports.upsert_variables(
        cp,
        [
            variable(value="10", attribute_type="Actual"),
            variable(value="20", attribute_type="MaxSet"),
        ],
    )
    values = await backend.stores.reports.list_variables(cp)
    assert [(v.attribute_type, v.value) for v in values] == [("Actual", "10"), ("MaxSet", "20")]


async def test_an_attribute_given_twice_in_one_call_keeps_the_last(backend: Backend) -> None:
    cp = await backend.add_charger()
    await backend.stores.reports.upsert_variables(
        cp, [variable(value="1", mutability="ReadOnly"), variable(value="2", mutability=None)]
    )
    (value,) = await backend.stores.reports.list_variables(cp)
    assert (value.value, value.mutability) == ("2", "ReadOnly")


async def test_variables_of_an_unregistered_charger_are_refused(backend: Backend) -> None:
    cp = unique("CT")
    with pytest.raises(REFUSED):
        await backend.stores.reports.upsert_variables(cp, [variable()])
    assert await backend.stores.reports.list_variables(cp) == []


# --- availability ---------------------------------------------------------------------------


async def test_the_last_availability_answer_per_connector_is_kept(backend: Backend) -> None:
    """G03 / G04 (1.6 5.2): the charger's answer to the last ChangeAvailability."""
    cp = await backend.add_charger()
    reports = backend.stores.reports
    await reports.record_availability(
        cp, evse_id=1, connector_id=0, operative=False, answer="Scheduled"
    )
    await reports.record_availability(
        cp, evse_id=0, connector_id=0, operative=False, answer="Accepted"
    )
    await reports.record_availability(
        cp, evse_id=1, connector_id=0, operative=True, answer="Accepted"
    )
    await reports.record_availability(
        cp, evse_id=0, connector_id=2, operative=True, answer="Rejected"
    )
    assert listed(await reports.list_availability(cp), "updated_at") == [
        fields_of(Availability(e, c, o, a, at(0)), ignore=("updated_at",))
        for e, c, o, a in [
            (0, 0, False, "Accepted"),
            (0, 2, True, "Rejected"),
            (1, 0, True, "Accepted"),
        ]
    ]


async def test_availability_of_an_unregistered_charger_is_refused(backend: Backend) -> None:
    cp = unique("CT")
    with pytest.raises(REFUSED):
        await backend.stores.reports.record_availability(
            cp, evse_id=0, connector_id=0, operative=True, answer="Accepted"
        )
    assert await backend.stores.reports.list_availability(cp) == []
