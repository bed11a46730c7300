"""Security profiles 2 and 3 on the node's wss:// listener, over real sockets, with
certificates the tests make (tests/pki.py): the handshakes, the certificates refused, the
TLS versions and cipher suites, downgrades refused before they displace a connection, and a
renewed server certificate loaded without dropping connections.

Requirement ids are the OCPP 2.0.1 part 2 (section A) ones; the 1.6 security whitepaper
numbers the same rules alike (A00.FR.3xx/4xx, A05).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import ssl
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from simulators.station import Station, StationConfig
from tests.integration.conftest import RegisterCharger
from tests.pki import ORGANIZATION, Issued, Pki, serial_of
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration

# what a refused TLS handshake looks like to a client: an alert (ssl.SSLError), or under TLS
# 1.3, where the client finishes first, the socket closed under the HTTP upgrade
REFUSED_HANDSHAKE = (ssl.SSLError, OSError, EOFError, InvalidHandshake)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@contextlib.asynccontextmanager
async def tls_node(
    database_url: str, pki: Pki, server: Issued | None = None, **overrides: Any
) -> AsyncIterator[Node]:
    server = server or pki.issue("127.0.0.1", server=True, name="server")
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "tls_port": 0,
        "tls_cert_file": server.cert_file,
        "tls_key_file": server.key_file,
        "tls_client_ca_file": pki.ca_file,
        "tls_reload_interval": 0,
        "node_id": f"tls-{secrets.token_hex(3)}",
        "heartbeat_interval": 60,
    }
    values.update(overrides)
    async with running_node(NodeSettings(**values), database_url) as node:
        yield node


def wss(node: Node) -> str:
    return f"wss://127.0.0.1:{node.tls_port}/ocpp"


def ws(node: Node) -> str:
    return f"ws://127.0.0.1:{node.port}/ocpp"


def station(url: str, charge_point_id: str, **config: Any) -> Station:
    return Station(
        StationConfig(url=url, charge_point_id=charge_point_id, call_timeout=TIMEOUT, **config)
    )


async def profile_of(node: Node, charge_point_id: str) -> tuple[int, int | None]:
    state = await node.services.security_profiles.state(charge_point_id)
    return state.minimum, state.last_profile


def refused(node: Node, reason: str) -> float:
    assert node.deps.metrics is not None
    for line in node.deps.metrics.render().splitlines():
        if line.startswith(f'csms_node_refused_connections_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


async def booted(s: Station) -> Station:
    await s.connect()
    assert (await s.boot())["status"] == "Accepted"
    return s


# -- profile 2 and 3 handshakes -------------------------------------------------------------


async def test_profile_2_tls_with_basic_auth(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """A00.FR.301-307/324: the node is the TLS server with its certificate; the charger
    authenticates with HTTP Basic over TLS."""
    charger = await register_charger()
    async with tls_node(database_url, pki) as node:
        s = station(wss(node), charger.charge_point_id, password=charger.password,
                    ca_file=str(pki.ca_file))  # fmt: skip
        await booted(s)
        assert await profile_of(node, charger.charge_point_id) == (2, 2)
        await s.disconnect()
        # the password is still checked over TLS (A00.FR.324)
        wrong = station(wss(node), charger.charge_point_id, password="x" * 20,
                        ca_file=str(pki.ca_file))  # fmt: skip
        with pytest.raises(InvalidStatus) as refused_status:
            await wrong.connect()
        assert refused_status.value.response.status_code == 401


async def test_profile_3_client_certificate(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """A00.FR.401-405: the charging station certificate authenticates it (no password is
    sent); its chain is checked against the CSO CA, its CN is the charge point id, its O
    the operator's."""
    charger = await register_charger()
    cp = charger.charge_point_id
    issued = pki.issue(cp)
    async with tls_node(database_url, pki, tls_client_organization=ORGANIZATION) as node:
        s = station(wss(node), cp, password=charger.password, ca_file=str(pki.ca_file),
                    client_cert_file=str(issued.cert_file),
                    client_key_file=str(issued.key_file))  # fmt: skip
        await booted(s)
        assert s.security.endpoint.security_profile == 3
        assert await profile_of(node, cp) == (3, 3)
        assert (await s.heartbeat())["currentTime"]
        await s.disconnect()


