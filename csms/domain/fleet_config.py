"""Configuration baselines: profiles of desired values, which chargers they select, which
value wins where several apply, and drift (reported vs desired). No I/O.

A *setting* is one configuration value of a charger, named the way operators write it:

- OCPP 1.6: the configuration key, e.g. ``HeartbeatInterval``;
- OCPP 2.0.1: ``Component[/instance].Variable[/instance]``, the Actual attribute, with
  ``@evse`` or ``@evse:connector`` after the component for one on an EVSE, e.g.
  ``OCPPCommCtrlr.HeartbeatInterval``, ``TokenReader/front.Enabled``,
  ``EVSE@1.AvailabilityState`` (the key ``csms charger config`` shows, the EVSE apart).

A profile (baseline) holds desired values for one OCPP version and selects chargers by site,
vendor, model, firmware version and explicit ids (every criterion given must match, any
value of a criterion's list). Where several profiles set one setting of a charger, the
highest ``priority`` wins (then the lowest profile id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from csms.domain.reports import (
    DEFAULT_ATTRIBUTE,
    ConfigurationValue,
    VariableRow,
    device_model_key,
)
from csms.errors import InvalidInput

V16 = "1.6"
V201 = "2.0.1"
VERSIONS = (V16, V201)
PROTOCOL_VERSIONS = {"ocpp1.6": V16, "ocpp2.0.1": V201}

PROFILE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_PRIORITY = 1_000_000
MAX_SETTINGS = 500
MAX_KEY_16 = 50  # 1.6 CiString50Type
MAX_VALUE_16 = 500  # 1.6 CiString500Type
MAX_NAME_201 = 50  # 2.0.1 ComponentType/VariableType name and instance: string[0..50]
MAX_VALUE_201 = 1000  # 2.0.1 SetVariableDataType attributeValue: string[0..1000]
NO_EVSE = -1
# characters that would make a written setting ambiguous
_NAME = re.compile(r"[^\s./@\[\]:]+")
_KEY_16 = re.compile(r"[^\s]+")

SELECTOR_FIELDS = ("sites", "vendors", "models", "firmware_versions", "chargers")
# what a profile file may call them (singular or plural)
_SELECTOR_ALIASES = {
    "site": "sites",
    "sites": "sites",
    "vendor": "vendors",
    "vendors": "vendors",
    "model": "models",
    "models": "models",
    "firmware_version": "firmware_versions",
    "firmware_versions": "firmware_versions",
    "firmware": "firmware_versions",
    "charger": "chargers",
    "chargers": "chargers",
}

# What became of one setting at one charger (config_apply_items.outcome).
PENDING = "Pending"  # to be sent
OFFLINE = "Offline"  # the charger was not connected: sent when it connects
ACCEPTED = "Accepted"
REJECTED = "Rejected"
REBOOT_REQUIRED = "RebootRequired"  # taken; effective after a reboot (tracked until the boot)
NOT_SUPPORTED = "NotSupported"  # the charger does not have it, or reports it read-only
FAILED = "Failed"  # the charger answered a CALLERROR, or the command was refused
UNCHANGED = "Unchanged"  # the charger already reports the desired value: nothing sent
SUPERSEDED = "Superseded"  # a later apply or a higher-priority profile decides this key
OUTCOMES = (
    PENDING,
    OFFLINE,
    ACCEPTED,
    REJECTED,
    REBOOT_REQUIRED,
    NOT_SUPPORTED,
    FAILED,
    UNCHANGED,
    SUPERSEDED,
)
WAITING = frozenset({PENDING, OFFLINE})  # still to be sent

# How 2.0.1 SetVariableStatus answers read as outcomes (B05.FR.04-06: not there).
SET_VARIABLE_OUTCOMES = {
    "Accepted": ACCEPTED,
    "Rejected": REJECTED,
    "RebootRequired": REBOOT_REQUIRED,
    "UnknownComponent": NOT_SUPPORTED,
    "UnknownVariable": NOT_SUPPORTED,
    "NotSupportedAttributeType": NOT_SUPPORTED,
}
# 1.6 ConfigurationStatus answers are outcomes as they are.
CONFIGURATION_OUTCOMES = {s: s for s in (ACCEPTED, REJECTED, REBOOT_REQUIRED, NOT_SUPPORTED)}

# Drift states of one desired setting at one charger.
IN_SYNC = "in_sync"
DRIFT = "drift"
MISSING = "not_supported"  # the charger does not report it, or reports it read-only
UNKNOWN = "unknown"  # the charger never reported its configuration


class SettingId(NamedTuple):
    """One setting: the 1.6 key or the 2.0.1 ``Component[/i].Variable[/i]`` key, and the
    EVSE / connector of a 2.0.1 component on one (``NO_EVSE`` otherwise)."""

    key: str
    evse_id: int = NO_EVSE
    connector_id: int = NO_EVSE

    def text(self) -> str:
        """As operators write it: ``@evse[:connector]`` after the component."""
        if self.evse_id == NO_EVSE:
            return self.key
        where = f"@{self.evse_id}"
        if self.connector_id != NO_EVSE:
            where += f":{self.connector_id}"
        component, _, variable = self.key.partition(".")
        return f"{component}{where}.{variable}"

    def device_model(self) -> tuple[str, str, str, str]:
        """(component, component instance, variable, variable instance) of a 2.0.1 key."""
        component, _, variable = self.key.partition(".")
        name, _, instance = component.partition("/")
        var_name, _, var_instance = variable.partition("/")
        return name, instance, var_name, var_instance


@dataclass(frozen=True, slots=True)
class DesiredSetting:
    setting: SettingId
    value: str


@dataclass(frozen=True, slots=True)
class Selector:
    sites: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    firmware_versions: tuple[str, ...] = ()
    chargers: tuple[str, ...] = ()

    def matches(self, facts: ChargerFacts) -> bool:
        checks = (
            (self.sites, facts.site_id),
            (self.vendors, facts.vendor),
            (self.models, facts.model),
            (self.firmware_versions, facts.firmware_version),
            (self.chargers, facts.charge_point_id),
        )
        return all(not wanted or have in wanted for wanted, have in checks)

    def as_json(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in SELECTOR_FIELDS if getattr(self, name)}


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """What an operator writes: a profile without its bookkeeping."""

    id: str
    ocpp_version: str
    settings: tuple[DesiredSetting, ...]
    selector: Selector = field(default_factory=Selector)
    priority: int = 0
    description: str = ""
    reapply_on_boot: bool = False

    def settings_json(self) -> list[dict[str, Any]]:
        return [setting_json(d) for d in self.settings]


@dataclass(frozen=True, slots=True)
class ConfigProfile:
    id: str
    ocpp_version: str
    settings: tuple[DesiredSetting, ...]
    selector: Selector
    priority: int
    description: str
    reapply_on_boot: bool
    created_by: str | None
    created_at: datetime
    updated_by: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChargerFacts:
    """What selectors look at: the charger's OCPP version (its connection, its pin, or the
    one it last booted with; None: never seen), site and boot identity."""

    charge_point_id: str
    ocpp_version: str | None
    site_id: str | None
    vendor: str | None
    model: str | None
    firmware_version: str | None
    connected: bool = False


class Reported(NamedTuple):
    value: str | None
    readonly: bool | None


# -- parsing what operators write ---------------------------------------------------------------


def _texts(name: str, value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise InvalidInput(f"selector.{name} must be a text or a non-empty list of texts")
    if not all(isinstance(v, str) and v for v in values):
        raise InvalidInput(f"selector.{name} must be a text or a non-empty list of texts")
    return tuple(dict.fromkeys(values))


def parse_selector(data: Any) -> Selector:
    if data is None:
        return Selector()
    if not isinstance(data, Mapping):
        raise InvalidInput('selector must be an object, e.g. {"model": ["X"]}')
    fields: dict[str, tuple[str, ...]] = {}
    for name, value in data.items():
        canonical = _SELECTOR_ALIASES.get(str(name))
        if canonical is None:
            raise InvalidInput(
                f"selector.{name}: unknown criterion (site, vendor, model, firmware_version, "
                "chargers)"
            )
        if canonical in fields:
            raise InvalidInput(f"selector.{name}: given twice")
        fields[canonical] = _texts(str(name), value)
    return Selector(**fields)


def ocpp_text(name: str, value: Any) -> str:
    """A value as OCPP text: booleans ``true``/``false``, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, str):
        return value
    raise InvalidInput(f"settings.{name}: the value must be a text, a number or a boolean")


