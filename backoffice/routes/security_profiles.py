"""A charger's security profile: read it; raise it (an upgrade over OCPP: 2.0.1
SetNetworkProfile + Reset, 1.6 SecurityProfile) or lower the record (docs/api.md)."""

from __future__ import annotations

from fastapi import APIRouter

from backoffice.deps import Operator, Reader, ServicesDep, SettingsDep, StateDep
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath
from backoffice.schemas.security_profiles import (
    SecurityProfileChanged,
    SecurityProfilePublic,
    SecurityProfileUpdate,
    security_public,
)
from csms.services.security_profiles import UpgradeRequest

router = APIRouter(prefix=f"{API}/chargers", tags=["chargers"])


@router.get("/{charge_point_id}/security-profile", response_model=SecurityProfilePublic)
async def get_security_profile(
    _: Reader, services: ServicesDep, charge_point_id: ChargePointIdPath
) -> SecurityProfilePublic:
    """The recorded minimum profile, the last connection's profile and the last upgrade."""
    return security_public(await services.security_profiles.state(charge_point_id))


@router.put("/{charge_point_id}/security-profile", response_model=SecurityProfileChanged)
async def set_security_profile(
    _: Operator,
    state: StateDep,
    services: ServicesDep,
    settings: SettingsDep,
    charge_point_id: ChargePointIdPath,
    body: SecurityProfileUpdate,
) -> SecurityProfileChanged:
    """Make ``profile`` the charger's: a higher one than it connects with starts the
    upgrade of its OCPP version (409 not connected, 502 the charger refused a step: the
    upgrade is recorded as failed); one it connects with already is recorded; a lower one
    needs ``downgrade`` (422 otherwise)."""
    request = UpgradeRequest(
        target=body.profile,
        csms_url=body.csms_url or settings.tls_public_url,
        timeout=body.timeout or settings.security_upgrade_timeout,
        command_timeout=settings.command_timeout,
        ocpp_interface=body.ocpp_interface,
        configuration_slot=body.configuration_slot,
    )
    change = await services.security_profiles.set_profile(
        charge_point_id, request, commands=state.commands, downgrade=body.downgrade
    )
    public = security_public(change.state)
    return SecurityProfileChanged(**public.model_dump(), outcome=change.outcome)
