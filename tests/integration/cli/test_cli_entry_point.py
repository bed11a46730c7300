"""The ``csms`` entry point (pyproject.toml ``csms = "csms.cli:main"``) and
``python -m csms.cli`` are the same command."""

from __future__ import annotations

from importlib.metadata import entry_points

import orjson
import pytest

import csms.cli
from tests.integration.cli.conftest import CSMS, Cli, Online, RegisterCharger

pytestmark = pytest.mark.integration

SUBCOMMANDS = (
    "up node migrate worker charger token transactions transaction nodes command journal "
    "backoffice user site tariff config firmware cdr account review billing invoice payment ca "
    "alarms alarm audit"
).split()


def test_the_console_script_is_csms_cli_main() -> None:
    (script,) = entry_points(group="console_scripts", name="csms")
    assert script.value == "csms.cli:main"
    assert script.load() is csms.cli.main


async def test_csms_and_python_m_csms_cli(
    cli: Cli, online: Online, register_charger: RegisterCharger
) -> None:
    assert CSMS.exists(), f"{CSMS}: the project is not installed in this environment"
    status, script_help, err = await cli("--help", executable=CSMS)
    assert status == 0, err
    assert "{" + ",".join(SUBCOMMANDS) + "}" in script_help
    assert await cli("--help") == (0, script_help, "")

    charge_point_id = await register_charger()
    async with online(charge_point_id, "2.0.1"):
        status, out, err = await cli("command", charge_point_id, "clear_cache", executable=CSMS)
        assert status == 0, err
        assert orjson.loads(out)["response"] == {"status": "Accepted"}
    status, out, err = await cli("charger", "list", executable=CSMS)
    assert status == 0, err
    assert out.split()[:8] == [
        "charge_point_id",
        "auth",
        "boot",
        "status",
        "connected",
        "vendor",
        "model",
        "last_seen_at",
    ]
    assert charge_point_id in out
    assert await cli("frobnicate", executable=CSMS) == (2, "", await _usage_error(cli))


async def _usage_error(cli: Cli) -> str:
    status, _, err = await cli("frobnicate")
    assert status == 2
    return err