def _name_201(where: str, what: str, text: str) -> None:
    if not text or len(text) > MAX_NAME_201 or not _NAME.fullmatch(text):
        raise InvalidInput(
            f"settings.{where}: {what} {text!r} is not a 2.0.1 name (1-{MAX_NAME_201} "
            "characters, no spaces or . / @ [ ] :)"
        )


def parse_setting_201(
    text: str, evse_id: int | None = None, connector_id: int | None = None
) -> SettingId:
    """``Component[/i][@evse[:connector]].Variable[/i]`` (or the EVSE given apart);
    InvalidInput naming what is wrong."""
    component, dot, variable = text.partition(".")
    if not dot or not component or not variable:
        raise InvalidInput(
            f"settings.{text}: {text!r} is not a 2.0.1 setting: write Component.Variable, e.g. "
            "OCPPCommCtrlr.HeartbeatInterval (a 1.6 key belongs in a 1.6 profile)"
        )
    component, at, where = component.partition("@")
    if at:
        if evse_id is not None:
            raise InvalidInput(f"settings.{text}: the EVSE is given twice")
        evse_text, colon, connector_text = where.partition(":")
        try:
            evse_id = int(evse_text)
            connector_id = int(connector_text) if colon else None
        except ValueError:
            raise InvalidInput(
                f"settings.{text}: write @evse or @evse:connector with numbers, e.g. EVSE@1.Power"
            ) from None
    name, _, instance = component.partition("/")
    var_name, _, var_instance = variable.partition("/")
    _name_201(text, "component", name)
    _name_201(text, "variable", var_name)
    if "/" in component and not instance or "/" in variable and not var_instance:
        raise InvalidInput(f"settings.{text}: an empty instance after '/'")
    if instance:
        _name_201(text, "component instance", instance)
    if var_instance:
        _name_201(text, "variable instance", var_instance)
    if evse_id is not None and evse_id < 1:
        raise InvalidInput(f"settings.{text}: evse ids start at 1")
    if connector_id is not None and (evse_id is None or connector_id < 1):
        raise InvalidInput(f"settings.{text}: a connector (1 or more) needs its EVSE")
    key = f"{component.partition('@')[0]}.{variable}"
    return SettingId(
        key,
        NO_EVSE if evse_id is None else evse_id,
        NO_EVSE if connector_id is None else connector_id,
    )


