"""TLS with real ``csms node`` processes (uvloop, signals): a renewed certificate loaded on
SIGHUP without dropping a connection, a downgrade refused on another node than the one
holding the secure connection, and HAProxy terminating TLS in front of a node with the
docker/haproxy.cfg shipped in this repository (PROXY protocol v2 with TLS TLVs)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from simulators.station import Station, StationConfig
from tests.e2e.cluster import PROJECT_ROOT, Cluster, NodeProcess, free_port
from tests.e2e.fleet import PASSWORD, register_chargers, until
from tests.pki import ORGANIZATION, Issued, Pki, serial_of
from tests.timeouts import TIMEOUT

WSS_LINE = re.compile(r"and wss://127\.0\.0\.1:(?P<port>\d+)/ocpp/")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


async def tls_port(node: NodeProcess) -> int:
    """The node's wss:// port, from the line it prints after its ws:// one."""

    def found() -> int | None:
        for line in node.stdout:
            match = WSS_LINE.search(line)
            if match:
                return int(match["port"])
        return None

    await until(lambda: found() is not None, f"{node.node_id} prints its wss:// port")
    port = found()
    assert port is not None
    return port


def station(url: str, charge_point_id: str, pki: Pki, **config: object) -> Station:
    return Station(
        StationConfig(url=url, charge_point_id=charge_point_id, call_timeout=TIMEOUT,
                      ca_file=str(pki.ca_file), **config)  # type: ignore[arg-type]
    )  # fmt: skip


async def booted(s: Station) -> Station:
    await s.connect()
    assert (await s.boot())["status"] == "Accepted"
    return s


def peer_serial(s: Station) -> int:
    connection = s._connection
    assert connection is not None
    ssl_object = connection.ws.transport.get_extra_info("ssl_object")
    return serial_of(ssl_object.getpeercert(binary_form=True))


async def served_serial(port: int, pki: Pki) -> int:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        await writer.wait_closed()
    return serial_of(der)


async def test_sighup_reload_and_a_downgrade_refused_on_another_node(
    cluster: Cluster, pool: asyncpg.Pool, pki: Pki
) -> None:
    """A00.FR.405 + A05.FR.07 across the cluster; SIGHUP loads the renewed certificate for new
    handshakes while the open connection stays (the nodes run uvloop, as in production)."""
    server = pki.issue("127.0.0.1", server=True, name="server")
    cluster.settings.update(
        CSMS_TLS_PORT="0",
        CSMS_TLS_CERT_FILE=str(server.cert_file),
        CSMS_TLS_KEY_FILE=str(server.key_file),
        CSMS_TLS_CLIENT_CA_FILE=str(pki.ca_file),
        CSMS_TLS_CLIENT_ORGANIZATION=ORGANIZATION,
        CSMS_TLS_RELOAD_INTERVAL="0",
    )
    n1, n2 = await cluster.start("n1", "n2")
    p1, p2 = await tls_port(n1), await tls_port(n2)
    [cp] = await register_chargers(pool, 1)
    issued = pki.issue(cp)
    secure = await booted(
        station(f"wss://127.0.0.1:{p1}/ocpp", cp, pki, client_cert_file=str(issued.cert_file),
                client_key_file=str(issued.key_file))
    )  # fmt: skip
    for weak in (
        station(n2.url, cp, pki, password=PASSWORD),
        station(f"wss://127.0.0.1:{p2}/ocpp", cp, pki, password=PASSWORD),
    ):
        with pytest.raises(InvalidStatus) as refusal:
            await weak.connect()
        assert refusal.value.response.status_code == 403
    assert secure.connected and (await secure.heartbeat())["currentTime"]

    renewed = pki.issue("127.0.0.1", server=True, name="renewed")
    os.replace(renewed.key_file, server.key_file)
    os.replace(renewed.cert_file, server.cert_file)
    n1.process.send_signal(signal.SIGHUP)
    await until(lambda: "TLS certificate files reloaded" in n1.log(), "n1 reloads on SIGHUP")
    assert await served_serial(p1, pki) == renewed.serial
    assert await served_serial(p2, pki) == server.serial  # n2 was not told
    assert secure.connected and peer_serial(secure) == server.serial
    assert (await secure.heartbeat())["currentTime"]
    await secure.disconnect()


# -- HAProxy in front --------------------------------------------------------------------------

HAPROXY = shutil.which("haproxy")
TLS_DIR = "/usr/local/etc/haproxy/tls/"


