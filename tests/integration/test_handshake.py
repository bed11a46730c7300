"""The OCPP-J handshake against a real node: path, identity, Basic auth, subprotocol, and
one connection per charger (OCPP-J 1.6 section 3; 2.0.1 part 4 section 3 and part 2 A00)."""

from __future__ import annotations

import secrets

import asyncpg
import pytest
from ocpp_client import OCPP16, OCPP201, RegisterCharger, booted, ocpp_connect, own_node, ws_url
from websockets.exceptions import InvalidStatus

from csms.node.server import Node
from csms.store import chargers

pytestmark = pytest.mark.integration

NOT_FOUND, UNAUTHORIZED = 404, 401
POLICY_VIOLATION, PROTOCOL_ERROR = 1008, 1002


async def refused(url: str, charge_point_id: str, **kwargs: object) -> int:
    """The HTTP status of a handshake the node must refuse before the upgrade."""
    with pytest.raises(InvalidStatus) as info:
        async with ocpp_connect(url, charge_point_id, **kwargs):  # type: ignore[arg-type]
            pass
    return info.value.response.status_code


async def test_unknown_charger_is_refused_with_404(url: str) -> None:
    assert await refused(url, f"CP-unknown-{secrets.token_hex(4)}") == NOT_FOUND


async def test_path_without_ocpp_prefix_is_refused(node: Node) -> None:
    bare = f"ws://127.0.0.1:{node.port}"
    assert await refused(bare, "not-ocpp") == NOT_FOUND


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("C" * 49, id="49-characters"),
        pytest.param("CP:1", id="colon"),
        pytest.param("CP%3A1", id="url-encoded-colon"),
        pytest.param("CP%2F1", id="url-encoded-slash"),
        pytest.param("CP/1", id="slash"),
        pytest.param("", id="empty"),
    ],
)
async def test_invalid_charge_point_id_is_refused(url: str, path: str) -> None:
    """identityString is at most 48 characters and ':' would break Basic auth."""
    assert await refused(url, "ignored", path=path) in (400, NOT_FOUND)


async def test_48_character_id_is_accepted(url: str, pool: asyncpg.Pool) -> None:
    charge_point_id = f"CP-{secrets.token_hex(24)}"[:48]
    assert len(charge_point_id) == 48
    await chargers.add_charger(pool, charge_point_id, password_hash=None)
    async with ocpp_connect(url, charge_point_id) as client:
        await booted(client)


async def test_url_encoded_id_is_decoded(url: str, pool: asyncpg.Pool) -> None:
    charge_point_id = f"CP #{secrets.token_hex(3)}".replace(" ", "")
    await chargers.add_charger(pool, charge_point_id, password_hash=None)
    async with ocpp_connect(url, "", path=charge_point_id.replace("#", "%23")) as client:
        await booted(client)


RIGHT = "the right password"  # stands for the registered password in the table below


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param(None, None, id="missing"),
        pytest.param(None, "wrong-password-0000000", id="wrong-password"),
        pytest.param("someone-else", RIGHT, id="wrong-username"),
        pytest.param(None, "", id="empty-password"),
    ],
)
async def test_bad_credentials_get_401_and_leave_the_open_session_alone(
    url: str, register_charger: RegisterCharger, username: str | None, password: str | None
) -> None:
    """Security profile 1: a failed attempt must not take over (or close) a live session."""
    charger = await register_charger()
    cid = charger.charge_point_id
    async with ocpp_connect(url, cid, password=charger.password) as live:
        await booted(live)
        password = charger.password if password == RIGHT else password
        assert await refused(url, cid, username=username, password=password) == UNAUTHORIZED
        assert "currentTime" in await live.result("Heartbeat", {})


async def test_right_password_is_accepted_twice(
    url: str, register_charger: RegisterCharger
) -> None:
    """The second handshake is served from the credential cache; it must still succeed."""
    charger = await register_charger()
    for _ in range(2):
        async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as c:
            await booted(c)


async def test_charger_without_auth_is_refused_in_production(
    database_url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger(auth=False)
    async with own_node(database_url, env="production") as production:
        assert await refused(ws_url(production), charger.charge_point_id) == UNAUTHORIZED
    async with own_node(
        database_url, env="production", allow_unauthenticated_chargers=True
    ) as permissive:
        async with ocpp_connect(ws_url(permissive), charger.charge_point_id) as client:
            await booted(client)


async def test_charger_without_auth_connects_in_dev(
    url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger(auth=False)
    async with ocpp_connect(url, charger.charge_point_id) as client:
        await booted(client)


@pytest.mark.parametrize(
    "offered",
    [pytest.param([], id="none-offered"), pytest.param(["ocpp1.5", "ocpp2.1"], id="unsupported")],
)
async def test_no_acceptable_subprotocol_completes_handshake_then_closes_1002(
    url: str, register_charger: RegisterCharger, offered: list[str]
) -> None:
    charger = await register_charger()
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=offered
    ) as client:
        assert client.subprotocol is None
        assert await client.wait_closed() == PROTOCOL_ERROR


@pytest.mark.parametrize(
    ("pinned", "offered", "expected"),
    [
        pytest.param(None, [OCPP16, OCPP201], OCPP201, id="unpinned-prefers-2.0.1"),
        pytest.param(None, [OCPP16], OCPP16, id="unpinned-1.6-only"),
        pytest.param(OCPP16, [OCPP201, OCPP16], OCPP16, id="pinned-1.6"),
        pytest.param(OCPP201, [OCPP16, OCPP201], OCPP201, id="pinned-2.0.1"),
    ],
)
async def test_subprotocol_selection_honours_pinned_version(
    url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    pinned: str | None,
    offered: list[str],
    expected: str,
) -> None:
    charger = await register_charger(ocpp_version=pinned)
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=offered
    ) as client:
        assert client.subprotocol == expected
        await booted(client)
        row = await chargers.get_charger(pool, charger.charge_point_id)
        assert row is not None and row.connected_protocol == expected


async def test_pinned_version_not_offered_is_closed_1002(
    url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger(ocpp_version=OCPP201)
    async with ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[OCPP16]
    ) as client:
        assert client.subprotocol is None
        assert await client.wait_closed() == PROTOCOL_ERROR


@pytest.mark.parametrize("subprotocol", [OCPP16, OCPP201])
async def test_newer_connection_replaces_the_old_one(
    url: str,
    node: Node,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    subprotocol: str,
) -> None:
    charger = await register_charger()
    cid, password = charger.charge_point_id, charger.password
    async with ocpp_connect(url, cid, password=password, subprotocols=[subprotocol]) as old:
        await booted(old)
        async with ocpp_connect(url, cid, password=password, subprotocols=[subprotocol]) as new:
            assert await old.wait_closed() == POLICY_VIOLATION
            assert "currentTime" in await new.result("Heartbeat", {})
            assert node.connections[cid].link.protocol == subprotocol
            row = await chargers.get_charger(pool, cid)
            assert row is not None and row.connected_protocol == subprotocol


async def test_accepted_charger_reconnecting_needs_no_new_boot(
    url: str, register_charger: RegisterCharger
) -> None:
    """A reconnect is not a reboot: the registration status persists (B01.FR.03 is per boot)."""
    charger = await register_charger()
    async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as first:
        await booted(first)
    async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as again:
        assert "currentTime" in await again.result("Heartbeat", {})
