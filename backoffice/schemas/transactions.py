from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field


class TransactionPublic(BaseModel):
    """A charging session. Energy and meter readings are decimal strings in Wh."""

    id: int = Field(description="Our id of the session (use it in /transactions/{id})")
    charge_point_id: str
    protocol: str
    transaction_id: str = Field(description="The id the charger uses")
    evse_id: int
    connector_id: int
    id_token: str | None
    id_token_type: str | None
    parent_id_token: str | None
    authorization_status: str | None
    remote_start_id: int | None
    reservation_id: int | None
    started_at: datetime
    ended_at: datetime | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    stop_reason: str | None
    stop_id_token: str | None
    charging_state: str | None
    last_seq_no: int | None
    last_trigger_reason: str | None
    offline: bool
    flags: list[str] = Field(
        description="For review: unauthorized, meter_stop_estimated, no_meter_reading, "
        "meter_stop_below_start"
    )
    closed_by: str | None = Field(
        None, description="charger (its stop) or csms (closed: the charger abandoned it)"
    )
    close_reason: str | None = Field(
        None,
        description="Why the CSMS closed it: superseded, connector_available, rebooted, "
        "not_ongoing (docs/topics/sessions.md)",
    )
    active: bool


class MeterValuePublic(BaseModel):
    sampled_at: datetime
    evse_id: int
    connector_id: int
    measurand: str
    phase: str
    location: str
    context: str
    unit: str
    value: Decimal | None
    raw_value: str | None


class TransactionDetail(TransactionPublic):
    meter_values: list[MeterValuePublic]
