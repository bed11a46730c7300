"""The caller's own money and sessions (the driver app: ``/api/v1/me/...``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.accounts import ChargePublic
from backoffice.schemas.common import MAX_INT32, Input, Name
from backoffice.schemas.id_tokens import IdTokenValue
from backoffice.schemas.transactions import TransactionPublic
from csms.domain.charge_points import MAX_CHARGE_POINT_ID

Settlement = Literal["charging", "pending", "charged", "review", "waived"]


class MySession(TransactionPublic):
    settlement: Settlement = Field(
        description="charging (running cost in cost_*), pending (ended, being settled), "
        "charged (see charge), review (an operator looks at it), waived (free)"
    )
    charge: ChargePublic | None = Field(None, description="What the session was charged")


class StartSession(Input):
    charge_point_id: Annotated[Name, Field(min_length=1, max_length=MAX_CHARGE_POINT_ID)]
    id_token: IdTokenValue = Field(description="One of your own id tokens")
    evse_id: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = Field(
        None, description="2.0.1: the EVSE (or give connector_id)"
    )
    connector_id: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = Field(
        None, description="1.6: the connector (2.0.1: with evse_id, that EVSE's connector)"
    )


class StartRequested(BaseModel):
    """The charger accepted to start; the session shows in /me/sessions once it begins."""

    charge_point_id: str
    id_token: str
    evse_id: int | None
    connector_id: int | None
    status: str = Field(description="The charger's answer: Accepted")
    remote_start_id: int | None = Field(
        None, description="2.0.1: the session will carry it (remote_start_id)"
    )


class StopRequested(BaseModel):
    transaction_pk: int
    status: str = Field(description="The charger's answer: Accepted")
