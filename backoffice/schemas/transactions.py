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
    tariff_id: str | None = Field(
        None, description="The tariff the session is priced with (fixed when it started)"
    )
    tariff_version: int | None = None
    currency: str | None = None
    cost_excl_vat: Decimal | None = Field(
        None, description="Running cost while it charges, the final cost once it ended"
    )
    cost_vat: Decimal | None = None
    cost_incl_vat: Decimal | None = None
    cost_final: bool = Field(False, description="The cost is final (the session ended)")


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


class CostLinePublic(BaseModel):
    """What one tariff element charged for one dimension over the session."""

    dimension: str = Field(description="ENERGY, FLAT, TIME or PARKING_TIME")
    element: int = Field(description="Index of the tariff element that priced it")
    volume: Decimal = Field(description="Consumed: kWh, hours, or 1 for FLAT")
    billed_volume: Decimal = Field(description="After step_size")
    unit_price: Decimal = Field(description="Excl. VAT, per kWh / hour / session")
    vat_rate: Decimal | None = Field(description="Percent; null: no VAT applies")
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    started_at: datetime
    ended_at: datetime


class TransactionCost(BaseModel):
    """A session's cost as stored: running while it charges, final once it ended. A session
    no tariff applied to has ``tariff_id`` null; one not yet priced has null totals."""

    id: int = Field(description="The session (`id` of /transactions)")
    tariff_id: str | None
    tariff_version: int | None
    currency: str | None
    total_excl_vat: Decimal | None
    total_vat: Decimal | None
    total_incl_vat: Decimal | None
    final: bool
    computed_at: datetime | None
    capped: str | None = Field(
        description="min_price and/or max_price (comma separated) when a cap changed the total"
    )
    lines: list[CostLinePublic]
