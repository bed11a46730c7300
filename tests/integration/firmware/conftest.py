"""Firmware campaigns end to end in one process: the backoffice on uvicorn (its own thread),
a cluster node and a ``csms worker`` over the run's PostgreSQL and Redis, simulated
chargers over real WebSockets that download from the backoffice over HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import BackofficeSettings, NodeSettings, WorkerSettings
from csms.worker.runtime import Worker, running_worker
from tests.integration.backoffice.conftest import (
    JWT_SECRET,
    Account,
    Backoffice,
    NewAccount,
    login,
    serving,
)
from tests.integration.backoffice.conftest import new_account as new_account  # noqa: F401
from tests.integration.conftest import PASSWORD_HASH
from tests.timeouts import TIMEOUT

URL_SECRET = "integration-firmware-url-secret-" + "u" * 20
TICK = 0.2


@pytest.fixture(scope="package")
def backoffice_settings(database_url: str, redis_url: str, redis_prefix: str) -> BackofficeSettings:
    return BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        jwt_secret=JWT_SECRET,
        firmware_url_secret=URL_SECRET,
        firmware_max_bytes=2 * 1024 * 1024,
        command_timeout=TIMEOUT,
        db_pool_min=1,
        db_pool_max=6,
    )


@pytest.fixture(scope="package")
async def backoffice(backoffice_settings: BackofficeSettings) -> AsyncIterator[Backoffice]:
    async with serving(backoffice_settings) as running:
        yield running


@pytest.fixture(scope="package")
async def client(backoffice: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as http:
        yield http


@pytest.fixture(scope="package")
async def operator(new_account: NewAccount) -> Account:  # noqa: F811
    return await new_account("operator")


@pytest.fixture
async def node(database_url: str, redis_url: str, prefix: str) -> AsyncIterator[Node]:
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"fw-{secrets.token_hex(3)}",
        redis_prefix=prefix,
        heartbeat_interval=60,
    )
    async with running_node(settings, database_url, redis_url) as running:
        yield running


def worker_settings(backoffice: Backoffice, prefix: str, **changes: Any) -> WorkerSettings:
    return WorkerSettings(
        redis_prefix=prefix,
        job_poll_interval=0.2,
        job_retry_delay=0.1,
        firmware_url_secret=URL_SECRET,
        firmware_base_url=backoffice.url,
        firmware_tick_interval=TICK,
        firmware_command_timeout=TIMEOUT,
        **changes,
    )


@contextlib.asynccontextmanager
async def working(
    settings: WorkerSettings, database_url: str, redis_url: str
) -> AsyncIterator[Worker]:
    async with running_worker(settings, database_url, redis_url) as worker:
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            await task


@dataclass(frozen=True)
class Uploaded:
    id: int
    version: str
    sha256: str
    data: bytes


def firmware_image(version: str, size: int = 200_000) -> bytes:
    """A simulated image: the manifest line simulators read the version from, then bytes."""
    return f"CSMS-SIM-FIRMWARE {version}\n".encode() + secrets.token_bytes(size)


Upload = Callable[..., Awaitable[Uploaded]]


@pytest.fixture
def upload(client: httpx.AsyncClient, operator: Account) -> Upload:
    async def send(
        version: str, *, model: str, data: bytes | None = None, **fields: str
    ) -> Uploaded:
        image = firmware_image(version) if data is None else data
        response = await client.post(
            "/api/v1/firmware/artifacts",
            headers=operator.headers,
            data={"version": version, "vendor": "SimVendor", "model": model, **fields},
            files={"file": (f"fw-{version}.bin", image, "application/octet-stream")},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["sha256"] == hashlib.sha256(image).hexdigest()
        return Uploaded(body["id"], version, body["sha256"], image)

    return send


async def register(pool: asyncpg.Pool, count: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(count)]
    await pool.executemany(
        "INSERT INTO chargers (charge_point_id, password_hash) VALUES ($1, $2)",
        [(cp, PASSWORD_HASH) for cp in ids],
    )
    return ids


async def eventually(
    probe: Callable[[], Awaitable[Any]], what: str, *, timeout: float = TIMEOUT
) -> Any:
    last: Any = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                last = await probe()
                if last:
                    return last
                await asyncio.sleep(TIMEOUT / 100)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:.0f} s: {what} (last: {last!r})") from None


def signing_key(kind: str) -> tuple[object, str]:
    """A key and its self-signed PEM certificate (the manufacturer's firmware signer)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Signer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM).decode()


def sign(key: object, data: bytes) -> str:
    """L01.FR.04: RSA-PSS (or ECDSA here) over the file's SHA-256."""
    digest = hashlib.sha256(data).digest()
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
        raw = key.sign(digest, pss, prehashed)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        raw = key.sign(digest, ec.ECDSA(prehashed))
    return base64.b64encode(raw).decode()


__all__ = ["Account", "login"]