def parse_setting_16(text: str) -> SettingId:
    if "." in text:
        raise InvalidInput(
            f"settings.{text}: {text!r} is a 2.0.1 Component.Variable; a 1.6 profile takes "
            "configuration keys such as HeartbeatInterval"
        )
    if not text or len(text) > MAX_KEY_16 or not _KEY_16.fullmatch(text):
        raise InvalidInput(
            f"settings.{text}: a 1.6 key has 1-{MAX_KEY_16} characters and no spaces"
        )
    return SettingId(text)


def parse_setting(version: str, text: str) -> SettingId:
    """A setting as an operator writes it (see the module docstring), for ``version``."""
    return parse_setting_16(text) if version == V16 else parse_setting_201(text)


def _items(settings: Any) -> Iterable[tuple[str, Any, int | None, int | None]]:
    """(key, value, evse, connector) of ``{key: value}`` or ``[{"key", "value", ...}]``."""
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            yield str(key), value, None, None
        return
    if not isinstance(settings, list):
        raise InvalidInput("settings must be an object {key: value} or a list of {key, value}")
    for i, item in enumerate(settings):
        if not isinstance(item, Mapping) or "value" not in item:
            raise InvalidInput(f"settings[{i}] must be an object with key and value")
        unknown = set(item) - {"key", "value", "evse_id", "connector_id", "component",
                               "component_instance", "variable", "variable_instance"}  # fmt: skip
        if unknown:
            raise InvalidInput(f"settings[{i}]: unknown field {', '.join(sorted(unknown))}")
        key = item.get("key")
        if key is None and "component" in item and "variable" in item:
            component = str(item["component"])
            if item.get("component_instance"):
                component += f"/{item['component_instance']}"
            variable = str(item["variable"])
            if item.get("variable_instance"):
                variable += f"/{item['variable_instance']}"
            key = f"{component}.{variable}"
        if not isinstance(key, str):
            raise InvalidInput(f"settings[{i}]: key (or component and variable) is required")
        evse, connector = item.get("evse_id"), item.get("connector_id")
        for name, number in (("evse_id", evse), ("connector_id", connector)):
            if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
                raise InvalidInput(f"settings[{i}].{name} must be an integer")
        yield key, item["value"], evse, connector


