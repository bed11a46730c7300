"""B. Provisioning: BootNotification, Heartbeat, NotifyReport (the device model)."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import format_timestamp
from csms.domain.reports import DEFAULT_ATTRIBUTE, DEFAULT_MUTABILITY, NO_EVSE, VariableRow
from csms.node.context import Context, Payload
from csms.node.v201.events import remember


async def boot_notification(ctx: Context, payload: Payload) -> Payload:
    station = payload["chargingStation"]
    modem = station.get("modem") or {}
    ctx.log.info("boot reason %s", payload["reason"])
    outcome = await ctx.services.chargers.boot(
        ctx.link,
        {
            "vendor": station["vendorName"],
            "model": station["model"],
            "serial_number": station.get("serialNumber"),
            "firmware_version": station.get("firmwareVersion"),
            "iccid": modem.get("iccid"),
            "imsi": modem.get("imsi"),
        },
    )
    return {
        "status": outcome.status,
        "currentTime": format_timestamp(outcome.at),
        "interval": outcome.interval,
    }


async def heartbeat(ctx: Context, payload: Payload) -> Payload:
    return {"currentTime": format_timestamp(ctx.services.chargers.heartbeat(ctx.link))}


def variable_rows(report_data: list[dict[str, Any]]) -> list[VariableRow]:
    """One device-model row per reported variable attribute."""
    rows: list[VariableRow] = []
    for data in report_data:
        component = data["component"]
        variable = data["variable"]
        evse = component.get("evse") or {}
        characteristics = data.get("variableCharacteristics")
        for attribute in data["variableAttribute"]:
            rows.append(
                VariableRow(
                    component["name"],
                    component.get("instance", ""),
                    int(evse.get("id", NO_EVSE)),
                    int(evse.get("connectorId", NO_EVSE)),
                    variable["name"],
                    variable.get("instance", ""),
                    attribute.get("type", DEFAULT_ATTRIBUTE),
                    attribute.get("value"),
                    attribute.get("mutability", DEFAULT_MUTABILITY),
                    characteristics,
                )
            )
    return rows


async def notify_report(ctx: Context, payload: Payload) -> Payload:
    rows = variable_rows(payload.get("reportData", []))
    # B07.FR.10: parts of one report share its requestId, numbered by seqNo from 0
    await ctx.services.reports.report_part(
        ctx.charge_point_id,
        rows,
        request_id=payload["requestId"],
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
    )
    summary = {
        "requestId": payload["requestId"],
        "generatedAt": payload["generatedAt"],
        "seqNo": payload["seqNo"],
        "tbc": payload.get("tbc", False),
        "variables": len(rows),
    }
    await remember(
        ctx,
        "NotifyReport",
        summary,
        kind=payload["requestId"],
        occurred_at=payload["generatedAt"],
    )
    return {}