@pytest.mark.parametrize("case", ["expired", "not yet valid", "wrong CA"])
async def test_a_certificate_that_does_not_verify_ends_the_tls_handshake(
    database_url: str, pki: Pki, register_charger: RegisterCharger, tmp_path: Path, case: str
) -> None:
    """A00.FR.403/407: an invalid certification path terminates the connection; A00.FR.408:
    the refusal is logged and counted."""
    cp = (await register_charger()).charge_point_id
    if case == "expired":
        issued = pki.issue(cp, valid_from=timedelta_days(-40), valid_for=timedelta_days(30))
    elif case == "not yet valid":
        issued = pki.issue(cp, valid_from=timedelta_days(2))
    else:
        issued = Pki(tmp_path / "other", name="Another Root CA").issue(cp)
    async with tls_node(database_url, pki) as node:
        s = station(wss(node), cp, ca_file=str(pki.ca_file),
                    client_cert_file=str(issued.cert_file),
                    client_key_file=str(issued.key_file))  # fmt: skip
        with pytest.raises(REFUSED_HANDSHAKE):
            await s.connect()
        assert refused(node, "tls_certificate") == 1
        assert cp not in node.connections
        assert await profile_of(node, cp) == (0, None)


def timedelta_days(days: float) -> Any:
    from datetime import timedelta

    return timedelta(days=days)