def parse_settings(version: str, settings: Any) -> tuple[DesiredSetting, ...]:
    parsed: dict[SettingId, DesiredSetting] = {}
    for key, raw, evse, connector in _items(settings):
        if version == V16:
            if evse is not None or connector is not None:
                raise InvalidInput(f"settings.{key}: a 1.6 key has no EVSE (a 2.0.1 idea)")
            setting = parse_setting_16(key)
            limit = MAX_VALUE_16
        else:
            setting = parse_setting_201(key, evse, connector)
            limit = MAX_VALUE_201
        value = ocpp_text(key, raw)
        if len(value) > limit:
            raise InvalidInput(f"settings.{key}: the value is longer than {limit} characters")
        if setting in parsed:
            raise InvalidInput(f"settings.{setting.text()}: given twice")
        parsed[setting] = DesiredSetting(setting, value)
    if not parsed:
        raise InvalidInput("settings: a profile needs at least one setting")
    if len(parsed) > MAX_SETTINGS:
        raise InvalidInput(f"settings: at most {MAX_SETTINGS} per profile")
    return tuple(parsed.values())


def check_profile_id(profile_id: Any) -> str:
    if not isinstance(profile_id, str) or not PROFILE_ID.fullmatch(profile_id):
        raise InvalidInput("id: 1-64 of letters, digits and . _ -")
    return profile_id


def check_version(version: Any) -> str:
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)  # YAML reads 1.6 as a number
    if version not in VERSIONS:
        raise InvalidInput('ocpp_version must be "1.6" or "2.0.1"')
    return str(version)


def check_priority(priority: Any) -> int:
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidInput("priority must be an integer")
    if abs(priority) > MAX_PRIORITY:
        raise InvalidInput(f"priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")
    return priority


PROFILE_FIELDS = frozenset(
    {"id", "ocpp_version", "settings", "selector", "priority", "description", "reapply_on_boot"}
)


