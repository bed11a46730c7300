"""Commands round-trip through the cluster: a CommandClient -> Redis inbox of the owning node
-> one OCPP CALL of the charger's version -> the charger's answer -> the caller
(docs/topics/cluster.md "Commands", docs/adr/0001-command-bus.md, docs/reference/commands.md).

Three real node processes, six simulated stations (1.6 and 2.0.1 on every node). Each station
gets every command family; what a command persists is in PostgreSQL when the reply arrives,
and what the charger sends afterwards (FirmwareStatusNotification, NotifyReport, a remotely
started session with its meter values) is stored by whichever node holds its socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from csms import __version__
from csms.cluster.bus import CommandClient
from csms.cluster.registry import Registry
from csms.cluster.routing import Routing
from csms.errors import ChargerNotConnected, CommandRejected
from tests.e2e.cluster import Cluster
from tests.e2e.command_cases import Case, common_cases, expiry, matches, v201_cases
from tests.e2e.fleet import (
    COMMAND_TIMEOUT,
    VERSIONS,
    RecordingStation,
    eventually,
    new_station,
    online,
    register_chargers,
    register_token,
    sent_calls,
    start_session,
    stop_session,
    transactions_of,
)

NODES = ("n1", "n2", "n3")
# The station really downloads: nothing listens at this location (connection refused), so it
# reports the failure (1.6 4.5 / 2.0.1 L02.FR.01: every step; test_e2e_firmware.py installs).
FIRMWARE_LOCATION = "http://127.0.0.1:9/e2e.bin"
FIRMWARE_STEPS = ["Downloading", "DownloadFailed"]


async def send(
    client: CommandClient, station: RecordingStation, command: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Send a command; check it reached the station as exactly one CALL and came back."""
    before = len(station.received)
    result = await client.send(
        station.config.charge_point_id, command, params, timeout=COMMAND_TIMEOUT
    )
    protocol = f"ocpp{station.config.version}"
    assert result["protocol"] == protocol, result
    assert [c.action for c in station.received[before:]] == [result["action"]], result
    assert station.received[-1].payload == result["request"]
    return result


async def run_case(client: CommandClient, station: RecordingStation, case: Case) -> None:
    result = await send(client, station, case.command, case.params)
    assert result["action"] == case.action, (case, result)
    assert matches(case.expect, result["response"]), (case, result)


async def exercise(
    client: CommandClient,
    pool: asyncpg.Pool,
    routing: Routing,
    station: RecordingStation,
    id_token: str,
) -> None:
    """Every command family against one station, one command at a time."""
    version = station.config.version
    cp = station.config.charge_point_id
    request_ids = {"report": 41, "customer": 42}
    cases = common_cases(version, id_token)
    if version == "2.0.1":
        cases += v201_cases(request_ids)
    for case in cases:
        await run_case(client, station, case)

    await check_trigger_message(client, pool, station)
    await check_availability(client, pool, station)
    await check_configuration(client, pool, station)
    await check_reservation(client, station, id_token)
    await check_firmware_and_log(client, pool, station)
    if version == "2.0.1":
        await check_device_model_reports(pool, cp, request_ids)
    await check_remote_session(client, pool, station, id_token)
    await check_reset(client, pool, routing, station)


async def check_trigger_message(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation
) -> None:
    """TriggerMessage (1.6 section 5.17, 2.0.1 F06): the station then sends a Heartbeat."""
    result = await send(client, station, "trigger_message", {"message": "Heartbeat"})
    assert (result["action"], result["response"]["status"]) == ("TriggerMessage", "Accepted")

    async def heartbeat_received() -> bool:
        found = await pool.fetchval(
            """SELECT 1 FROM charger_messages WHERE charge_point_id = $1 AND direction = 'in'
               AND message_type = 2 AND action = 'Heartbeat'""",
            station.config.charge_point_id,
        )
        return found is not None

    await eventually(heartbeat_received, "the triggered Heartbeat in the journal")