async def test_a_certificate_of_another_charger_is_refused(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """A00.FR.405: the CN must be this charger's id, even with this charger's password."""
    charger = await register_charger()
    other = await register_charger()
    issued = pki.issue(other.charge_point_id)
    async with tls_node(database_url, pki) as node:
        s = station(wss(node), charger.charge_point_id, password=charger.password,
                    ca_file=str(pki.ca_file), client_cert_file=str(issued.cert_file),
                    client_key_file=str(issued.key_file))  # fmt: skip
        with pytest.raises(InvalidStatus) as refusal:
            await s.connect()
        assert refusal.value.response.status_code == 403
        assert b"CN" in refusal.value.response.body
        assert refused(node, "certificate") == 1


async def test_a_certificate_of_another_organization_is_refused(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """A00.FR.404: the O must be the operator's (CSMS_TLS_CLIENT_ORGANIZATION)."""
    cp = (await register_charger()).charge_point_id
    issued = pki.issue(cp, organization="Somebody Else")
    async with tls_node(database_url, pki, tls_client_organization=ORGANIZATION) as node:
        s = station(wss(node), cp, ca_file=str(pki.ca_file),
                    client_cert_file=str(issued.cert_file),
                    client_key_file=str(issued.key_file))  # fmt: skip
        with pytest.raises(InvalidStatus) as refusal:
            await s.connect()
        assert refusal.value.response.status_code == 403
        assert await profile_of(node, cp) == (0, None)


# -- TLS versions and cipher suites ------------------------------------------------------------

REQUIRED_SUITES = (  # A00.FR.318/421 (OpenSSL names)
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "AES128-GCM-SHA256",  # TLS_RSA_WITH_AES_128_GCM_SHA256
    "AES256-GCM-SHA384",  # TLS_RSA_WITH_AES_256_GCM_SHA384
)


async def handshake(port: int, context: ssl.SSLContext) -> ssl.SSLObject:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    ssl_object = writer.get_extra_info("ssl_object")
    writer.close()
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        await writer.wait_closed()
    assert isinstance(ssl_object, ssl.SSLObject)
    return ssl_object


def client_context(
    pki: Pki, *, version: ssl.TLSVersion, ciphers: str | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


async def test_the_four_required_cipher_suites_with_an_rsa_and_an_ecdsa_certificate(
    database_url: str, pki: Pki
) -> None:
    """A00.FR.318/421: ECDHE-ECDSA and RSA AES-GCM suites, which need both an ECDSA and an
    RSA certificate (CSMS_TLS_SECOND_CERT_FILE); A00.FR.321: no TLS compression."""
    rsa = pki.issue("127.0.0.1", server=True, key="rsa", name="server-rsa")
    ecdsa = pki.issue("127.0.0.1", server=True, key="ec", name="server-ecdsa")
    async with tls_node(database_url, pki, server=rsa, tls_second_cert_file=ecdsa.cert_file,
                        tls_second_key_file=ecdsa.key_file) as node:  # fmt: skip
        assert node.tls_port is not None
        for suite in REQUIRED_SUITES:
            context = client_context(pki, version=ssl.TLSVersion.TLSv1_2, ciphers=suite)
            ssl_object = await handshake(node.tls_port, context)
            assert ssl_object.cipher()[0] == suite  # type: ignore[index]
            assert ssl_object.version() == "TLSv1.2"
            assert ssl_object.compression() is None
        tls13 = await handshake(node.tls_port, client_context(pki, version=ssl.TLSVersion.TLSv1_3))
        assert tls13.version() == "TLSv1.3"


async def test_old_tls_and_weak_suites_are_refused(database_url: str, pki: Pki) -> None:
    """A00.FR.313/315: TLS 1.2 or above only; A00.FR.320/322: no suite unsuitable for
    legacy use (CBC-SHA1 here)."""
    async with tls_node(database_url, pki) as node:
        assert node.tls_port is not None
        old = client_context(pki, version=ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0")
        with pytest.raises((ssl.SSLError, ConnectionError)):  # a protocol alert, or reset
            await handshake(node.tls_port, old)
        weak = client_context(pki, version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await handshake(node.tls_port, weak)
        assert refused(node, "tls_protocol") == 2


# -- no downgrade ---------------------------------------------------------------------------------


async def test_a_weaker_connection_is_refused_and_the_secure_one_stays(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """A05.FR.07 (1.6 whitepaper A05.FR.09): once a charger connected with profile 3, a
    connection with Basic auth (leaked password) over ws:// or wss:// is refused during its
    handshake, before it can displace the open connection."""
    charger = await register_charger()
    cp = charger.charge_point_id
    issued = pki.issue(cp)
    async with tls_node(database_url, pki) as node:
        secure = await booted(
            station(wss(node), cp, ca_file=str(pki.ca_file),
                    client_cert_file=str(issued.cert_file), client_key_file=str(issued.key_file))
        )  # fmt: skip
        held = node.connections[cp]
        for attacker in (
            station(ws(node), cp, password=charger.password),
            station(wss(node), cp, password=charger.password, ca_file=str(pki.ca_file)),
        ):
            with pytest.raises(InvalidStatus) as refusal:
                await attacker.connect()
            assert refusal.value.response.status_code == 403
            assert b"security profile 3" in refusal.value.response.body
        assert refused(node, "downgrade") == 2
        assert node.connections[cp] is held and secure.connected
        assert (await secure.heartbeat())["currentTime"]
        assert await profile_of(node, cp) == (3, 3)
        await secure.disconnect()


async def test_the_node_floor_refuses_lower_profiles(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """CSMS_MIN_SECURITY_PROFILE=2: ws:// with Basic auth is refused for every charger."""
    charger = await register_charger()
    async with tls_node(database_url, pki, min_security_profile=2) as node:
        with pytest.raises(InvalidStatus) as refusal:
            await station(ws(node), charger.charge_point_id, password=charger.password).connect()
        assert refusal.value.response.status_code == 403
        assert refused(node, "profile") == 1
        s = await booted(station(wss(node), charger.charge_point_id, password=charger.password,
                                 ca_file=str(pki.ca_file)))  # fmt: skip
        await s.disconnect()


# -- a renewed server certificate -----------------------------------------------------------------


def replace(issued: Issued, renewed: Issued) -> None:
    """Install ``renewed`` where ``issued`` is, atomically as certbot-like tools do."""
    for new, old in ((renewed.key_file, issued.key_file), (renewed.cert_file, issued.cert_file)):
        os.replace(new, old)


async def served_serial(node: Node, pki: Pki) -> int:
    assert node.tls_port is not None
    context = client_context(pki, version=ssl.TLSVersion.TLSv1_3)
    ssl_object = await handshake(node.tls_port, context)
    der = ssl_object.getpeercert(binary_form=True)
    assert der is not None
    return serial_of(der)


def peer_serial(s: Station) -> int:
    connection = s._connection
    assert connection is not None
    der = connection.ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return serial_of(der)


async def test_a_renewed_certificate_serves_new_handshakes_and_keeps_open_connections(
    database_url: str, pki: Pki, register_charger: RegisterCharger
) -> None:
    """SIGHUP (Node.reload_tls): new handshakes get the renewed certificate; an open
    connection is not dropped and keeps its session; files that do not load change nothing."""
    charger = await register_charger()
    first = pki.issue("127.0.0.1", server=True, name="server")
    async with tls_node(database_url, pki, server=first) as node:
        s = await booted(station(wss(node), charger.charge_point_id, password=charger.password,
                                 ca_file=str(pki.ca_file)))  # fmt: skip
        assert peer_serial(s) == first.serial == await served_serial(node, pki)
        renewed = pki.issue("127.0.0.1", server=True, name="renewed")
        replace(first, renewed)
        assert node.reload_tls()
        assert await served_serial(node, pki) == renewed.serial
        assert s.connected and peer_serial(s) == first.serial
        assert (await s.heartbeat())["currentTime"]
        # a half-written renewal: the node keeps serving the last good certificate
        first.cert_file.write_text("-----BEGIN CERTIFICATE-----\ntruncated\n")
        assert not node.reload_tls()
        assert await served_serial(node, pki) == renewed.serial
        await s.disconnect()


async def test_renewed_files_are_noticed_by_their_modification_time(
    database_url: str, pki: Pki
) -> None:
    """CSMS_TLS_RELOAD_INTERVAL: the node looks at the files' modification times."""
    first = pki.issue("127.0.0.1", server=True, name="server")
    async with tls_node(database_url, pki, server=first, tls_reload_interval=0.05) as node:
        assert node.tls is not None
        renewed = pki.issue("127.0.0.1", server=True, name="renewed")
        replace(first, renewed)
        await until(lambda: node.tls is not None and node.tls.reloads == 1)
        assert await served_serial(node, pki) == renewed.serial


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.02)