def parse_profile(data: Any) -> ProfileSpec:
    """A profile from its JSON / YAML form; InvalidInput naming the field to fix."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a profile is an object with id, ocpp_version and settings")
    unknown = set(map(str, data)) - PROFILE_FIELDS
    if unknown:
        raise InvalidInput(
            f"unknown field {', '.join(sorted(unknown))} "
            f"(fields: {', '.join(sorted(PROFILE_FIELDS))})"
        )
    for required in ("id", "ocpp_version", "settings"):
        if data.get(required) is None:
            raise InvalidInput(f"{required} is required")
    version = check_version(data["ocpp_version"])
    description = data.get("description", "") or ""
    if not isinstance(description, str) or len(description) > 500:
        raise InvalidInput("description must be a text of at most 500 characters")
    reapply = data.get("reapply_on_boot", False)
    if not isinstance(reapply, bool):
        raise InvalidInput("reapply_on_boot must be true or false")
    return ProfileSpec(
        id=check_profile_id(data["id"]),
        ocpp_version=version,
        settings=parse_settings(version, data["settings"]),
        selector=parse_selector(data.get("selector")),
        priority=check_priority(data.get("priority", 0)),
        description=description,
        reapply_on_boot=reapply,
    )


def setting_json(desired: DesiredSetting) -> dict[str, Any]:
    """How a setting is stored and shown: its written key, EVSE apart, and value."""
    item: dict[str, Any] = {"key": desired.setting.key, "value": desired.value}
    if desired.setting.evse_id != NO_EVSE:
        item["evse_id"] = desired.setting.evse_id
    if desired.setting.connector_id != NO_EVSE:
        item["connector_id"] = desired.setting.connector_id
    return item


def settings_from_json(
    version: str, items: Sequence[Mapping[str, Any]]
) -> tuple[DesiredSetting, ...]:
    """Stored settings (already checked) back as values."""
    return tuple(
        DesiredSetting(
            SettingId(
                str(item["key"]),
                int(item.get("evse_id", NO_EVSE)),
                int(item.get("connector_id", NO_EVSE)),
            ),
            str(item["value"]),
        )
        for item in items
    )


def parse_setting_text(text: str) -> SettingId:
    """A stored setting's text (``SettingId.text``) back; either version."""
    if "." not in text:
        return SettingId(text)
    return parse_setting_201(text)


# -- which values apply ---------------------------------------------------------------------------


def precedence(profiles: Iterable[ConfigProfile]) -> list[ConfigProfile]:
    """Highest priority first, then by id."""
    return sorted(profiles, key=lambda p: (-p.priority, p.id))


def applies_to(profile: ConfigProfile, facts: ChargerFacts) -> bool:
    return facts.ocpp_version == profile.ocpp_version and profile.selector.matches(facts)


@dataclass(frozen=True, slots=True)
class Effective:
    """The value a charger should have for one setting, and the profile deciding it."""

    setting: SettingId
    value: str
    profile_id: str


def effective(profiles: Iterable[ConfigProfile], facts: ChargerFacts) -> dict[SettingId, Effective]:
    """Every desired setting of a charger: per setting, the winning profile's value."""
    chosen: dict[SettingId, Effective] = {}
    for profile in precedence(profiles):
        if not applies_to(profile, facts):
            continue
        for desired in profile.settings:
            if desired.setting not in chosen:
                chosen[desired.setting] = Effective(desired.setting, desired.value, profile.id)
    return chosen


# -- drift ----------------------------------------------------------------------------------------

_BOOLEANS = {"true", "false"}


