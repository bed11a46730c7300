"""K. Smart charging: limits and profiles the charger reports, ISO 15118 charging needs.

We have no smart-charging planner yet: reports are kept for the operator, and the answers to
the ISO 15118 messages say honestly that we provide no schedule.
"""

from __future__ import annotations

from csms.node.context import Context, Payload
from csms.node.v201.convert import status_info
from csms.node.v201.events import remember


async def cleared_charging_limit(ctx: Context, payload: Payload) -> Payload:
    # K13: an external limit (EMS, SO, ...) was released.
    await remember(ctx, "ClearedChargingLimit", payload, kind=payload["chargingLimitSource"])
    return {}


async def notify_charging_limit(ctx: Context, payload: Payload) -> Payload:
    # K12: an external system set or changed a limit on the station.
    source = payload["chargingLimit"]["chargingLimitSource"]
    await remember(ctx, "NotifyChargingLimit", payload, kind=source)
    return {}


async def report_charging_profiles(ctx: Context, payload: Payload) -> Payload:
    # K09: the answer, in parts (tbc), to our GetChargingProfilesRequest(requestId).
    await remember(ctx, "ReportChargingProfiles", payload, kind=payload["requestId"])
    return {}


async def notify_ev_charging_needs(ctx: Context, payload: Payload) -> Payload:
    needs = payload["chargingNeeds"]
    await remember(ctx, "NotifyEVChargingNeeds", payload, kind=needs["requestedEnergyTransfer"])
    # K15.FR.04 / K17.FR.04: a CSMS that is not able to provide a charging schedule SHALL
    # answer Rejected. Accepted or Processing (K15.FR.03/05) would oblige us to send a
    # TxProfile SetChargingProfileRequest (K15.FR.07, within 60 s per K15.FR.08), which we
    # cannot. Rejected lets the station build the schedule from its own limits.
    return {
        "status": "Rejected",
        "statusInfo": status_info(
            "UnsupportedRequest", "This CSMS does not calculate ISO 15118 charging schedules."
        ),
    }


async def notify_ev_charging_schedule(ctx: Context, payload: Payload) -> Payload:
    await remember(
        ctx,
        "NotifyEVChargingSchedule",
        payload,
        kind=payload["evseId"],
        occurred_at=payload["timeBase"],
    )
    # K15.FR.11 / K16.FR.06 / K17.FR.11: Accepted when the EV's schedule is within the
    # limits of the CSMS ChargingSchedule. We set no TxProfile, so there is no CSMS limit the
    # EV's schedule could exceed; Rejected (K15.FR.12) would claim it did, and would oblige
    # us to start a renegotiation (K15.FR.13, K16.FR.08, K17.FR.13) that we cannot.
    return {"status": "Accepted"}
