"""`csms user add/list/remove` and `csms backoffice` argument handling, on the test database."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from csms import cli
from csms.cli import platform
from tests.integration.backoffice.conftest import login


async def run(argv: list[str]) -> int:
    args = cli.build_parser().parse_args(argv)
    result: int = await args.func(args)
    return result


async def test_user_commands(
    client: httpx.AsyncClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CSMS_DATABASE_URL", database_url)
    name = f"cli-{secrets.token_hex(4)}"
    assert await run(["user", "add", name, "--role", "operator"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"generated password \(shown once.*\): (\S+)", out)
    assert match is not None
    assert (await login(client, name, match.group(1))).status_code == 200

    monkeypatch.setenv("CSMS_USER_PASSWORD", "from-the-environment")
    assert await run(["user", "add", f"{name}-env", "--role", "driver"]) == 0
    assert "from-the-environment" not in capsys.readouterr().out
    assert (await login(client, f"{name}-env", "from-the-environment")).status_code == 200

    assert await run(["user", "add", "bad name", "--role", "driver"]) == 2
    assert await run(["user", "add", f"{name}-x", "--role", "driver", "--password", "short"]) == 2
    capsys.readouterr()
    assert await run(["user", "list"]) == 0
    listing = capsys.readouterr().out
    assert name in listing and "argon2" not in listing
    assert await run(["user", "remove", name]) == 0
    assert await run(["user", "remove", name]) == 1
    assert (await login(client, name, match.group(1))).status_code == 401


def test_backoffice_command_line() -> None:
    args = cli.build_parser().parse_args(["backoffice", "--host", "0.0.0.0", "--port", "8100"])
    assert (args.host, args.port, args.migrate) == ("0.0.0.0", 8100, False)
    server = platform.backoffice_server("127.0.0.1", 0, "127.0.0.1")
    assert server.config.factory is True
    assert server.config.app == platform.BACKOFFICE_FACTORY
