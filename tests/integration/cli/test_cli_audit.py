"""`csms audit` and the audit entries of the CLI's own actions: who (``--actor`` or the OS
user, the OS user always in ``client``), what (the arguments, a password never), the exit
status and, for ``csms command``, the charger's answer."""

from __future__ import annotations

import getpass
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.integration.cli.tariff_helpers import published

pytestmark = pytest.mark.integration


async def entries(pool: asyncpg.Pool, action: str, target: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM audit_log WHERE action = $1 AND target = $2 ORDER BY id", action, target
    )
    return [dict(r) for r in rows]


async def test_user_changes_are_audited_with_the_actor_never_the_password(
    cli: Cli, cli_pool: asyncpg.Pool
) -> None:
    username = f"cli-audit-{secrets.token_hex(4)}"
    password = "cli-password-" + secrets.token_hex(8)
    status, _, err = await cli(
        "--actor", "alice", "user", "add", username, "--role", "monitor", "--password", password
    )
    assert status == 0, err
    (added,) = await entries(cli_pool, "cli.user.add", username)
    assert (added["source"], added["actor"], added["outcome"], added["status"]) == (
        "cli",
        "alice",
        "ok",
        0,
    )
    assert added["client"].startswith(f"cli:{getpass.getuser()}@")
    assert added["params"]["password"] == "[redacted]"
    assert added["params"]["role"] == "monitor"
    assert password not in orjson.dumps(added, default=str).decode()

    status, _, _ = await cli("user", "remove", username)
    assert status == 0
    status, _, _ = await cli("user", "remove", username)  # gone already: exit status 1
    assert status == 1
    removed, again = await entries(cli_pool, "cli.user.remove", username)
    assert removed["actor"] == getpass.getuser() and removed["outcome"] == "ok"
    assert (again["outcome"], again["status"]) == ("failed", 1)

    status, out, err = await cli("audit", "--actor", "alice", "--since", "1h", "--format", "json")
    assert status == 0, err
    found = orjson.loads(out)
    assert {e["actor"] for e in found} == {"alice"}
    assert any(e["action"] == "cli.user.add" and e["target"] == username for e in found)

    status, out, err = await cli("audit", "--actor", "alice", "--action", "cli.", "--since", "1h")
    assert status == 0, err
    assert "cli.user.add" in out and username in out and "alice" in out
    status, _, err = await cli("audit", "--since", "last tuesday")
    assert status == 2 and "--since" in err


async def test_commands_are_audited_with_the_chargers_answer(
    cli: Cli, cli_pool: asyncpg.Pool, online: Online, register_charger: RegisterCharger
) -> None:
    charge_point_id = await register_charger()
    async with online(charge_point_id, "1.6"):
        status, _, err = await cli(
            "--actor", "bob", "command", charge_point_id, "change_availability",
            "--connector_id", "1", "--operative", "false",
        )  # fmt: skip
        assert status == 0, err
    (sent,) = await entries(cli_pool, "cli.command", charge_point_id)
    assert sent["actor"] == "bob" and sent["outcome"] == "ok"
    assert sent["params"]["command_name"] == "change_availability"
    assert sent["result"] == {"action": "ChangeAvailability", "response": {"status": "Accepted"}}

    status, _, _ = await cli("command", charge_point_id, "reset", "--type", "soft")
    assert status == 1  # not connected any more
    _, failed = await entries(cli_pool, "cli.command", charge_point_id)
    assert failed["outcome"] == "failed" and failed["result"]["error"] == "not_connected"


async def test_tariff_changes_are_audited(cli: Cli, cli_pool: asyncpg.Pool, tmp_path: Path) -> None:
    tariff_id = await published(cli, tmp_path, "AUD")
    (entry,) = await entries(cli_pool, "cli.tariff.publish", tariff_id)
    assert entry["outcome"] == "ok" and entry["source"] == "cli"
    added = await cli_pool.fetch(
        "SELECT params FROM audit_log WHERE action = 'cli.tariff.add' ORDER BY id DESC LIMIT 1"
    )
    assert added and added[0]["params"]["file"].endswith("tariff.json")