def same_value(desired: str, reported: str | None) -> bool:
    """Whether a reported value is the desired one: equal text, booleans in any case, equal
    numbers however written (``60`` and ``60.0``)."""
    if reported is None:
        return False
    if desired == reported:
        return True
    a, b = desired.strip(), reported.strip()
    if a.lower() in _BOOLEANS and b.lower() in _BOOLEANS:
        return a.lower() == b.lower()
    try:
        return Decimal(a) == Decimal(b)
    except (InvalidOperation, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class DriftItem:
    charge_point_id: str
    setting: str
    profile_id: str
    desired: str
    reported: str | None
    state: str  # IN_SYNC, DRIFT, MISSING, UNKNOWN
    last_outcome: str | None = None  # of the newest apply of this setting, if any


def drift_of(
    charge_point_id: str,
    desired: Mapping[SettingId, Effective],
    reported: Mapping[SettingId, Reported] | None,
    outcomes: Mapping[SettingId, str] | None = None,
) -> list[DriftItem]:
    """Each desired setting of a charger against what it reported (None: never reported)."""
    items = []
    for setting, want in sorted(desired.items(), key=lambda kv: kv[0].text()):
        have = None if reported is None else reported.get(setting)
        if reported is None:
            state = UNKNOWN
        elif have is None or have.readonly:
            state = IN_SYNC if have is not None and same_value(want.value, have.value) else MISSING
        else:
            state = IN_SYNC if same_value(want.value, have.value) else DRIFT
        items.append(
            DriftItem(
                charge_point_id,
                setting.text(),
                want.profile_id,
                want.value,
                None if have is None else have.value,
                state,
                (outcomes or {}).get(setting),
            )
        )
    return items


def apply_plan(
    desired: Mapping[SettingId, Effective],
    profile_id: str,
    reported: Mapping[SettingId, Reported] | None,
) -> dict[SettingId, tuple[str, str, str]]:
    """What applying ``profile_id`` does at one charger, per setting of that profile it
    decides: (value, outcome before sending, detail). Pending: to send; Unchanged: reported
    as desired; NotSupported: the charger does not have it or reports it read-only. A charger
    that never reported its configuration gets every setting sent."""
    plan: dict[SettingId, tuple[str, str, str]] = {}
    for setting, want in desired.items():
        if want.profile_id != profile_id:
            continue
        have = None if reported is None else reported.get(setting)
        if reported is not None and have is None:
            plan[setting] = (want.value, NOT_SUPPORTED, "the charger does not report this key")
        elif have is not None and same_value(want.value, have.value):
            plan[setting] = (want.value, UNCHANGED, "")
        elif have is not None and have.readonly:
            plan[setting] = (want.value, NOT_SUPPORTED, "the charger reports it read-only")
        else:
            plan[setting] = (want.value, PENDING, "")
    return plan


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in lists of at most ``size`` (at least 1)."""
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def variable_setting(row: VariableRow) -> str:
    """The setting text of a 2.0.1 device-model attribute (``[Target]`` etc. after an
    attribute other than Actual)."""
    setting = SettingId(
        device_model_key(
            row.component, row.component_instance, row.variable, row.variable_instance
        ),
        row.evse_id,
        row.connector_id,
    ).text()
    return (
        setting if row.attribute_type == DEFAULT_ATTRIBUTE else f"{setting} [{row.attribute_type}]"
    )


def reported_settings(values: Iterable[ConfigurationValue]) -> dict[SettingId, Reported]:
    """What a charger reported, by setting (2.0.1: the Actual attribute only)."""
    found: dict[SettingId, Reported] = {}
    for v in values:
        if v.attribute_type not in (None, DEFAULT_ATTRIBUTE):
            continue
        setting = SettingId(
            v.key,
            NO_EVSE if v.evse_id is None else v.evse_id,
            NO_EVSE if v.connector_id is None else v.connector_id,
        )
        found[setting] = Reported(v.value, v.readonly)
    return found


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigApply:
    """One apply of a profile, with how many of its items have each outcome."""

    id: int
    profile_id: str
    reason: str  # operator / boot
    requested_by: str | None
    requested_at: datetime
    finished_at: datetime | None
    outcomes: dict[str, int]


@dataclass(frozen=True, slots=True)
class ApplyItem:
    apply_id: int
    charge_point_id: str
    setting: str
    value: str
    outcome: str
    detail: str
    rebooted_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A reported value that changed: ``source`` reported (the charger said so), applied (a
    change the CSMS sent was taken) or removed (the charger no longer has the key)."""

    id: int
    charge_point_id: str
    setting: str
    old_value: str | None
    new_value: str | None
    source: str
    changed_by: str | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshState:
    """A charger's last configuration read, and the OCPP version it last booted with."""

    charge_point_id: str
    protocol: str | None
    refresh_status: str | None  # Requested / Accepted / Complete / Failed
    refresh_detail: str
    refresh_request_id: int | None
    refresh_requested_by: str | None
    refresh_requested_at: datetime | None
    refreshed_at: datetime | None


NewItem = tuple[str, str, str, str, str]  # charge_point_id, setting, value, outcome, detail
