"""`csms command` to many chargers, run as an operator runs it (docs/reference/cli.md,
"Many chargers"): a list or a filter, one row per charger, a summary, and exit status 0 only
if every charger answered."""

from __future__ import annotations

import re

import orjson
import pytest

from tests.integration.cli.conftest import Cli, Online, RegisterCharger

pytestmark = pytest.mark.integration


def rows(out: str) -> list[list[str]]:
    """The table's rows (without its header and the summary line)."""
    lines = out.splitlines()
    assert lines[0].split() == ["charger", "outcome", "detail"], out
    return [re.split(r"\s{2,}", line.strip(), maxsplit=2) for line in lines[1:-1]]


def summary(out: str) -> str:
    return out.splitlines()[-1]


async def test_a_list_with_one_charger_not_connected(
    cli: Cli, online: Online, register_charger: RegisterCharger
) -> None:
    a, b, c = [await register_charger() for _ in range(3)]
    async with online(a, "1.6") as station_a, online(b, "2.0.1") as station_b:
        status, out, err = await cli("command", f"{a},{b},{c}", "clear_cache")
        assert status == 1, err
        assert rows(out) == [
            [a, "ok", "Accepted"],
            [b, "ok", "Accepted"],
            [c, "not_connected", f"{c} is not connected"],
        ]
        assert summary(out) == "3 chargers: 2 ok, 1 not_connected"
        assert station_a.received_actions() == station_b.received_actions() == ["ClearCache"]

        # --charger, repeated; every charger answered: exit status 0
        status, out, err = await cli(
            "command", "get_local_list_version", "--charger", b, "--charger", a
        )
        assert status == 0, err
        assert rows(out) == [[b, "ok", '{"versionNumber":0}'], [a, "ok", '{"listVersion":0}']]
        assert summary(out) == "2 chargers: 2 ok"

        # the original form still prints the answer as JSON
        status, out, err = await cli("command", a, "clear_cache")
        assert status == 0, err
        assert orjson.loads(out)["response"] == {"status": "Accepted"}
        assert out.startswith('{\n  "action": "ClearCache",')
        status, out, err = await cli("command", c, "clear_cache")
        assert (status, out) == (1, "")
        assert f"csms: not_connected: {c} is not connected" in err


async def test_filters_select_among_registered_chargers(
    cli: Cli, online: Online, register_charger: RegisterCharger
) -> None:
    a, b, c, d = sorted([await register_charger() for _ in range(4)])
    async with (
        online(a, "1.6", vendor="Acme", model="AC-22", firmware_version="1.2.3") as station_a,
        online(b, "2.0.1", vendor="Acme", model="DC-50", firmware_version="2.0.0"),
        online(c, "1.6", vendor="Other", model="AC-11", firmware_version="1.2.3") as station_c,
    ):  # d: registered, never connected

        async def selected(*flags: str) -> tuple[int, list[str]]:
            status, out, err = await cli("command", "get_local_list_version", *flags)
            assert status in (0, 1), err
            return status, [row[0] for row in rows(out)]

        status, out, err = await cli("command", "--all", "clear_cache", "--concurrency", "2")
        assert status == 1, err
        assert [row[:2] for row in rows(out)] == [
            [a, "ok"],
            [b, "ok"],
            [c, "ok"],
            [d, "not_connected"],
        ]
        assert summary(out) == "4 chargers: 3 ok, 1 not_connected"
        assert await selected("--connected") == (0, [a, b, c])
        assert await selected("--protocol", "2.0.1") == (0, [b])
        assert await selected("--protocol", "1.6", "--vendor", "Acme") == (0, [a])
        assert await selected("--model", "AC-*") == (0, [a, c])
        assert await selected("--firmware", "1.2.3", "--connected") == (0, [a, c])
        assert await selected("--vendor", "Acme", "--firmware", "2.*") == (0, [b])

        # a filter and a param that starts like it: --vendor-id is the command's
        status, out, err = await cli(
            "command", "data_transfer", "--protocol", "1.6", "--vendor-id", "SimVendor",
            "--data", '{"n": 1}',
        )  # fmt: skip
        assert status == 0, err
        assert [row[:2] for row in rows(out)] == [[a, "ok"], [c, "ok"]]
        for station in (station_a, station_c):
            assert station.received[-1].action == "DataTransfer"
            # (1.6 carries data as text)
            assert station.received[-1].payload == {"vendorId": "SimVendor", "data": '{"n":1}'}

        status, out, err = await cli("command", "clear_cache", "--vendor", "Nobody")
        assert (status, out) == (1, "")
        assert "no registered charger matches" in err
        status, out, err = await cli("command", a, "clear_cache", "--connected")
        assert status == 2 and "not both" in err
