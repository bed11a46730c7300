"""How each OCPP version reads and writes configuration, for the baselines service: the
version differences as two adapters, sent as neutral commands through the command bus
(the node's command adapters turn them into OCPP and store what the answers report).

- 1.6: GetConfiguration (all keys, or at most ``GetConfigurationMaxKeys`` at a time) and one
  ChangeConfiguration per key.
- 2.0.1: GetBaseReport(FullInventory), answered by NotifyReport parts (B07); GetVariables
  and SetVariables in batches of at most ``DeviceDataCtrlr.ItemsPerMessage`` items and
  ``BytesPerMessage`` bytes (B05.FR.11) of the GetVariables / SetVariables instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from csms.domain.fleet_config import (
    CONFIGURATION_OUTCOMES,
    FAILED,
    NO_EVSE,
    SET_VARIABLE_OUTCOMES,
    V16,
    V201,
    Reported,
    SettingId,
    batches,
)
from csms.domain.reports import DEFAULT_ATTRIBUTE
from csms.errors import ChargerCallError, CommandRejected
from csms.services.ports import CommandSender

Written = tuple[SettingId, str, str]  # setting, outcome, detail
FRAME_OVERHEAD = 64  # bytes of the OCPP-J frame around a payload: [2,"<id>","SetVariables",...]
DEFAULT_ITEMS_201 = 1  # B05.FR.11: without the charger's limit, one item per message
DEFAULT_KEYS_16 = 1  # without GetConfigurationMaxKeys, one key per GetConfiguration


class VersionConfig(Protocol):
    version: str
    reports_later: bool  # a full read is answered by a report that follows (requestId)

    async def read_all(
        self,
        sender: CommandSender,
        charge_point_id: str,
        *,
        request_id: int | None,
        by: str | None,
        timeout: float,
    ) -> None:
        """Read every setting (the report, if it follows, has ``request_id``)."""
        ...

    async def read(
        self,
        sender: CommandSender,
        charge_point_id: str,
        settings: Sequence[SettingId],
        reported: Mapping[SettingId, Reported],
        *,
        by: str | None,
        timeout: float,
    ) -> None:
        """Read these settings now (stored by the node)."""
        ...

    async def write(
        self,
        sender: CommandSender,
        charge_point_id: str,
        values: Sequence[tuple[SettingId, str]],
        reported: Mapping[SettingId, Reported],
        *,
        by: str | None,
        timeout: float,
    ) -> list[Written]:
        """Send the values; each one's outcome. A CommandError other than the charger's own
        CALLERROR or a refused command (not connected, no answer) is raised: what was not
        answered is for the caller to keep."""
        ...


def _limit(reported: Mapping[SettingId, Reported], setting: SettingId, default: int) -> int:
    have = reported.get(setting)
    try:
        value = int(have.value) if have is not None and have.value is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


class V16Config:
    version = V16
    reports_later = False

    async def read_all(
        self,
        sender: CommandSender,
        charge_point_id: str,
        *,
        request_id: int | None,
        by: str | None,
        timeout: float,
    ) -> None:
        await sender.send(charge_point_id, "get_configuration", {}, timeout=timeout, by=by)

    async def read(
        self,
        sender: CommandSender,
        charge_point_id: str,
        settings: Sequence[SettingId],
        reported: Mapping[SettingId, Reported],
        *,
        by: str | None,
        timeout: float,
    ) -> None:
        size = _limit(reported, SettingId("GetConfigurationMaxKeys"), DEFAULT_KEYS_16)
        for batch in batches([s.key for s in settings], size):
            await sender.send(
                charge_point_id, "get_configuration", {"keys": batch}, timeout=timeout, by=by
            )

    async def write(
        self,
        sender: CommandSender,
        charge_point_id: str,
        values: Sequence[tuple[SettingId, str]],
        reported: Mapping[SettingId, Reported],
        *,
        by: str | None,
        timeout: float,
    ) -> list[Written]:
        written: list[Written] = []
        for setting, value in values:
            params = {"key": setting.key, "value": value}
            try:
                result = await sender.send(
                    charge_point_id, "set_configuration", params, timeout=timeout, by=by
                )
            except (ChargerCallError, CommandRejected) as exc:
                written.append((setting, FAILED, f"{exc.code}: {exc.detail}"))
                continue
            status = str(result.get("response", {}).get("status", ""))
            outcome = CONFIGURATION_OUTCOMES.get(status, FAILED)
            written.append((setting, outcome, "" if outcome != FAILED else f"answered {status}"))
        return written


def variable_data(setting: SettingId) -> dict[str, Any]:
    """ComponentType and VariableType of a 2.0.1 setting (the Actual attribute)."""
    component, component_instance, variable, variable_instance = setting.device_model()
    component_type: dict[str, Any] = {"name": component}
    if component_instance:
        component_type["instance"] = component_instance
    if setting.evse_id != NO_EVSE:
        evse: dict[str, Any] = {"id": setting.evse_id}
        if setting.connector_id != NO_EVSE:
            evse["connectorId"] = setting.connector_id
        component_type["evse"] = evse
    variable_type: dict[str, Any] = {"name": variable}
    if variable_instance:
        variable_type["instance"] = variable_instance
    return {"component": component_type, "variable": variable_type}


def setting_of(data: Mapping[str, Any]) -> SettingId:
    """The setting a GetVariableResult / SetVariableResult is about."""
    component, variable = data["component"], data["variable"]
    key = component["name"] + (f"/{component['instance']}" if component.get("instance") else "")
    key += "." + variable["name"] + (f"/{variable['instance']}" if variable.get("instance") else "")
    evse = component.get("evse") or {}
    return SettingId(key, int(evse.get("id", NO_EVSE)), int(evse.get("connectorId", NO_EVSE)))


def _fitting(items: list[dict[str, Any]], count: int, size_bytes: int | None) -> list[list[Any]]:
    """Batches of at most ``count`` items whose payload fits ``size_bytes``."""
    out: list[list[Any]] = []
    for batch in batches(items, count):
        current: list[Any] = []
        for item in batch:
            candidate = [*current, item]
            size = len(orjson.dumps({"setVariableData": candidate})) + FRAME_OVERHEAD
            if current and size_bytes is not None and size > size_bytes:
                out.append(current)
                candidate = [item]
            current = candidate
        if current:
            out.append(current)
    return out


def _limits(reported: Mapping[SettingId, Reported], instance: str) -> tuple[int, int | None]:
    items = _limit(reported, SettingId(f"DeviceDataCtrlr.ItemsPerMessage/{instance}"), 0)
    size = _limit(reported, SettingId(f"DeviceDataCtrlr.BytesPerMessage/{instance}"), 0)
    return (items or DEFAULT_ITEMS_201), (size or None)


class V201Config:
    version = V201
    reports_later = True

    async def read_all(
        self,
        sender: CommandSender,
        charge_point_id: str,
        *,
        request_id: int | None,
        by: str | None,
        timeout: float,
    ) -> None:
        params = {"report_base": "FullInventory", "request_id": request_id}
        result = await sender.send(
            charge_point_id, "get_base_report", params, timeout=timeout, by=by
        )
        status = str(result.get("response", {}).get("status", ""))
        if status != "Accepted":  # B07.FR.02 / B07.FR.13
            raise ChargerCallError(f"GetBaseReport(FullInventory) answered {status}")

    async def read(
        self,
        sender: CommandSender,
        charge_point_id: str,
        settings: Sequence[SettingId],
        reported: Mapping[SettingId, Reported],
        *,
        by: str | None,
        timeout: float,
    ) -> None:
        count, size = _limits(reported, "GetVariables")
        data = [{**variable_data(s), "attributeType": DEFAULT_ATTRIBUTE} for s in settings]
        for batch in _fitting(data, count, size):
            await sender.send(
                charge_point_id,
                "get_variables",
                {"get_variable_data": batch},
                timeout=timeout,
                by=by,
            )

    async def write(
        self,
        sender: CommandSender,
        charge_point_id: str,
        values: Sequence[tuple[SettingId, str]],
        reported: Mapping[SettingId, Reported],
        *,
        by: str | None,
        timeout: float,
    ) -> list[Written]:
        count, size = _limits(reported, "SetVariables")
        data = [
            {**variable_data(s), "attributeType": DEFAULT_ATTRIBUTE, "attributeValue": value}
            for s, value in values
        ]
        written: list[Written] = []
        for batch in _fitting(data, count, size):
            sent = [setting_of(item) for item in batch]
            try:
                result = await sender.send(
                    charge_point_id,
                    "set_variables",
                    {"set_variable_data": batch},
                    timeout=timeout,
                    by=by,
                )
            except (ChargerCallError, CommandRejected) as exc:
                written.extend((s, FAILED, f"{exc.code}: {exc.detail}") for s in sent)
                continue
            answers: dict[SettingId, tuple[str, str]] = {}
            for item in result.get("response", {}).get("setVariableResult", []):
                status = str(item.get("attributeStatus", ""))
                info = item.get("attributeStatusInfo") or {}
                detail = status if SET_VARIABLE_OUTCOMES.get(status) not in (None, status) else ""
                if info.get("reasonCode"):
                    detail = f"{detail} {info['reasonCode']}".strip()
                answers[setting_of(item)] = (SET_VARIABLE_OUTCOMES.get(status, FAILED), detail)
            for setting in sent:  # B05.FR.01: one result per item sent
                outcome, detail = answers.get(setting, (FAILED, "no result for this item"))
                written.append((setting, outcome, detail))
        return written


VERSIONS: dict[str, VersionConfig] = {V16: V16Config(), V201: V201Config()}
