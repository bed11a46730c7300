"""``csms config`` and ``csms charger logs`` as an operator runs them: a process of its own,
a simulated charger over a real WebSocket, a node and a ``csms worker`` of the same cluster,
and (for uploads) a backoffice serving the upload URL.

OCPP: 1.6 ChangeConfiguration / GetConfiguration, GetDiagnostics; 2.0.1 B05 SetVariables,
B07 GetBaseReport, N01 GetLog.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from csms.settings import BackofficeSettings, WorkerSettings
from csms.worker.runtime import Worker, running_worker
from tests.integration.backoffice.conftest import JWT_SECRET, serving
from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.timeouts import TIMEOUT

PROFILE_YAML = """\
id: {id}
ocpp_version: "1.6"
description: heartbeat of the test fleet
selector:
  chargers: [{cp}]
settings:
  HeartbeatInterval: 120
  MeterValueSampleInterval: "30"
"""


@pytest.fixture
async def worker(cli_database_url: str, redis_url: str, prefix: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(
        redis_prefix=prefix, job_poll_interval=0.2, job_retry_delay=0.1,
        config_command_timeout=TIMEOUT,
    )  # fmt: skip
    async with running_worker(settings, cli_database_url, redis_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


async def test_a_profile_from_a_yaml_file_applied_and_its_drift_gone(
    cli: Cli, online: Online, register_charger: RegisterCharger, worker: Worker, tmp_path: Path
) -> None:
    cp = await register_charger()
    profile_id = f"cli-{secrets.token_hex(3)}"
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE_YAML.format(id=profile_id, cp=cp), encoding="utf-8")
    async with online(cp, "1.6") as station:
        status, out, err = await cli("config", "profile", "add", "--file", str(path))
        assert status == 0, err
        assert f"profile {profile_id} added (1.6, priority 0, 2 settings)" in out
        assert "it selects 1 chargers" in out

        status, out, err = await cli("config", "refresh", cp)
        assert status == 0, err
        assert f"{cp}: " in out and "configuration keys read" in out

        status, out, _ = await cli("config", "drift", "--charger", cp)
        assert "HeartbeatInterval" in out and "drift" in out
        assert out.strip().endswith("1 chargers, 1 not in sync: 2 drift")

        status, out, _ = await cli("config", "apply", profile_id, "--dry-run")
        assert status == 0 and "dry run: 1 chargers, nothing sent" in out
        assert station.state.configuration["HeartbeatInterval"] == "300"

        status, out, err = await cli("config", "apply", profile_id, "--wait", str(TIMEOUT))
        assert status == 0, err
        assert "Accepted" in out and "(done)" in out and "Accepted=2" in out
        assert station.state.configuration["HeartbeatInterval"] == "120"

        status, out, _ = await cli("config", "drift", "--charger", cp)
        assert out.strip().endswith("1 chargers, 0 not in sync: 2 in_sync")

        status, out, _ = await cli("config", "history", cp, "--json")
        [change] = [h for h in orjson.loads(out) if h["setting"] == "HeartbeatInterval"]
        assert (change["old_value"], change["new_value"], change["source"]) == (
            "300",
            "120",
            "applied",
        )
        assert change["changed_by"].startswith("cli") and profile_id in change["changed_by"]

        status, out, err = await cli(
            "config", "profile", "update", profile_id, "--set", "ConnectionTimeOut=90",
            "--priority", "5", "--unset", "MeterValueSampleInterval",
        )  # fmt: skip
        assert status == 0, err
        status, out, _ = await cli("config", "profile", "show", profile_id, "--json")
        shown = orjson.loads(out)
        assert shown["priority"] == 5 and shown["chargers"] == [cp]
        assert {s["key"] for s in shown["settings"]} == {"HeartbeatInterval", "ConnectionTimeOut"}

        status, out, _ = await cli("config", "applies", "--profile", profile_id)
        assert status == 0 and profile_id in out and "Accepted=2" in out
    status, out, _ = await cli("config", "profile", "remove", profile_id)
    assert status == 0
    status, out, err = await cli("config", "profile", "show", profile_id)
    assert status == 1 and "not found" in err


async def test_profile_flags_and_refusals(cli: Cli, register_charger: RegisterCharger) -> None:
    profile_id = f"cli-{secrets.token_hex(3)}"
    status, _, err = await cli(
        "config", "profile", "add", "--id", profile_id, "--ocpp-version", "2.0.1",
        "--set", "HeartbeatInterval=60",
    )  # fmt: skip
    assert status == 2 and "a 1.6 key belongs in a 1.6 profile" in err
    status, _, err = await cli(
        "config", "profile", "add", "--id", profile_id, "--ocpp-version", "1.6",
        "--set", "OCPPCommCtrlr.HeartbeatInterval=60",
    )  # fmt: skip
    assert status == 2 and "is a 2.0.1 Component.Variable" in err
    status, out, err = await cli(
        "config", "profile", "add", "--id", profile_id, "--ocpp-version", "2.0.1",
        "--set", "OCPPCommCtrlr.HeartbeatInterval=60", "--set", "EVSE@1.Power=11000",
        "--model", "SimModel", "--priority", "3", "--reapply-on-boot",
    )  # fmt: skip
    assert status == 0, err
    status, out, _ = await cli("config", "profile", "list")
    [row] = [line for line in out.splitlines() if line.startswith(profile_id)]
    assert row.split()[1:6] == ["2.0.1", "3", "2", "0", "yes"]
    status, _, err = await cli("config", "apply", profile_id)
    assert status == 2 and "selects no registered 2.0.1 charger" in err
    status, _, err = await cli("config", "profile", "update", profile_id, "--unset", "A.B")
    assert status == 2 and "the profile has no A.B" in err
    status, _, err = await cli("config", "profile", "add", "--file", "/nonexistent.yaml")
    assert status == 2 and "/nonexistent.yaml" in err


async def test_logs_requested_uploaded_listed_and_downloaded(
    cli: Cli,
    online: Online,
    register_charger: RegisterCharger,
    cli_database_url: str,
    redis_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    settings = BackofficeSettings(
        database_url=cli_database_url, redis_url=redis_url, redis_prefix=prefix,
        jwt_secret=JWT_SECRET, db_pool_min=1, db_pool_max=2,
    )  # fmt: skip
    cp = await register_charger()
    async with serving(settings) as backoffice, online(cp, "2.0.1") as station:
        env = {"CSMS_LOG_UPLOAD_BASE_URL": backoffice.url}
        status, out, err = await cli(
            "charger", "logs", "request", cp, "--type", "security", "--wait", str(TIMEOUT),
            extra_env=env,
        )  # fmt: skip
        assert status == 0, err
        assert "Uploaded" in out and "SecurityLog-" in out
        [upload] = station.state.uploads
        assert upload.location.startswith(backoffice.url + "/uploads/logs/")

        status, out, _ = await cli("charger", "logs", "list", cp, "--json")
        [listed] = orjson.loads(out)
        assert (listed["status"], listed["action"], listed["log_type"]) == (
            "Uploaded",
            "GetLog",
            "security",
        )
        target = tmp_path / "security.log"
        status, out, err = await cli(
            "charger", "logs", "download", cp, str(listed["id"]), "-o", str(target)
        )
        assert status == 0, err
        assert target.read_bytes() == upload.content
        assert f"{len(upload.content)} bytes" in out
    status, _, err = await cli("charger", "logs", "request", cp)
    assert status == 1 and "not connected" in err