async def check_availability(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation
) -> None:
    """ChangeAvailability (1.6 section 5.2, 2.0.1 G03/G04), persisted in charger_availability
    before the reply: 1.6 connector 2 is (evse 0, connector 2), 2.0.1 EVSE 2 is (2, 0)."""
    cp = station.config.charge_point_id
    where = (0, 2) if station.config.version == "1.6" else (2, 0)
    for operative in (False, True):
        result = await send(
            client, station, "change_availability", {"operative": operative, "connector_id": 2}
        )
        assert result["action"] == "ChangeAvailability"
        assert result["response"]["status"] == "Accepted"
        row = await pool.fetchrow(
            """SELECT operative, answer FROM charger_availability
               WHERE charge_point_id = $1 AND evse_id = $2 AND connector_id = $3""",
            cp,
            *where,
        )
        assert row is not None and (row["operative"], row["answer"]) == (operative, "Accepted")


async def check_configuration(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation
) -> None:
    """get_configuration/set_configuration: 1.6 GetConfiguration/ChangeConfiguration into
    charger_configuration, 2.0.1 GetVariables/SetVariables (B06/B05) into
    device_model_variables; the station really holds the new value."""
    cp = station.config.charge_point_id
    if station.config.version == "1.6":
        key, keys = "HeartbeatInterval", ["HeartbeatInterval", "NumberOfConnectors"]
        read = await send(client, station, "get_configuration", {"keys": keys})
        assert read["action"] == "GetConfiguration"
        assert {k["key"]: k["value"] for k in read["response"]["configurationKey"]} == {
            "HeartbeatInterval": "300",
            "NumberOfConnectors": "2",
        }
        rows = await pool.fetch(
            "SELECT key, value, readonly FROM charger_configuration WHERE charge_point_id = $1",
            cp,
        )
        assert {(r["key"], r["value"], r["readonly"]) for r in rows} == {
            ("HeartbeatInterval", "300", False),
            ("NumberOfConnectors", "2", True),
        }
        written = await send(client, station, "set_configuration", {"key": key, "value": 120})
        assert (written["action"], written["response"]) == (
            "ChangeConfiguration",
            {"status": "Accepted"},
        )
        stored = await pool.fetchval(
            "SELECT value FROM charger_configuration WHERE charge_point_id = $1 AND key = $2",
            cp,
            key,
        )
    else:
        key = "OCPPCommCtrlr.HeartbeatInterval"
        read = await send(client, station, "get_configuration", {"keys": [key]})
        assert read["action"] == "GetVariables"
        (result,) = read["response"]["getVariableResult"]
        assert (result["attributeStatus"], result["attributeValue"]) == ("Accepted", "300")
        assert await variable_value(pool, cp, "OCPPCommCtrlr", "HeartbeatInterval") == "300"
        written = await send(client, station, "set_configuration", {"key": key, "value": 120})
        assert written["action"] == "SetVariables"
        assert written["response"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        stored = await variable_value(pool, cp, "OCPPCommCtrlr", "HeartbeatInterval")
        # the earlier set_variables of OfflineThreshold was stored the same way
        assert await variable_value(pool, cp, "OCPPCommCtrlr", "OfflineThreshold") == "90"
    assert stored == "120"
    assert station.state.configuration[key] == "120"


async def variable_value(pool: asyncpg.Pool, cp: str, component: str, variable: str) -> Any:
    return await pool.fetchval(
        """SELECT value FROM device_model_variables WHERE charge_point_id = $1
           AND component = $2 AND variable = $3 AND attribute_type = 'Actual'""",
        cp,
        component,
        variable,
    )


async def check_reservation(
    client: CommandClient, station: RecordingStation, id_token: str
) -> None:
    """ReserveNow/CancelReservation (1.6 sections 5.13/5.3, 2.0.1 H01/H02)."""
    params = {"reservation_id": 501, "expiry_date": expiry(), "id_token": id_token}
    reserved = await send(client, station, "reserve_now", {**params, "connector_id": 2})
    assert (reserved["action"], reserved["response"]["status"]) == ("ReserveNow", "Accepted")
    assert station.state.reservations == {501: 2}
    cancelled = await send(client, station, "cancel_reservation", {"reservation_id": 501})
    assert (cancelled["action"], cancelled["response"]["status"]) == (
        "CancelReservation",
        "Accepted",
    )
    assert station.state.reservations == {}


async def check_firmware_and_log(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation
) -> None:
    """UpdateFirmware (1.6 section 5.19, 2.0.1 L01) is followed by FirmwareStatusNotification
    Downloading..Installed, GetLog (security whitepaper / 2.0.1 N01) by LogStatusNotification;
    the node of the station's socket stores them in charger_events."""
    cp = station.config.charge_point_id
    firmware = await send(client, station, "update_firmware", {"location": FIRMWARE_LOCATION})
    assert firmware["action"] == "UpdateFirmware"
    # 1.6 UpdateFirmware.conf has no field
    assert firmware["response"] == (
        {} if station.config.version == "1.6" else {"status": "Accepted"}
    )
    log = await send(client, station, "get_log", {"location": "https://logs.example/e2e"})
    assert (log["action"], log["response"]["status"]) == ("GetLog", "Accepted")

    async def kinds(action: str) -> list[str]:
        rows = await pool.fetch(
            "SELECT kind FROM charger_events WHERE charge_point_id = $1 AND action = $2"
            " ORDER BY id",
            cp,
            action,
        )
        return [r["kind"] for r in rows]

    async def firmware_installed() -> list[str] | None:
        found = await kinds("FirmwareStatusNotification")
        return found if found == FIRMWARE_STEPS else None

    async def log_uploaded() -> list[str] | None:
        found = await kinds("LogStatusNotification")
        return found if found == ["Uploading", "Uploaded"] else None

    await eventually(firmware_installed, f"{cp}: FirmwareStatusNotification rows")
    await eventually(log_uploaded, f"{cp}: LogStatusNotification rows")


async def check_device_model_reports(
    pool: asyncpg.Pool, cp: str, request_ids: dict[str, int]
) -> None:
    """GetBaseReport (B07) -> NotifyReport into device_model_variables (with mutability);
    CustomerInformation (N09) -> NotifyCustomerInformation in charger_events."""

    async def model_reported() -> Any:
        return await pool.fetchval(
            """SELECT mutability FROM device_model_variables WHERE charge_point_id = $1
               AND component = 'ChargingStation' AND variable = 'Model'""",
            cp,
        )

    assert await eventually(model_reported, f"{cp}: the NotifyReport") == "ReadOnly"

    async def event_with_request_id(action: str, request_id: int) -> bool:
        found = await pool.fetchval(
            """SELECT 1 FROM charger_events WHERE charge_point_id = $1 AND action = $2
               AND kind = $3""",
            cp,
            action,
            str(request_id),
        )
        return found is not None

    async def reported() -> bool:
        return await event_with_request_id("NotifyReport", request_ids["report"])

    async def customer_informed() -> bool:
        return await event_with_request_id("NotifyCustomerInformation", request_ids["customer"])

    await eventually(reported, f"{cp}: NotifyReport")
    await eventually(customer_informed, f"{cp}: NotifyCustomerInformation")


async def check_remote_session(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation, id_token: str
) -> None:
    """remote_start (1.6 section 5.11, 2.0.1 F01): the station starts a real session on
    connector 1; its transaction and periodic meter values reach PostgreSQL; remote_stop
    (1.6 section 5.12, 2.0.1 F03) ends it with reason Remote."""
    session = await start_session(client, pool, station, id_token)
    assert station.received_actions()[-1] == (
        "RemoteStartTransaction" if station.config.version == "1.6" else "RequestStartTransaction"
    )
    (row,) = await transactions_of(pool, session.charge_point_id)
    assert row["transaction_id"] == str(session.tx.transaction_id)
    assert (row["id_token"], row["authorization_status"]) == (id_token, "Accepted")
    if station.config.version == "2.0.1":
        status = await send(
            client, station, "get_transaction_status", {"transaction_id": row["transaction_id"]}
        )
        # (messagesInQueue may be true: a periodic TransactionEvent can be on its way)
        assert status["response"]["ongoingIndicator"] is True

    final = await stop_session(client, pool, session)
    assert station.received_actions()[-1] == (
        "RemoteStopTransaction" if station.config.version == "1.6" else "RequestStopTransaction"
    )
    assert final["stop_reason"] == "Remote"
    assert final["energy_wh"] > 0
    assert 1 not in station.state.transactions


async def check_reset(
    client: CommandClient, pool: asyncpg.Pool, routing: Routing, station: RecordingStation
) -> None:
    """Reset (1.6 section 5.14, 2.0.1 B11/B12): the station reboots, i.e. closes, connects
    again (a new epoch on its node), boots and reports its connectors; commands reach the
    new socket."""
    cp = station.config.charge_point_id
    before = await routing.owner(cp)
    assert before is not None
    result = await send(client, station, "reset", {"type": "soft"})
    assert (result["action"], result["response"]) == ("Reset", {"status": "Accepted"})

    async def rebooted() -> bool:
        owner = await routing.owner(cp)
        if owner is None or owner.node_id != before.node_id or owner.epoch <= before.epoch:
            return False
        statuses = await pool.fetchval(
            """SELECT count(*) FROM charger_messages WHERE charge_point_id = $1
               AND direction = 'in' AND message_type = 2 AND action = 'StatusNotification'
               AND id > (SELECT max(id) FROM charger_messages WHERE charge_point_id = $1
                         AND direction = 'in' AND action = 'BootNotification')""",
            cp,
        )
        return station.connected and statuses >= station.config.connectors

    await eventually(rebooted, f"{cp}: rebooted after the Reset")
    again = await send(client, station, "get_local_list_version", {})
    assert again["action"] == "GetLocalListVersion"


async def check_refusals(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation
) -> None:
    """What the node refuses never reaches the charger (docs/reference/commands.md)."""
    cp, v16 = station.config.charge_point_id, station.config.version == "1.6"
    before = list(station.received)
    refused: list[tuple[str, dict[str, Any]]] = [
        ("raw", {"action": "Reset", "payload": {"type": "Sideways"}}),  # fails the schema
        ("raw", {"action": "BootNotification", "payload": {}}),  # charger-initiated
        ("raw", {"payload": {}}),  # no action
        ("reset", {"type": "soft", "evseId": 1}),  # unknown param (a typo)
        ("remote_start", {"id_token": "X" * 40}),  # too long for either version
        ("get_base_report", {"report_base": "FullInventory"})
        if v16
        else ("extended_trigger_message", {"message": "Heartbeat"}),
    ]
    if v16:
        refused.append(("reset", {"type": "soft", "evse_id": 1}))  # 1.6 resets only whole
    for command, params in refused:
        with pytest.raises(CommandRejected):
            await client.send(cp, command, params, timeout=COMMAND_TIMEOUT)
    assert station.received == before
    assert not [p for p in await sent_calls(pool, cp, "Reset") if p.get("type") == "Sideways"]


async def test_every_command_family_round_trips_to_both_versions_on_three_nodes(
    cluster: Cluster,
    pool: asyncpg.Pool,
    client: CommandClient,
    registry: Registry,
    routing: Routing,
) -> None:
    nodes = await cluster.start(*NODES)
    ids = await register_chargers(pool, 7)
    never_connected, ids = ids[0], ids[1:]
    # charger i on node i % 3; the first three speak 1.6, the last three 2.0.1
    stations = [new_station(nodes[i % 3].url, cp, VERSIONS[i // 3]) for i, cp in enumerate(ids)]
    await asyncio.gather(*(online(station) for station in stations))
    for i, station in enumerate(stations):
        owner = await routing.owner(station.config.charge_point_id)
        assert owner is not None and owner.node_id == nodes[i % 3].node_id

    tokens = [await register_token(pool) for _ in stations]
    async with asyncio.TaskGroup() as group:
        for station, id_token in zip(stations, tokens, strict=True):
            group.create_task(exercise(client, pool, routing, station, id_token))

    for station in (stations[0], stations[3]):
        await check_refusals(client, pool, station)

    # `csms nodes` is the same registry, from the shell
    async def every_node_counts_its_chargers() -> bool:
        counts = {n.node_id: n.connections for n in await registry.live_nodes()}
        return counts == dict.fromkeys(NODES, 2)

    await eventually(every_node_counts_its_chargers, "registry connection counts")
    status, out, err = await cluster.cli("nodes")
    assert status == 0, err
    header, *lines = out.splitlines()
    assert header.split()[:4] == ["node_id", "address", "version", "chargers"]
    table = {line.split()[0]: line.split()[1:4] for line in lines}
    assert table == {node.node_id: [node.address, __version__, "2"] for node in nodes}

    # not connected: never was, or left cleanly (its node released the ownership)
    with pytest.raises(ChargerNotConnected):
        await client.send(never_connected, "reset", {"type": "soft"}, timeout=COMMAND_TIMEOUT)
    leaving = stations[5]
    await leaving.disconnect()

    async def released() -> bool:
        return await routing.owner(leaving.config.charge_point_id) is None

    await eventually(released, "ownership released on a clean close")
    with pytest.raises(ChargerNotConnected):
        await client.send(
            leaving.config.charge_point_id, "reset", {"type": "soft"}, timeout=COMMAND_TIMEOUT
        )
    await asyncio.gather(*(station.disconnect() for station in stations))
