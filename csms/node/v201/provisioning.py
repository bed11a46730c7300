"""B. Provisioning: BootNotification, Heartbeat, NotifyReport (the device model)."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import format_timestamp
from csms.node import sessions
from csms.node.context import Payload, Session
from csms.node.v201.events import remember
from csms.store import charger_events

# part 2 VariableAttributeType: type defaults to Actual, mutability to ReadWrite.
DEFAULT_ATTRIBUTE = "Actual"
DEFAULT_MUTABILITY = "ReadWrite"
NO_EVSE = -1  # device_model_variables: a component not on an EVSE / connector


async def boot_notification(session: Session, payload: Payload) -> Payload:
    station = payload["chargingStation"]
    modem = station.get("modem") or {}
    session.log.info("boot reason %s", payload["reason"])
    status, interval = await sessions.register_boot(
        session,
        {
            "vendor": station["vendorName"],
            "model": station["model"],
            "serial_number": station.get("serialNumber"),
            "firmware_version": station.get("firmwareVersion"),
            "iccid": modem.get("iccid"),
            "imsi": modem.get("imsi"),
        },
    )
    now = session.services.clock()
    return {"status": status, "currentTime": format_timestamp(now), "interval": interval}


async def heartbeat(session: Session, payload: Payload) -> Payload:
    now = await sessions.record_heartbeat(session)
    return {"currentTime": format_timestamp(now)}


def variable_rows(report_data: list[dict[str, Any]]) -> list[charger_events.VariableRow]:
    """One device_model_variables row per reported variable attribute."""
    rows: list[charger_events.VariableRow] = []
    for data in report_data:
        component = data["component"]
        variable = data["variable"]
        evse = component.get("evse") or {}
        characteristics = data.get("variableCharacteristics")
        for attribute in data["variableAttribute"]:
            rows.append(
                (
                    component["name"],
                    component.get("instance", ""),
                    evse.get("id", NO_EVSE),
                    evse.get("connectorId", NO_EVSE),
                    variable["name"],
                    variable.get("instance", ""),
                    attribute.get("type", DEFAULT_ATTRIBUTE),
                    attribute.get("value"),
                    attribute.get("mutability", DEFAULT_MUTABILITY),
                    characteristics,
                )
            )
    return rows


async def notify_report(session: Session, payload: Payload) -> Payload:
    rows = variable_rows(payload.get("reportData", []))
    await charger_events.upsert_variables(session.pool, session.charge_point_id, rows)
    summary = {
        "requestId": payload["requestId"],
        "generatedAt": payload["generatedAt"],
        "seqNo": payload["seqNo"],
        "tbc": payload.get("tbc", False),
        "variables": len(rows),
    }
    await remember(
        session,
        "NotifyReport",
        summary,
        kind=payload["requestId"],
        occurred_at=payload["generatedAt"],
    )
    return {}