def haproxy_config(tls_dir: Path, ws_port: int, wss_port: int, node_port: int) -> str:
    """docker/haproxy.cfg with this machine's paths, ports and one node."""
    text = (PROJECT_ROOT / "docker" / "haproxy.cfg").read_text()
    for old, new in (
        (TLS_DIR, f"{tls_dir}/"),
        ("bind :9000", f"bind 127.0.0.1:{ws_port}"),
        ("bind :9443", f"bind 127.0.0.1:{wss_port}"),
        ("maxconn 200000", "maxconn 1000"),
        ("node1:9000 check", f"127.0.0.1:{node_port} check inter 200ms"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return "\n".join(line for line in text.splitlines() if "server node2" not in line) + "\n"


@contextlib.asynccontextmanager
async def haproxy(config: Path, log: Path) -> AsyncIterator[None]:
    assert HAPROXY is not None
    env = {**os.environ, "CSMS_TLS_CLIENT_ORGANIZATION": ORGANIZATION}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            HAPROXY, "-db", "-f", str(config), stdin=asyncio.subprocess.DEVNULL,
            stdout=out, stderr=out, env=env,
        )  # fmt: skip
    try:
        yield
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(TIMEOUT):
            await process.wait()


async def listening(port: int) -> None:
    async def probe() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    async with asyncio.timeout(TIMEOUT):
        while not await probe():
            await asyncio.sleep(0.05)


async def connect_when_routed(s: Station) -> Station:
    """The first health check may not have run yet: HAProxy closes until the node is up."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                return await booted(s)
            except (InvalidHandshake, OSError, EOFError) as exc:
                if isinstance(exc, InvalidStatus):
                    raise
                await asyncio.sleep(0.1)


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy)")
async def test_haproxy_terminates_tls_and_the_node_believes_its_proxy_header(
    cluster: Cluster, pool: asyncpg.Pool, pki: Pki, tmp_path: Path
) -> None:
    """docker/haproxy.cfg: TLS 1.2+ at the balancer, client certificates verified against the
    CSO CA there (A00.FR.403/407) with their O (A00.FR.404); the node learns TLS and the CN
    from the PROXY v2 TLVs (A00.FR.405) and records profiles 2 and 3, refuses a downgrade,
    and answers HAProxy's health checks."""
    tls_dir = tmp_path / "haproxy-tls"
    tls_dir.mkdir()
    pki.issue("localhost", server=True, key="ec", name="h-ecdsa").combined(
        tls_dir / "server-ecdsa.pem"
    )
    pki.issue("localhost", server=True, key="rsa", name="h-rsa").combined(
        tls_dir / "server-rsa.pem"
    )
    shutil.copy(pki.ca_file, tls_dir / "client-ca.pem")
    cluster.settings.update(CSMS_PROXY_MODE="proxy-v2", CSMS_TRUSTED_PROXIES="127.0.0.1")
    [node] = await cluster.start("n1")
    ws_port, wss_port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(tls_dir, ws_port, wss_port, node.port))
    secure_cp, basic_cp = await register_chargers(pool, 2)
    async with haproxy(config, tmp_path / "haproxy.log"):
        await listening(wss_port)
        wss = f"wss://localhost:{wss_port}/ocpp"
        issued = pki.issue(secure_cp)
        secure = await connect_when_routed(
            station(wss, secure_cp, pki, client_cert_file=str(issued.cert_file),
                    client_key_file=str(issued.key_file))
        )  # fmt: skip
        basic = await booted(station(wss, basic_cp, pki, password=PASSWORD))
        status, out, err = await cluster.cli("charger", "security-profile", secure_cp)
        assert status == 0, err
        assert "last connection  3 (TLS with a client certificate)" in out
        status, out, _ = await cluster.cli("charger", "security-profile", basic_cp)
        assert "last connection  2 (TLS with HTTP Basic)" in out

        # the same charger over the plain frontend with its password: a downgrade
        weak = station(f"ws://127.0.0.1:{ws_port}/ocpp", secure_cp, pki, password=PASSWORD)
        with pytest.raises(InvalidStatus) as refusal:
            await weak.connect()
        assert refusal.value.response.status_code == 403
        assert secure.connected

        # certificates HAProxy refuses: another organization, expired, another CA
        from datetime import timedelta

        refused: list[Issued] = [
            pki.issue(basic_cp, organization="Somebody Else", name="other-o"),
            pki.issue(
                basic_cp,
                valid_from=timedelta(days=-40),
                valid_for=timedelta(days=30),
                name="expired",
            ),  # fmt: skip
            Pki(tmp_path / "other-ca", name="Other Root CA").issue(basic_cp),
        ]
        for certificate in refused:
            attempt = station(wss, basic_cp, pki, client_cert_file=str(certificate.cert_file),
                              client_key_file=str(certificate.key_file))  # fmt: skip
            with pytest.raises((InvalidHandshake, OSError, EOFError)):
                await attempt.connect()
        assert "PROXY header from" not in node.log()  # nothing was refused as untrusted
        await secure.disconnect()
        await basic.disconnect()
