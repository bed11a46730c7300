from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from backoffice.schemas.common import Input, Text
from backoffice.schemas.transactions import TransactionPublic
from csms.domain.charge_points import MAX_CHARGE_POINT_ID, valid_charge_point_id
from csms.passwords import MAX_CHARGER_PASSWORD, MIN_CHARGER_PASSWORD


def _charge_point_id(value: str) -> str:
    if not valid_charge_point_id(value):
        raise ValueError("1-48 printable characters, none of ':', '/' or space")
    return value


ChargePointId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_CHARGE_POINT_ID),
    AfterValidator(_charge_point_id),
]
ChargerPassword = Annotated[
    str,
    Field(
        min_length=MIN_CHARGER_PASSWORD,
        max_length=MAX_CHARGER_PASSWORD,
        pattern=r"^[\x21-\x7e]+$",
    ),
]
BootPolicy = Literal["accept", "pending", "reject"]
Description = Annotated[Text, Field(max_length=500)]


class ChargerCreate(Input):
    charge_point_id: ChargePointId
    password: ChargerPassword | None = Field(
        None, description="Basic-auth password; omitted: one is generated and returned once"
    )
    auth: Literal["basic", "none"] = Field(
        "basic", description="`none`: the charger connects without credentials (dev/test)"
    )
    boot_policy: BootPolicy = "accept"
    ocpp_version: Literal["1.6", "2.0.1"] | None = Field(
        None, description="Pin the OCPP version; null: any"
    )
    description: Description = ""


class ChargerUpdate(Input):
    password: ChargerPassword | None = Field(None, description="Set this Basic-auth password")
    regenerate_password: bool = Field(
        False, description="Generate a new password, returned once in this response"
    )
    boot_policy: BootPolicy | None = None
    ocpp_version: Literal["1.6", "2.0.1", "any"] | None = None
    description: Description | None = None


class ChargerPublic(BaseModel):
    """A charger as registered and as it last reported itself; never its password."""

    charge_point_id: str
    auth_mode: str
    boot_policy: str
    ocpp_version: str | None
    description: str
    registration_status: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    connected_protocol: str | None
    connected_node: str | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    last_seen_at: datetime | None
    firmware_status: str | None
    diagnostics_status: str | None
    created_at: datetime
    owner_node: str | None = Field(
        None, description="The live node holding the charger's socket now (from Redis)"
    )
    connected: bool = Field(False, description="Held by a live node now")


class ChargerCreated(ChargerPublic):
    password: str | None = Field(
        None,
        description="The generated Basic-auth password: shown only in this response, "
        "only its hash is kept",
    )


class ConnectorPublic(BaseModel):
    evse_id: int
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    status_at: datetime


class ChargerStatus(BaseModel):
    """Live view of one charger."""

    charge_point_id: str
    connected: bool
    owner_node: str | None
    epoch: int | None
    node_alive: bool
    connected_protocol: str | None
    registration_status: str | None
    last_heartbeat_at: datetime | None
    last_seen_at: datetime | None
    connectors: list[ConnectorPublic]
    active_transactions: list[TransactionPublic]


class ConfigurationValuePublic(BaseModel):
    """One configuration value the charger reported (1.6 GetConfiguration / accepted
    ChangeConfiguration; 2.0.1 NotifyReport / GetVariables / accepted SetVariables)."""

    key: str = Field(
        description="1.6 key, or 2.0.1 `Component[/instance].Variable[/instance]` (the key "
        "`get_configuration` / `set_configuration` take)"
    )
    value: str | None
    readonly: bool | None = Field(description="null: not reported")
    reported_at: datetime = Field(description="When this value was last reported or changed")
    component: str | None = None
    component_instance: str | None = None
    variable: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    attribute_type: str | None = Field(None, description="2.0.1: Actual, Target, MinSet, MaxSet")
    mutability: str | None = None


class AvailabilityPublic(BaseModel):
    """The charger's answer to the last ChangeAvailability for an EVSE / connector (0: the
    whole charger)."""

    evse_id: int
    connector_id: int
    operative: bool = Field(description="What was asked")
    answer: str = Field(description="Accepted, Rejected or Scheduled")
    updated_at: datetime


class ChargerEventPublic(BaseModel):
    """A message the charger sent, kept as received: security events, NotifyEvent alerts,
    firmware/diagnostics/log statuses, reports, DataTransfer, ..."""

    id: int
    action: str
    kind: str | None = Field(description="What it is filtered by: the event type, status, ...")
    occurred_at: datetime | None = Field(description="When the charger says it happened")
    received_at: datetime
    payload: dict[str, Any]
