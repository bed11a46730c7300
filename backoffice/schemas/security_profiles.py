"""A charger's security profile: what is recorded, and how an operator changes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.common import Input
from csms.domain.security_profiles import SecurityState

Profile = Annotated[int, Field(ge=0, le=3)]


class UpgradePublic(BaseModel):
    id: str
    target: Profile
    state: Literal["pending", "completed", "failed", "rolled_back"]
    started_at: datetime
    deadline: datetime = Field(description="Rolled back if not completed by then")
    finished_at: datetime | None
    detail: str = Field(description="What was sent, what the charger answered, what was undone")


class SecurityProfilePublic(BaseModel):
    charge_point_id: str
    minimum_profile: Profile = Field(
        description="The lowest profile the charger may connect with (raised by every "
        "connection, lowered only by an operator)"
    )
    last_profile: Profile | None = Field(description="The profile of its last connection")
    last_connected_at: datetime | None
    upgrade: UpgradePublic | None = Field(description="The last upgrade, if any")


class SecurityProfileChanged(SecurityProfilePublic):
    outcome: Literal["unchanged", "raised", "lowered", "upgrading"] = Field(
        description="raised: recorded (the charger connects that way already); upgrading: "
        "the OCPP upgrade is under way (poll GET until completed or rolled_back)"
    )


class SecurityProfileUpdate(Input):
    profile: Profile = Field(description="The profile the charger must use from now on")
    downgrade: bool = Field(
        False,
        description="Lower the recorded minimum (the charger was reset by other means; "
        "never sent over OCPP, A00.FR.005)",
    )
    csms_url: str | None = Field(
        None,
        pattern=r"^wss://",
        max_length=512,
        description="2.0.1: the wss:// URL given to the charger (default CSMS_TLS_PUBLIC_URL)",
    )
    timeout: float | None = Field(
        None,
        gt=0,
        le=86_400,
        description="Seconds the charger has to come back with the new profile "
        "(default CSMS_SECURITY_UPGRADE_TIMEOUT)",
    )
    configuration_slot: int | None = Field(
        None, ge=0, le=99, description="2.0.1 network profile slot (default: the next free)"
    )
    ocpp_interface: Literal[
        "Wired0", "Wired1", "Wired2", "Wired3", "Wireless0", "Wireless1", "Wireless2", "Wireless3"
    ] = Field("Wired0", description="2.0.1 NetworkConnectionProfile ocppInterface")


def security_public(state: SecurityState) -> SecurityProfilePublic:
    upgrade = state.upgrade
    return SecurityProfilePublic(
        charge_point_id=state.charge_point_id,
        minimum_profile=state.minimum,
        last_profile=state.last_profile,
        last_connected_at=state.last_connected_at,
        upgrade=None
        if upgrade is None
        else UpgradePublic(
            id=upgrade.id,
            target=upgrade.target,
            state=upgrade.state,
            started_at=upgrade.started_at,
            deadline=upgrade.deadline,
            finished_at=upgrade.finished_at,
            detail=upgrade.detail,
        ),
    )
