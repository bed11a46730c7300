"""``csms alarms [--watch]``, ``csms alarm ack|clear ID --note`` (docs/topics/alarms.md):
a simulated 2.0.1 station faults on a real node; the CLI lists the alarm, follows the live
stream, acknowledges and clears it as ``cli:<user>``."""

from __future__ import annotations

import asyncio
import os
import sys

import orjson
import pytest

from tests.integration.cli.conftest import PROJECT_ROOT, Cli, Online, RegisterCharger
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


async def test_list_watch_ack_and_clear(
    cli: Cli,
    online: Online,
    register_charger: RegisterCharger,
    cli_database_url: str,
    redis_url: str,
    prefix: str,
) -> None:
    cp = await register_charger()
    async with online(cp, "2.0.1") as station:
        await station.status_notification(1, "Faulted")  # decided before the answer
        status, out, err = await cli("alarms", "--charger", cp)
        assert status == 0, err
        assert "connector_faulted" in out and cp in out and "raised" in out
        status, out, err = await cli("alarms", "--charger", cp, "--json")
        (alarm,) = orjson.loads(out)
        alarm_id = alarm["id"]
        assert (alarm["state"], alarm["subject"]) == ("raised", "1/1")

        env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
        env.update(
            CSMS_DATABASE_URL=cli_database_url,
            CSMS_REDIS_URL=redis_url,
            CSMS_REDIS_PREFIX=prefix,
            CSMS_ENV="dev",
        )
        watch = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "csms.cli", "alarms", "--watch", "--charger", cp,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=env, cwd=PROJECT_ROOT,
        )  # fmt: skip
        assert watch.stdout is not None
        try:
            async with asyncio.timeout(TIMEOUT):
                while b"following alarm events" not in await watch.stdout.readline():
                    pass
            status, out, err = await cli("alarm", "ack", str(alarm_id), "--note", "on my way")
            assert status == 0, err
            assert f"alarm {alarm_id} acknowledged by cli:" in out
            async with asyncio.timeout(TIMEOUT):
                line = b""
                while b"alarm.acknowledged" not in line:
                    line = await watch.stdout.readline()
            text = line.decode()
            assert f"#{alarm_id}" in text and cp in text and "by cli:" in text
            # the charger recovers: cleared automatically, followed live as well
            await station.status_notification(1, "Available")
            async with asyncio.timeout(TIMEOUT):
                while b"alarm.cleared" not in line:
                    line = await watch.stdout.readline()
        finally:
            watch.kill()
            await watch.wait()

    status, _, err = await cli("alarm", "ack", str(alarm_id), "--note", "again")
    assert status == 1 and "is cleared" in err
    status, _, err = await cli("alarm", "clear", str(alarm_id), "--note", "again")
    assert status == 1 and "is cleared" in err
    status, out, _ = await cli("alarms", "--charger", cp, "--state", "cleared", "--json")
    (cleared,) = orjson.loads(out)
    assert cleared["acknowledged_by"].startswith("cli:") and cleared["ack_note"] == "on my way"
    assert cleared["cleared_by"] is None  # automatic
    assert (await cli("alarms", "--severity", "apocalyptic"))[0] == 2
    assert (await cli("alarm", "ack", str(2**62), "--note", "x"))[0] == 1


async def test_clear_by_hand_from_the_cli(
    cli: Cli, online: Online, register_charger: RegisterCharger
) -> None:
    cp = await register_charger()
    async with online(cp, "1.6") as station:
        await station.status_notification(2, "Available", "HighTemperature")
        _, out, _ = await cli("alarms", "--charger", cp, "--json")
        (alarm,) = orjson.loads(out)
        assert alarm["type"] == "connector_faulted" and alarm["subject"] == "0/2"
        status, out, err = await cli("alarm", "clear", str(alarm["id"]), "--note", "cooled")
        assert status == 0, err
        _, out, _ = await cli("alarms", "--charger", cp, "--all", "--json")
        (cleared,) = orjson.loads(out)
        assert cleared["cleared_by"].startswith("cli:") and cleared["clear_note"] == "cooled"
