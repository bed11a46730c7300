"""Configuration baselines without I/O: what operators write, which profile wins a setting,
drift, what an apply sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain.fleet_config import (
    DRIFT,
    IN_SYNC,
    MISSING,
    NOT_SUPPORTED,
    PENDING,
    UNCHANGED,
    UNKNOWN,
    ChargerFacts,
    ConfigProfile,
    Reported,
    SettingId,
    apply_plan,
    batches,
    drift_of,
    effective,
    parse_profile,
    parse_setting_201,
    parse_setting_text,
    same_value,
    variable_setting,
)
from csms.domain.reports import VariableRow
from csms.errors import InvalidInput

T = datetime(2026, 1, 1, tzinfo=UTC)


def profile(data: dict[str, Any]) -> ConfigProfile:
    spec = parse_profile(data)
    return ConfigProfile(
        spec.id, spec.ocpp_version, spec.settings, spec.selector, spec.priority,
        spec.description, spec.reapply_on_boot, None, T, None, T,
    )  # fmt: skip


def facts(cp: str = "CP-1", version: str = "1.6", **more: Any) -> ChargerFacts:
    fields = {"site_id": None, "vendor": "Acme", "model": "W1", "firmware_version": "1.0"}
    return ChargerFacts(cp, version, **{**fields, **more})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OCPPCommCtrlr.HeartbeatInterval", SettingId("OCPPCommCtrlr.HeartbeatInterval")),
        ("TokenReader/front.Enabled", SettingId("TokenReader/front.Enabled")),
        ("EVSE@1.Power", SettingId("EVSE.Power", 1)),
        ("Connector@1:2.Type", SettingId("Connector.Type", 1, 2)),
        ("DeviceDataCtrlr.ItemsPerMessage/SetVariables",
         SettingId("DeviceDataCtrlr.ItemsPerMessage/SetVariables")),
    ],
)  # fmt: skip
def test_201_settings_are_written_component_dot_variable(text: str, expected: SettingId) -> None:
    parsed = parse_setting_201(text)
    assert parsed == expected
    assert parse_setting_text(parsed.text()) == parsed  # stored as text, read back


@pytest.mark.parametrize(
    ("version", "key", "message"),
    [
        ("2.0.1", "HeartbeatInterval", "a 1.6 key belongs in a 1.6 profile"),
        ("1.6", "OCPPCommCtrlr.HeartbeatInterval", "is a 2.0.1 Component.Variable"),
        ("2.0.1", "OCPPCommCtrlr.", "is not a 2.0.1 setting"),
        ("2.0.1", ".HeartbeatInterval", "is not a 2.0.1 setting"),
        ("2.0.1", "OCPP CommCtrlr.HeartbeatInterval", "is not a 2.0.1 name"),
        ("2.0.1", "OCPPCommCtrlr/.HeartbeatInterval", "an empty instance"),
        ("2.0.1", "X" * 51 + ".Y", "is not a 2.0.1 name"),
        ("2.0.1", "EVSE@0.Power", "evse ids start at 1"),
        ("2.0.1", "EVSE@one.Power", "write @evse or @evse:connector"),
        ("1.6", "Heart beat", "no spaces"),
        ("1.6", "K" * 51, "1-50 characters"),
    ],
)
def test_keys_of_the_other_version_and_malformed_names_are_refused(
    version: str, key: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_profile({"id": "p", "ocpp_version": version, "settings": {key: "1"}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ocpp_version": "1.6", "settings": {"A": 1}}, "id is required"),
        ({"id": "p", "settings": {"A": 1}}, "ocpp_version is required"),
        ({"id": "p q", "ocpp_version": "1.6", "settings": {"A": 1}}, "id: 1-64"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {}}, "at least one setting"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {"A": None}}, "must be a text"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {"A": "x" * 501}}, "longer than 500"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {"A": 1}, "priority": "high"},
         "priority must be an integer"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {"A": 1}, "selector": {"town": "X"}},
         "unknown criterion"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {"A": 1}, "selector": {"site": []}},
         "non-empty list"),
        ({"id": "p", "ocpp_version": "1.6", "settings": {"A": 1}, "colour": "red"},
         "unknown field colour"),
        ({"id": "p", "ocpp_version": "1.6", "settings": [{"key": "A", "value": 1, "evse_id": 1}]},
         "has no EVSE"),
        ({"id": "p", "ocpp_version": "2.0.1",
          "settings": [{"key": "EVSE@1.Power", "value": 1, "evse_id": 1}]},
         "the EVSE is given twice"),
        ({"id": "p", "ocpp_version": "2.0.1",
          "settings": {"A.B": 1, "A.B@1": 2}}, "is not a 2.0.1 name"),
    ],
)  # fmt: skip
def test_profiles_are_checked_field_by_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_profile(data)


def test_values_are_ocpp_text_and_yaml_numbers_are_versions() -> None:
    spec = parse_profile(
        {
            "id": "p",
            "ocpp_version": 1.6,  # what YAML reads from `ocpp_version: 1.6`
            "settings": {"A": True, "B": 60, "C": 0.5, "D": "x"},
            "selector": {"model": "W1", "firmware": ["1.0", "1.1"]},
        }
    )
    assert spec.ocpp_version == "1.6"
    assert [(d.setting.key, d.value) for d in spec.settings] == [
        ("A", "true"), ("B", "60"), ("C", "0.5"), ("D", "x"),
    ]  # fmt: skip
    assert spec.selector.models == ("W1",) and spec.selector.firmware_versions == ("1.0", "1.1")


def test_the_same_setting_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="given twice"):
        parse_profile(
            {
                "id": "p",
                "ocpp_version": "2.0.1",
                "settings": [
                    {"key": "EVSE@1.Power", "value": 1},
                    {"component": "EVSE", "variable": "Power", "evse_id": 1, "value": 2},
                ],
            }
        )


def test_the_highest_priority_wins_a_setting_then_the_lowest_id() -> None:
    base = profile({"id": "b", "ocpp_version": "1.6", "settings": {"A": 1, "B": 1}})
    high = profile({"id": "z", "ocpp_version": "1.6", "priority": 5, "settings": {"A": 2}})
    tie = profile({"id": "a", "ocpp_version": "1.6", "settings": {"B": 3}})
    wanted = effective([base, high, tie], facts())
    assert (wanted[SettingId("A")].value, wanted[SettingId("A")].profile_id) == ("2", "z")
    assert (wanted[SettingId("B")].value, wanted[SettingId("B")].profile_id) == ("3", "a")


def test_selectors_match_every_criterion_given_and_only_their_version() -> None:
    chosen = profile(
        {
            "id": "p",
            "ocpp_version": "1.6",
            "selector": {"site": ["S1", "S2"], "model": "W1"},
            "settings": {"A": 1},
        }
    )
    assert effective([chosen], facts(site_id="S2"))
    assert not effective([chosen], facts(site_id="S3"))
    assert not effective([chosen], facts(site_id="S1", model="W2"))
    assert not effective([chosen], facts(site_id="S1", version="2.0.1"))
    assert not effective([chosen], facts(site_id="S1", version=None))
    everyone = profile({"id": "q", "ocpp_version": "1.6", "settings": {"A": 1}})
    assert effective([everyone], facts(site_id=None, vendor=None))


def test_drift_states() -> None:
    chosen = profile(
        {"id": "p", "ocpp_version": "1.6", "settings": {"A": 60, "B": True, "C": 1, "D": 2}}
    )
    wanted = effective([chosen], facts())
    reported = {
        SettingId("A"): Reported("60.0", False),  # numbers compare as numbers
        SettingId("B"): Reported("False", False),
        SettingId("C"): Reported("0", True),  # read-only
    }
    states = {i.setting: i.state for i in drift_of("CP-1", wanted, reported)}
    assert states == {"A": IN_SYNC, "B": DRIFT, "C": MISSING, "D": MISSING}
    assert {i.state for i in drift_of("CP-1", wanted, None)} == {UNKNOWN}


def test_an_apply_sends_only_what_differs_and_what_the_charger_can_take() -> None:
    chosen = profile({"id": "p", "ocpp_version": "1.6", "settings": {"A": 1, "B": 2, "C": 3}})
    other = profile({"id": "o", "ocpp_version": "1.6", "priority": 1, "settings": {"D": 4}})
    wanted = effective([chosen, other], facts())
    reported = {SettingId("A"): Reported("1", False), SettingId("B"): Reported("0", True)}
    plan = apply_plan(wanted, "p", reported)
    assert {s.key: outcome for s, (_, outcome, _) in plan.items()} == {
        "A": UNCHANGED, "B": NOT_SUPPORTED, "C": NOT_SUPPORTED,
    }  # fmt: skip
    never_read = apply_plan(wanted, "p", None)
    assert {outcome for _, outcome, _ in never_read.values()} == {PENDING}


@given(st.lists(st.integers(), max_size=50), st.integers(min_value=-3, max_value=12))
def test_batches_keep_order_and_size(items: list[int], size: int) -> None:
    found = batches(items, size)
    assert [x for batch in found for x in batch] == items
    assert all(1 <= len(batch) <= max(1, size) for batch in found)


@given(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_same_value_is_symmetric(a: str, b: str) -> None:
    assert same_value(a, b) == same_value(b, a)
    assert same_value(a, a)


def test_a_variable_attribute_names_its_setting() -> None:
    row = VariableRow("EVSE", "", 1, -1, "Power", "", "Target", "1", None, None)
    assert variable_setting(row) == "EVSE@1.Power [Target]"
    actual = row._replace(attribute_type="Actual", component_instance="x", connector_id=2)
    assert variable_setting(actual) == "EVSE/x@1:2.Power"
