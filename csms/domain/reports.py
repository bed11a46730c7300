"""What chargers report about themselves besides sessions: configuration (1.6 keys, the
2.0.1 device model), availability answers, and notifications kept as received. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

# part 2 VariableAttributeType: type defaults to Actual, mutability to ReadWrite.
DEFAULT_ATTRIBUTE = "Actual"
DEFAULT_MUTABILITY = "ReadWrite"
NO_EVSE = -1  # a device-model component not on an EVSE / connector

ConfigurationRow = tuple[str, str | None, bool | None]  # key, value, readonly (1.6)


class VariableRow(NamedTuple):
    """One attribute of one variable of the 2.0.1 device model."""

    component: str
    component_instance: str
    evse_id: int
    connector_id: int
    variable: str
    variable_instance: str
    attribute_type: str
    value: str | None
    mutability: str | None  # None: not told (GetVariables / SetVariables answers)
    characteristics: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ConfigurationValue:
    """One reported configuration value, either version, as operators read it.

    ``key`` is the 1.6 key, or the 2.0.1 ``Component[/instance].Variable[/instance]`` that
    the ``get_configuration`` / ``set_configuration`` commands take; the device-model
    fields are set for 2.0.1 values only.
    """

    key: str
    value: str | None
    readonly: bool | None
    reported_at: datetime
    component: str | None = None
    component_instance: str | None = None
    variable: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    attribute_type: str | None = None
    mutability: str | None = None


def device_model_key(component: str, component_instance: str, variable: str, instance: str) -> str:
    """``Component[/instance].Variable[/instance]``."""
    left = f"{component}/{component_instance}" if component_instance else component
    right = f"{variable}/{instance}" if instance else variable
    return f"{left}.{right}"


def variable_value(row: VariableRow, reported_at: datetime) -> ConfigurationValue:
    """A device-model attribute as operators read it."""
    return ConfigurationValue(
        key=device_model_key(
            row.component, row.component_instance, row.variable, row.variable_instance
        ),
        value=row.value,
        readonly=None if row.mutability is None else row.mutability == "ReadOnly",
        reported_at=reported_at,
        component=row.component,
        component_instance=row.component_instance or None,
        variable=row.variable,
        variable_instance=row.variable_instance or None,
        evse_id=None if row.evse_id == NO_EVSE else row.evse_id,
        connector_id=None if row.connector_id == NO_EVSE else row.connector_id,
        attribute_type=row.attribute_type,
        mutability=row.mutability,
    )


@dataclass(frozen=True, slots=True)
class Availability:
    """What a charger answered to the last ChangeAvailability for a connector / EVSE."""

    evse_id: int
    connector_id: int
    operative: bool
    answer: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Notification:
    """A message a charger sent, kept as received (``charger_events``)."""

    id: int
    action: str
    kind: str | None
    occurred_at: datetime | None
    payload: dict[str, Any]
    received_at: datetime
