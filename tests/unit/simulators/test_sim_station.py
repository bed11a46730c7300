"""The station against a fake CSMS on a real WebSocket (port 0)."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sim_fake_csms import DROP, SILENT, TIMEOUT, FakeCsms, now
from websockets.exceptions import InvalidStatus

from simulators.scenarios import run_session
from simulators.station import CallError, Station, StationConfig

VERSIONS = ["1.6", "2.0.1"]
TX_ACTION = {"1.6": "StartTransaction", "2.0.1": "TransactionEvent"}


def make_station(csms: FakeCsms, **overrides: Any) -> Station:
    settings: dict[str, Any] = {
        "url": csms.url,
        "charge_point_id": "CP-1",
        "version": csms.version,
        "connectors": 2,
        "meter_interval": TIMEOUT / 500,
        "call_timeout": TIMEOUT,
    }
    return Station(StationConfig(**(settings | overrides)))


@pytest.fixture(params=VERSIONS)
async def csms(request: pytest.FixtureRequest) -> AsyncIterator[FakeCsms]:
    async with FakeCsms(request.param) as server:
        yield server
    assert server.violations == []


@pytest.fixture
async def station(csms: FakeCsms) -> AsyncIterator[Station]:
    st = make_station(csms)
    await st.connect()
    await st.boot()
    yield st
    await st.disconnect()


async def test_session_scenario_sends_schema_valid_frames(csms: FakeCsms) -> None:
    st = make_station(csms)

    summary = await run_session(st, "TAG-1", 3)

    assert summary["authorization"] == "Accepted"
    assert summary["meter_values_sent"] == 3
    assert not st.connected
    actions = csms.actions()
    assert actions[:2] == ["BootNotification", "StatusNotification"]
    assert actions.count("StatusNotification") == 5  # 2 Available, Preparing, Charging, Available
    if csms.version == "1.6":
        assert actions.count("MeterValues") == 3
        assert [p["transactionId"] for p in csms.calls("MeterValues")] == [100] * 3
        assert csms.calls("StopTransaction")[0]["transactionId"] == 100
        sampled = csms.calls("MeterValues")[0]["meterValue"][0]["sampledValue"]
    else:
        events = csms.calls("TransactionEvent")
        assert [e["eventType"] for e in events] == ["Started"] + ["Updated"] * 3 + ["Ended"]
        assert [e["seqNo"] for e in events] == [0, 1, 2, 3, 4]
        assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
        assert events[0]["idToken"] == {"idToken": "TAG-1", "type": "ISO14443"}
        assert events[-1]["transactionInfo"]["stoppedReason"] == "Local"
        sampled = events[1]["meterValue"][0]["sampledValue"]
    measurands = {(v["measurand"], v.get("phase")) for v in sampled}
    assert len(sampled) >= 6
    assert ("Current.Import", "L3") in measurands and ("SoC", None) in measurands


async def test_http_basic_auth(csms: FakeCsms, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="simulators.wire")
    csms.password = "s3cr3t"
    wrong = make_station(csms, password="nope")
    right = make_station(csms, password="s3cr3t")

    with pytest.raises(InvalidStatus) as raised:
        await wrong.connect()
    await right.connect()

    assert raised.value.response.status_code == 401
    assert right.subprotocol == ("ocpp1.6" if csms.version == "1.6" else "ocpp2.0.1")
    assert csms.paths[-1] == "/ocpp/CP-1"
    await right.disconnect()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("simulators"))
    assert "Authorization: ***" in ours  # the handshake is logged, masked
    assert base64.b64encode(b"CP-1:s3cr3t").decode() not in ours


async def test_no_subprotocol_selected() -> None:
    async with FakeCsms("1.6", select_subprotocol=False) as csms:
        st = make_station(csms, subprotocols=["ocpp1.5"])
        await st.connect()
        assert st.subprotocol is None
        await st.disconnect()


async def test_one_outstanding_call_at_a_time(csms: FakeCsms, station: Station) -> None:
    release = asyncio.Event()

    async def slow_heartbeat(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"currentTime": now()}

    csms.answers["Heartbeat"] = slow_heartbeat
    both = asyncio.gather(station.heartbeat(), station.heartbeat())
    await csms.wait_for_calls("Heartbeat")
    # A CSMS-initiated round trip: the station's reader keeps going meanwhile.
    answer = await csms.call("ClearCache", {})
    assert answer[0] == 3
    assert len(csms.calls("Heartbeat")) == 1

    release.set()
    await asyncio.wait_for(both, TIMEOUT)
    assert len(csms.calls("Heartbeat")) == 2


async def test_call_timeout_and_callerror(csms: FakeCsms) -> None:
    async def silent(payload: dict[str, Any]) -> object:
        return SILENT

    async def refuse(payload: dict[str, Any]) -> tuple[str, str]:
        return ("GenericError", "nope")

    csms.answers["Heartbeat"] = silent
    csms.answers["DataTransfer"] = refuse
    st = make_station(csms, call_timeout=TIMEOUT / 50)
    await st.connect()

    with pytest.raises(TimeoutError):
        await st.heartbeat()
    with pytest.raises(CallError) as raised:
        await st.call("DataTransfer", {"vendorId": "X"})

    assert (raised.value.code, raised.value.description) == ("GenericError", "nope")
    await st.disconnect()


async def test_csms_configuration_round_trip(csms: FakeCsms, station: Station) -> None:
    if csms.version == "1.6":
        change = await csms.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "7"})
        get = await csms.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert change[2] == {"status": "Accepted"}
        assert get[2]["configurationKey"][0]["value"] == "7"
    else:
        variable = {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
        }
        change = await csms.call(
            "SetVariables", {"setVariableData": [{**variable, "attributeValue": "7"}]}
        )
        get = await csms.call("GetVariables", {"getVariableData": [variable]})
        assert change[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        assert get[2]["getVariableResult"][0]["attributeValue"] == "7"
    assert station.state.configuration.get("HeartbeatInterval", "7") == "7"


async def test_csms_unknown_action_and_invalid_payload(csms: FakeCsms, station: Station) -> None:
    unknown = await csms.call("Teleport", {})
    invalid = await csms.call("Reset", {"type": "Warm"})

    assert unknown[:3] == [4, unknown[1], "NotImplemented"]
    assert invalid[:3] == [4, invalid[1], "PropertyConstraintViolation"]


async def test_malformed_csms_call_gets_a_callerror(csms: FakeCsms, station: Station) -> None:
    await csms.send_text('[2, "bad-1", "Reset"]')

    await csms.wait_for(lambda: any(f[0] == 4 and f[1] == "bad-1" for f in csms.frames))
    [error] = [f for f in csms.frames if f[0] == 4]
    assert error[2] == ("ProtocolError" if csms.version == "1.6" else "RpcFrameworkError")


async def test_remote_start_runs_a_session_until_remote_stop(
    csms: FakeCsms, station: Station
) -> None:
    if csms.version == "1.6":
        started = await csms.call("RemoteStartTransaction", {"idTag": "TAG-7", "connectorId": 2})
        [start] = await csms.wait_for_calls("StartTransaction")
        await csms.wait_for_calls("MeterValues", 2)
        stopped = await csms.call("RemoteStopTransaction", {"transactionId": 100})
        [stop] = await csms.wait_for_calls("StopTransaction")
        assert (start["connectorId"], start["idTag"], stop["reason"]) == (2, "TAG-7", "Remote")
        tx_actions = [a for a in csms.actions() if a in ("MeterValues", "StopTransaction")]
        assert tx_actions[-1] == "StopTransaction"
    else:
        token = {"idToken": "TAG-7", "type": "eMAID"}
        started = await csms.call(
            "RequestStartTransaction", {"idToken": token, "remoteStartId": 9, "evseId": 2}
        )
        await csms.wait_for_calls("TransactionEvent", 3)
        start = csms.calls("TransactionEvent")[0]
        transaction_id = start["transactionInfo"]["transactionId"]
        stopped = await csms.call("RequestStopTransaction", {"transactionId": transaction_id})
        await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended")
        end = csms.calls("TransactionEvent")[-1]
        assert (start["triggerReason"], start["idToken"]) == ("RemoteStart", token)
        assert start["transactionInfo"]["remoteStartId"] == 9
        assert (end["triggerReason"], end["transactionInfo"]["stoppedReason"]) == (
            "RemoteStop",
            "Remote",
        )
        seq = [e["seqNo"] for e in csms.calls("TransactionEvent")]
        assert seq == list(range(len(seq)))
    assert (started[2], stopped[2]) == ({"status": "Accepted"}, {"status": "Accepted"})
    available = {"status": "Available", "connectorStatus": "Available"}

    def last_status_available() -> bool:
        last = csms.calls("StatusNotification")[-1]
        return bool(available.items() & last.items())

    await csms.wait_for(last_status_available)
    assert station.state.connector_status[2] == "Available"
    assert not station.state.transactions


async def test_trigger_message_sends_after_answering(csms: FakeCsms, station: Station) -> None:
    answer = await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})

    await csms.wait_for_calls("Heartbeat")
    assert answer[2] == {"status": "Accepted"}
    assert csms.frames.index(answer) < csms.frames.index(
        next(f for f in csms.frames if f[0] == 2 and f[2] == "Heartbeat")
    )


async def test_v16_offline_queue_replays_with_transaction_ids() -> None:
    async with FakeCsms("1.6") as csms:
        st = make_station(csms)
        await st.connect()
        await st.boot()
        online = await st.start_transaction(1, "TAG-1", meter_start_wh=1000)
        assert online.transaction_id == 100

        await st.drop()
        assert not st.connected
        assert await st.send_meter_values(online) is None
        assert await st.stop_transaction(online) is None
        offline = await st.start_transaction(2, "TAG-2")
        await st.send_meter_values(offline, energy_wh=250)
        assert (offline.transaction_id, offline.start_response) == (None, None)
        assert st.pending_transaction_messages == 4

        await st.reconnect()
        await st.boot()  # auto_replay

        assert st.pending_transaction_messages == 0
        assert offline.transaction_id == 101
        assert [p["transactionId"] for p in csms.calls("MeterValues")] == [100, 101]
        assert csms.calls("StopTransaction")[0]["transactionId"] == 100
        assert csms.actions()[-4:] == [
            "MeterValues",
            "StopTransaction",
            "StartTransaction",
            "MeterValues",
        ]
        await st.disconnect()
    assert csms.violations == []


async def test_v201_offline_events_carry_the_offline_flag() -> None:
    async with FakeCsms("2.0.1") as csms:
        st = make_station(csms, auto_replay=False)
        await st.connect()
        await st.boot()
        tx = await st.start_transaction(1, "TAG-1")
        await st.drop()
        await st.send_meter_values(tx)
        await st.stop_transaction(tx, "EVDisconnected")

        await st.reconnect()
        await st.boot()
        assert st.pending_transaction_messages == 2
        replies = await st.flush_queue()

        events = csms.calls("TransactionEvent")
        assert len(replies) == 2 and st.pending_transaction_messages == 0
        assert [e.get("offline", False) for e in events] == [False, True, True]
        assert [e["seqNo"] for e in events] == [0, 1, 2]
        assert events[-1]["triggerReason"] == "EVCommunicationLost"
        await st.disconnect()
    assert csms.violations == []


async def test_connection_lost_during_a_call_queues_the_message(csms: FakeCsms) -> None:
    drops = 0

    async def drop_first(payload: dict[str, Any]) -> object:
        nonlocal drops
        drops += 1
        return DROP if drops == 1 else {"transactionId": 555, "idTagInfo": {"status": "Accepted"}}

    if csms.version == "1.6":
        csms.answers["StartTransaction"] = drop_first
    else:
        csms.answers["TransactionEvent"] = drop_first
    st = make_station(csms)
    await st.connect()
    await st.boot()

    tx = await st.start_transaction(1, "TAG-1")
    await st.wait_closed()

    assert tx.start_response is None and st.pending_transaction_messages == 1
    await st.reconnect()
    await st.boot()
    assert st.pending_transaction_messages == 0
    assert tx.start_response is not None
    assert len(csms.calls(TX_ACTION[csms.version])) == 2
    if csms.version == "1.6":
        assert tx.transaction_id == 555
    await st.disconnect()


async def test_replay_last_transaction_message(csms: FakeCsms, station: Station) -> None:
    await station.start_transaction(1, "TAG-1")
    action = TX_ACTION[csms.version]

    await station.replay_last_transaction_message(new_message_id=False)
    await station.replay_last_transaction_message()

    frames = [f for f in csms.frames if f[0] == 2 and f[2] == action]
    assert len(frames) == 3
    assert frames[0][3] == frames[1][3] == frames[2][3]
    assert frames[0][1] == frames[1][1] != frames[2][1]


async def test_send_raw_returns_the_next_frame(csms: FakeCsms, station: Station) -> None:
    answer = await station.send_raw('[2, "raw-1", "Heartbeat", {}]')
    garbage = await station.send_raw("not json")

    assert answer[:2] == [3, "raw-1"]
    assert garbage[:3] == [4, "-1", "RpcFrameworkError"]


async def test_wait_closed_reports_the_servers_close(csms: FakeCsms, station: Station) -> None:
    await csms.connections[-1].close(1008, "go away")

    assert await station.wait_closed() == (1008, "go away")
    assert not station.connected


async def test_disconnect_is_a_clean_close(csms: FakeCsms) -> None:
    st = make_station(csms)
    await st.connect()

    await st.disconnect()

    assert await st.wait_closed() == (1000, "")
    assert not st.connected
