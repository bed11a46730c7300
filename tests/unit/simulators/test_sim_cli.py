"""The csms-sim command line."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from typing import Any

import pytest
from sim_fake_csms import FakeCsms

from simulators.cli import build_parser, describe, main
from simulators.errors import CallError, ConnectionLostError, ScenarioError
from simulators.scenarios import run_idle
from simulators.station import Station, StationConfig


def run_args(url: str, *extra: str) -> list[str]:
    return ["run", "--url", url, "--id", "CP-1", *extra]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["run", "--id", "CP-1"],
        ["run", "--url", "ws://x"],
        run_args("ws://x", "--version", "1.5"),
        run_args("ws://x", "--scenario", "teleport"),
        run_args("ws://x", "--meter-values", "-1"),
        run_args("ws://x", "--meter-interval", "0"),
        run_args("ws://x", "--connectors", "0"),
        run_args("ws://x", "--currency", "euro"),
        run_args("ws://x", "--fail-download", "150%"),
        run_args("ws://x", "--fail-install", "often"),
        ["fleet", "--url", "ws://x", "--chargers", "2", "--fail-install", "-1%"],
    ],
)
def test_argument_errors_exit_with_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)

    assert raised.value.code == 2
    assert "usage: csms-sim" in capsys.readouterr().err


def test_firmware_failure_injection() -> None:
    args = build_parser().parse_args(
        run_args("ws://x", "--fail-download", "5%", "--fail-install", "2", "--bad-signature")
    )
    assert (args.fail_download, args.fail_install, args.bad_signature) == (0.05, 0.02, True)
    fleet = build_parser().parse_args(
        ["fleet", "--url", "ws://x", "--chargers", "2", "--fail-download", "100%"]
    )
    assert (fleet.fail_download, fleet.fail_install, fleet.bad_signature) == (1.0, 0.0, False)


def test_defaults() -> None:
    args = build_parser().parse_args(run_args("ws://x"))

    assert (args.version, args.scenario, args.meter_values, args.id_token) == (
        "1.6",
        "session",
        3,
        "TAG-1",
    )


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_boot_scenario_with_password_from_env(
    version: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSMS_SIM_PASSWORD", "s3cr3t")
    async with FakeCsms(version, password="s3cr3t") as csms:
        argv = run_args(csms.url, "--version", version, "--scenario", "boot")
        status = await asyncio.to_thread(main, argv)

    out = capsys.readouterr()
    assert status == 0, out.err
    summary = json.loads(out.out)
    assert (summary["charge_point_id"], summary["boot_status"]) == ("CP-1", "Accepted")
    assert csms.actions() == ["BootNotification", "Heartbeat"]


async def test_session_scenario_verbose_never_logs_the_password(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="simulators.wire")  # restored after the test
    async with FakeCsms("2.0.1", password="s3cr3t") as csms:
        argv = run_args(csms.url, "--version", "2.0.1", "--password", "s3cr3t", "--verbose")
        status = await asyncio.to_thread(main, [*argv, "--meter-interval", "0.001"])

    out = capsys.readouterr()
    assert status == 0, out.err
    assert json.loads(out.out)["meter_values_sent"] == 3
    # the fake CSMS's server logs the headers it receives: only our records count
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("simulators"))
    assert "TransactionEvent" in ours  # frames are logged...
    token = base64.b64encode(b"CP-1:s3cr3t").decode()
    for secret in ("s3cr3t", token):  # ...but never the password
        assert secret not in ours + out.err


async def test_display_cost_prints_what_the_display_shows(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    async def transaction_event(payload: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {"totalCost": 3.5 if payload["eventType"] == "Ended" else 1.25}
        if "idToken" in payload:
            answer["idTokenInfo"] = {"status": "Accepted"}
        return answer

    async with FakeCsms("2.0.1") as csms:
        csms.answers["TransactionEvent"] = transaction_event
        argv = run_args(csms.url, "--version", "2.0.1", "--display-cost", "--currency", "USD")
        status = await asyncio.to_thread(main, [*argv, "--meter-interval", "0.001"])

    out = capsys.readouterr()
    assert status == 0, out.err
    summary = json.loads(out.out)
    assert summary["display"] == {
        "price_text": "Ask the operator for the price",  # TariffFallbackMessage (I04)
        "running_cost": "1.25",
        "final_cost": "3.5",
    }
    shown = [r.getMessage() for r in caplog.records if r.name == "simulators.display"]
    transaction_id = summary["transaction_id"]
    assert shown[0] == "[CP-1] display: tariff for TAG-1: Ask the operator for the price"
    assert shown[-1] == f"[CP-1] display: transaction {transaction_id}: total 3.5 USD"


@pytest.mark.parametrize(
    ("csms_kwargs", "extra", "message"),
    [
        ({"password": "right"}, ["--password", "wrong"], "HTTP 401: check --password"),
        ({"select_subprotocol": False}, [], "no subprotocol accepted"),
    ],
)
async def test_failures_print_one_line(
    csms_kwargs: dict[str, Any],
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with FakeCsms("1.6", **csms_kwargs) as csms:
        status = await asyncio.to_thread(main, run_args(csms.url, "--scenario", "boot", *extra))

    err = capsys.readouterr().err
    assert status == 1
    assert err == f"csms-sim: error: {message}\n"


async def test_unreachable_csms(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    status = await asyncio.to_thread(main, run_args(f"ws://127.0.0.1:{port}/ocpp"))

    assert status == 1
    assert capsys.readouterr().err.startswith("csms-sim: error: cannot connect")


def test_describe() -> None:
    assert describe(CallError("SecurityError", "no")) == "CSMS answered CALLERROR SecurityError: no"
    assert describe(ConnectionLostError()) == "connection closed by the CSMS"
    assert describe(TimeoutError()) == "timed out waiting for the CSMS"
    assert describe(ScenarioError("boot refused")) == "boot refused"


async def test_idle_scenario_stops_when_asked_and_fails_when_closed() -> None:
    async with FakeCsms("1.6") as csms:
        config = StationConfig(url=csms.url, charge_point_id="CP-1")
        stop = asyncio.Event()
        stop.set()
        assert (await run_idle(Station(config), stop))["heartbeats"] == 0

        idle = asyncio.create_task(run_idle(Station(config), asyncio.Event()))
        await csms.wait_connected(2)
        await csms.wait_for_calls("BootNotification", 2)
        await csms.call("ClearCache", {})  # a round trip: the boot answer has arrived
        await csms.connections[-1].close(1001, "shutting down")
        with pytest.raises(ScenarioError, match="code 1001, shutting down"):
            await idle
