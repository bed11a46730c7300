"""`csms journal` run as an operator runs it: the frames as they were sent (text, a
password being set masked by the node), filtered by action and by text, rows from before
migration 0015_journal (jsonb payloads) shown too. docs/reference/cli.md, "Sessions and journal"."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.store import journal
from tests.integration.cli.conftest import Cli

pytestmark = pytest.mark.integration


async def test_frames_filtered_by_action_and_text(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    cp = f"CLI-{secrets.token_hex(4)}"
    at = datetime.now(UTC) - timedelta(minutes=5)
    boot = '[2, "b-1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "X"}]'
    frames = [
        ("in", 2, "b-1", "BootNotification", boot),
        ("out", 3, "b-1", "BootNotification", '[3,"b-1",{"status":"Accepted","interval":60}]'),
        ("in", 2, "d-1", "DataTransfer", '[2,"d-1","DataTransfer",{"vendorId":"a_b 100%"}]'),
        ("out", 3, "d-1", "DataTransfer", '[3,"d-1",{"status":"Accepted"}]'),
    ]
    await journal.insert_rows(
        cli_pool,
        [(cp, at + timedelta(seconds=n), *frame) for n, frame in enumerate(frames)],
    )
    # a row written before frames were text: a jsonb payload and no frame
    await cli_pool.execute(
        """INSERT INTO charger_messages (charge_point_id, at, direction, message_type,
           message_id, action, payload) VALUES ($1, $2, 'in', 2, 'h-0', 'Heartbeat', '{}')""",
        cp,
        at - timedelta(seconds=1),
    )

    status, out, err = await cli("journal", cp)
    assert status == 0, err
    lines = out.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        '[2,"h-0","Heartbeat",{}]',
        *(f"{frame[-1]}" for frame in frames),
    ]
    assert [line.split(" ")[1] for line in lines] == ["->", "->", "<-", "->", "<-"]

    status, out, err = await cli("journal", cp, "--action", "BootNotification")
    assert status == 0, err
    assert [line.split(" ", 2)[2] for line in out.splitlines()] == [boot, frames[1][-1]]

    status, out, err = await cli("journal", cp, "--containing", "ACME")
    assert status == 0, err
    assert [line.split(" ", 2)[2] for line in out.splitlines()] == [boot]

    # LIKE's wildcards are plain characters: "a_b 100%" matches itself, not "accepted"
    status, out, err = await cli("journal", cp, "--containing", "_b 100%")
    assert status == 0, err
    assert [line.split(" ", 2)[2] for line in out.splitlines()] == [frames[2][-1]]
    status, out, err = await cli("journal", cp, "--containing", "100%x")
    assert status == 0 and out == "", err

    status, out, err = await cli("journal", cp, "--limit", "2")
    assert status == 0, err
    assert [line.split(" ", 2)[2] for line in out.splitlines()] == [
        frames[2][-1],
        frames[3][-1],
    ]
