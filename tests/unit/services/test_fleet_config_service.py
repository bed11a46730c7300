"""The configuration service on the memory stores with a fake command bus: what is sent to a
charger of each version, in which batches, and what becomes of each item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from csms.domain.reports import VariableRow
from csms.errors import ChargerCallError, ChargerNotConnected
from csms.services.fleet_config import APPLY_JOB, ConfigService
from csms.store.memory import MemoryStores

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeBus:
    """Answers like simulated chargers; records what was sent."""

    def __init__(self, *, offline: set[str] | None = None) -> None:
        self.sent: list[tuple[str, str, dict[str, Any], str | None]] = []
        self.offline = offline or set()
        self.refuse: set[str] = set()  # setting keys answered Rejected / RebootRequired
        self.call_error = False

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        by: str | None = None,
    ) -> dict[str, Any]:
        params = params or {}
        if charge_point_id in self.offline:
            raise ChargerNotConnected(f"{charge_point_id} is not connected")
        if self.call_error:
            raise ChargerCallError("InternalError: boom")
        self.sent.append((charge_point_id, command, params, by))
        if command == "set_configuration":
            status = "RebootRequired" if params["key"] in self.refuse else "Accepted"
            return {"response": {"status": status}}
        if command == "set_variables":
            results = []
            for item in params["set_variable_data"]:
                name = item["variable"]["name"]
                status = "UnknownVariable" if name in self.refuse else "Accepted"
                results.append({**item, "attributeStatus": status})
            return {"response": {"setVariableResult": results}}
        return {"response": {}}


@pytest.fixture
def stores() -> MemoryStores:
    return MemoryStores(clock=lambda: NOW)


async def registered(stores: MemoryStores, cp: str, protocol: str) -> None:
    await stores.chargers.add(
        cp, password_hash=None, boot_policy="accept", ocpp_version=protocol, description=""
    )


async def test_2_0_1_values_go_in_batches_of_the_chargers_limits(stores: MemoryStores) -> None:
    """B05.FR.11: no more SetVariableData per message than ItemsPerMessageSetVariables, and
    (BytesPerMessageSetVariables) no more bytes."""
    service = ConfigService(stores.config, stores.jobs, clock=lambda: NOW)
    await registered(stores, "CP-2", "ocpp2.0.1")
    limits = [
        VariableRow("DeviceDataCtrlr", "", -1, -1, "ItemsPerMessage", "SetVariables", "Actual",
                    "3", "ReadOnly", None),
        VariableRow("DeviceDataCtrlr", "", -1, -1, "BytesPerMessage", "SetVariables", "Actual",
                    "400", "ReadOnly", None),
    ]  # fmt: skip
    settings = {f"Ctrlr.Variable{i}": "v" * (10 + i) for i in range(8)}
    reported = [
        VariableRow("Ctrlr", "", -1, -1, f"Variable{i}", "", "Actual", "old", "ReadWrite", None)
        for i in range(8)
    ]
    await stores.reports.upsert_variables("CP-2", [*limits, *reported])
    await service.add_profile(
        {"id": "p", "ocpp_version": "2.0.1", "settings": settings}, by="alice"
    )
    asked = await service.request_apply("p", by="alice")
    assert asked.apply is not None
    assert stores.jobs.jobs[-1][:2] == (APPLY_JOB, {"apply_id": asked.apply.id})
    bus = FakeBus()
    bus.refuse = {"Variable3"}
    await service.run_apply(bus, asked.apply.id)

    batches = [params["set_variable_data"] for _, command, params, _ in bus.sent]
    assert all(command == "set_variables" for _, command, _, _ in bus.sent)
    assert all(len(batch) <= 3 for batch in batches)
    assert all(len(orjson.dumps({"setVariableData": b})) + 64 <= 400 for b in batches)
    assert sum(len(b) for b in batches) == 8
    assert {by for *_, by in bus.sent} == {f"alice (profile p, apply {asked.apply.id})"}
    items = {i.setting: i.outcome for i in await service.apply_items(asked.apply.id)}
    assert items.pop("Ctrlr.Variable3") == "NotSupported"  # B05.FR.05 UnknownVariable
    assert set(items.values()) == {"Accepted"}
    done = await service.apply(asked.apply.id)
    assert done.finished_at == NOW


async def test_an_offline_charger_keeps_its_values_and_gets_them_back(
    stores: MemoryStores,
) -> None:
    service = ConfigService(stores.config, stores.jobs, clock=lambda: NOW)
    await registered(stores, "CP-1", "ocpp1.6")
    await stores.reports.upsert_configuration("CP-1", [("HeartbeatInterval", "300", False)])
    await service.add_profile(
        {"id": "p", "ocpp_version": "1.6", "settings": {"HeartbeatInterval": 60}}, by=None
    )
    asked = await service.request_apply("p", by="bob")
    assert asked.apply is not None
    await service.run_apply(FakeBus(offline={"CP-1"}), asked.apply.id)
    [item] = await service.apply_items(asked.apply.id)
    assert item.outcome == "Offline" and "sent when the charger connects" in item.detail
    back = FakeBus()
    await service.charger_back(back, "CP-1", booted=False, protocol="ocpp1.6")
    assert [(c, p) for _, c, p, _ in back.sent] == [
        ("set_configuration", {"key": "HeartbeatInterval", "value": "60"})
    ]
    [item] = await service.apply_items(asked.apply.id)
    assert item.outcome == "Accepted"


async def test_a_call_error_fails_the_item_not_the_apply(stores: MemoryStores) -> None:
    service = ConfigService(stores.config, stores.jobs, clock=lambda: NOW)
    await registered(stores, "CP-1", "ocpp1.6")
    await service.add_profile({"id": "p", "ocpp_version": "1.6", "settings": {"A": 1}}, by=None)
    asked = await service.request_apply("p", by=None)
    assert asked.apply is not None
    bus = FakeBus()
    bus.call_error = True
    await service.run_apply(bus, asked.apply.id)
    [item] = await service.apply_items(asked.apply.id)
    assert (item.outcome, item.detail) == ("Failed", "call_error: InternalError: boom")
