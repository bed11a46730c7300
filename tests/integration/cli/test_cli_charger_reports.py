"""`csms charger add/set` through the charger service (the same registration as the API),
and `csms charger config / availability / events`: what a charger reported, read back as an
operator does (docs/reference/cli.md, "Chargers")."""

from __future__ import annotations

import re

import asyncpg
import orjson
import pytest

from csms.passwords import verify_password
from csms.store import chargers
from tests.integration.cli.conftest import Cli, Online
from tests.integration.ocpp_client import eventually

pytestmark = pytest.mark.integration

T = "2026-01-01T10:00:00Z"


async def test_add_and_set_register_through_the_service(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    status, out, _ = await cli("charger", "add", "CLI-REG-1", "--ocpp-version", "2.0.1")
    assert status == 0
    password = re.search(r"shown once, only its hash is stored\): (\S+)", out)
    assert password is not None
    charger = await chargers.get_charger(cli_pool, "CLI-REG-1")
    assert charger is not None and charger.ocpp_version == "ocpp2.0.1"
    assert charger.password_hash and verify_password(charger.password_hash, password.group(1))
    # the same rules as the API: a bad id or password is a usage error, nothing stored
    assert (await cli("charger", "add", "bad id"))[0] == 2
    assert (await cli("charger", "add", "CLI-REG-2", "--password", "short"))[0] == 2
    assert await chargers.get_charger(cli_pool, "CLI-REG-2") is None
    assert (await cli("charger", "add", "CLI-REG-1"))[0] == 1  # exists already
    status, out, _ = await cli("charger", "set", "CLI-REG-1", "--ocpp-version", "any")
    assert (status, out.strip()) == (0, "charger CLI-REG-1 updated")
    charger = await chargers.get_charger(cli_pool, "CLI-REG-1")
    assert charger is not None and charger.ocpp_version is None
    assert (await cli("charger", "set", "CLI-REG-1"))[0] == 2  # nothing to change
    assert (await cli("charger", "set", "NOPE", "--description", "x"))[0] == 1


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_config_availability_and_events(cli: Cli, online: Online, version: str) -> None:
    status, _, _ = await cli("charger", "add", f"CLI-R-{version}", "--no-auth")
    assert status == 0
    cp = f"CLI-R-{version}"
    async with online(cp, version) as station:
        if version == "1.6":
            assert (await cli("command", cp, "get_configuration"))[0] == 0
            key = "HeartbeatInterval"
        else:
            report = ("command", cp, "get_base_report", "--report-base", "FullInventory")
            assert (await cli(*report))[0] == 0
            key = "OCPPCommCtrlr.HeartbeatInterval"

        async def listed() -> str | None:
            status, out, _ = await cli("charger", "config", cp, "--key", key)
            return out if status == 0 and key in out else None

        out = await eventually(listed)
        [row] = [line.split() for line in out.splitlines()[1:]]
        assert row[:2] == [key, "300"]
        status, out, _ = await cli("charger", "config", cp, "--json")
        assert status == 0 and any(v["key"] == key for v in orjson.loads(out))

        assert (await cli("command", cp, "change_availability", "--operative", "false"))[0] == 0
        status, out, _ = await cli("charger", "availability", cp)
        assert status == 0
        assert out.splitlines()[1].split()[:4] == ["0", "0", "False", "Accepted"]

        await station.call("SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": T})
        status, out, _ = await cli("charger", "events", cp, "--action", "SecurityEventNotification")
        assert status == 0
        [event] = out.splitlines()[1:]
        assert event.split()[-2:] == ["SecurityEventNotification", "FirmwareUpdated"]
        status, out, _ = await cli("charger", "events", cp, "--json", "--limit", "1")
        assert orjson.loads(out)[0]["payload"]["type"] == "FirmwareUpdated"
    assert (await cli("charger", "config", "NOPE"))[0] == 1
