"""Basic-auth password rotation end to end: REST with a real JWT, the command bus, a node,
simulated stations of both versions over real WebSockets, PostgreSQL.

2.0.1 A01 (SetVariables SecurityCtrlr.BasicAuthPassword; A01.FR.04: a refused change keeps
the old password; A01.FR.08/09: only salted hashes, never in clear in logs or records) and
the 1.6 security whitepaper's A01 (ChangeConfiguration AuthorizationKey, hexadecimal,
A00.FR.205). Deliberately, the old password stays valid until the charger has connected with
the new one (never locked out; docs/topics/certificates.md).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging

import asyncpg
import httpx
import pytest
from websockets.exceptions import InvalidStatus

from csms.domain.clock import utc_now
from csms.node.server import Node
from csms.passwords import hash_password, verify_password
from csms.store import certificates as certificate_rows
from simulators.station import Station
from tests.integration.backoffice.conftest import Account
from tests.integration.certificates.conftest import NewCharger, online, station
from tests.integration.conftest import PASSWORD
from tests.integration.ocpp_client import eventually

PASSWORD_FRAMES = ("ChangeConfiguration", "SetVariables")


async def refused(sim: Station) -> int:
    with pytest.raises(InvalidStatus) as info:
        await sim.connect()
    return info.value.response.status_code


async def stored_hash(pool: asyncpg.Pool, charge_point_id: str) -> str:
    value: str = await pool.fetchval(
        "SELECT password_hash FROM chargers WHERE charge_point_id = $1", charge_point_id
    )
    return value


async def rotation_events(pool: asyncpg.Pool, charge_point_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT kind FROM charger_events WHERE charge_point_id = $1 "
        "AND action = 'PasswordRotation' ORDER BY id",
        charge_point_id,
    )
    return [r["kind"] for r in rows]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a01_rotation_then_reconnect_with_the_new_password(
    version: str,
    ca_node: Node,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    charge_point_id = await new_charger()
    sim = await online(ca_node, charge_point_id, version)
    try:
        with caplog.at_level(logging.DEBUG):
            response = await client.post(
                f"/api/v1/chargers/{charge_point_id}/password/rotate",
                headers=accounts["operator"].headers,
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "accepted"

            async def back_with_the_new_one() -> bool:
                return sim.config.password != PASSWORD and sim.connected

            await eventually(back_with_the_new_one)
            new_password = sim.config.password
            assert new_password is not None

            async def promoted() -> bool:
                rotation = await certificate_rows.get_rotation(pool, charge_point_id)
                return rotation is None and "confirmed" in await rotation_events(
                    pool, charge_point_id
                )

            await eventually(promoted)
        # whitepaper A00.FR.205: 40 hexadecimal digits (20 random bytes)
        assert len(new_password) == 40 and int(new_password, 16) >= 0
        assert verify_password(await stored_hash(pool, charge_point_id), new_password)
        assert await rotation_events(pool, charge_point_id) == ["accepted", "confirmed"]
        assert "currentTime" in await sim.heartbeat()  # the new connection serves

        # the old password is refused from now on; the new one works on a new connection
        old = station(ca_node, charge_point_id, version)
        assert await refused(old) == 401
        again = station(ca_node, charge_point_id, version, password=new_password)
        await again.connect()
        await again.disconnect()

        # A01.FR.09: the password is in no log line, journal row, event or API answer

        async def journaled() -> list[asyncpg.Record]:
            rows = await pool.fetch(
                "SELECT action, frame AS text FROM charger_messages WHERE charge_point_id = $1",
                charge_point_id,
            )  # written in batches, in the background
            return rows if any(r["action"] in PASSWORD_FRAMES for r in rows) else []

        journal = await eventually(journaled)
        sent = [r["text"] for r in journal if r["action"] in PASSWORD_FRAMES]
        assert sent and all("***" in text for text in sent)
        events = await client.get(
            f"/api/v1/chargers/{charge_point_id}/events", headers=accounts["operator"].headers
        )
        configuration = await client.get(
            f"/api/v1/chargers/{charge_point_id}/configuration",
            headers=accounts["operator"].headers,
        )
        places = [
            response.text,
            events.text,
            configuration.text,
            *(r["text"] for r in journal),
            *(r.getMessage() for r in caplog.records),
        ]
        credentials = base64.b64encode(f"{charge_point_id}:{new_password}".encode()).decode()
        assert [p for p in places if new_password in p or credentials in p] == []
    finally:
        await sim.disconnect()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a01_fr_04_a_refused_change_keeps_the_old_password(
    version: str,
    ca_node: Node,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    pool: asyncpg.Pool,
) -> None:
    charge_point_id = await new_charger()
    before = await stored_hash(pool, charge_point_id)
    sim = await online(ca_node, charge_point_id, version, refuse_password_change=True)
    try:
        response = await client.post(
            f"/api/v1/chargers/{charge_point_id}/password/rotate",
            headers=accounts["operator"].headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "rejected"
        assert await certificate_rows.get_rotation(pool, charge_point_id) is None
        assert await stored_hash(pool, charge_point_id) == before
        assert await rotation_events(pool, charge_point_id) == ["rejected"]
        # it keeps working with its old password, on this connection and the next
        assert "currentTime" in await sim.heartbeat()
        await sim.disconnect()
        await sim.connect()
        assert sim.connected
    finally:
        await sim.disconnect()


async def test_both_passwords_until_the_new_one_is_used(
    node: Node, new_charger: NewCharger, pool: asyncpg.Pool
) -> None:
    """While a rotation is under way (the charger has the new password, or may have it),
    the node takes either password; the first connection with the new one ends the old."""
    charge_point_id = await new_charger()
    new_password = "0123456789abcdef0123456789abcdef01234567"
    new_hash = await asyncio.to_thread(hash_password, new_password)
    await certificate_rows.begin_rotation(pool, charge_point_id, new_hash, at=utc_now())

    old_connection = station(node, charge_point_id, "2.0.1")
    await old_connection.connect()  # the old one, still valid
    await old_connection.disconnect()
    assert await certificate_rows.get_rotation(pool, charge_point_id) is not None

    new_connection = station(node, charge_point_id, "2.0.1", password=new_password)
    await new_connection.connect()  # the new one: it becomes the only one
    await new_connection.disconnect()
    assert await certificate_rows.get_rotation(pool, charge_point_id) is None
    assert await stored_hash(pool, charge_point_id) == new_hash

    assert await refused(station(node, charge_point_id, "2.0.1")) == 401
    wrong = dataclasses.replace(
        station(node, charge_point_id, "2.0.1").config, password="not-the-password-at-all"
    )
    assert await refused(Station(wrong)) == 401


async def test_rotation_of_an_offline_or_unauthenticated_charger(
    ca_node: Node,
    new_charger: NewCharger,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    pool: asyncpg.Pool,
) -> None:
    headers = accounts["operator"].headers
    offline = await new_charger()
    response = await client.post(f"/api/v1/chargers/{offline}/password/rotate", headers=headers)
    assert response.status_code == 409, response.text
    assert await certificate_rows.get_rotation(pool, offline) is None

    no_auth = await new_charger()
    await pool.execute(
        "UPDATE chargers SET password_hash = NULL, auth_mode = 'none' WHERE charge_point_id = $1",
        no_auth,
    )
    response = await client.post(f"/api/v1/chargers/{no_auth}/password/rotate", headers=headers)
    assert response.status_code == 422 and "no password" in response.text
    missing = await client.post("/api/v1/chargers/NOPE-404/password/rotate", headers=headers)
    assert missing.status_code == 404
