"""Renewal ahead of expiry by a real worker (PgQueuer schedule) through the command bus.

A certificate issued 360 days ago (by a node whose clock is that far behind) is due: the
worker asks its station for a new CSR (2.0.1 TriggerMessage SignChargingStationCertificate,
A02; 1.6 ExtendedTriggerMessage SignChargePointCertificate), the station of a node of today
answers with one, gets a new certificate and the old one is superseded. A renewal that
cannot happen (charger offline, CSR refused) is recorded as a CertificateRenewalFailed
charger event and hook event (issue 15 turns these into alarms).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest
from cryptography import x509

from csms.domain.clock import utc_now
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import WorkerSettings
from csms.worker.runtime import running_worker
from simulators.station import Station
from tests.integration.certificates.conftest import (
    Authority,
    NewCharger,
    node_settings,
    online,
)
from tests.integration.ocpp_client import eventually
from tests.timeouts import TIMEOUT

AGE = timedelta(days=360)  # of the certificate issued first (valid 365 days: 5 left)


@contextlib.asynccontextmanager
async def past_node(database_url: str, authority: Authority, prefix: str) -> AsyncIterator[Node]:
    """A standalone node whose clock is ``AGE`` behind: what it signs expires in 5 days.
    It requires no O (the stations of the failure case carry another one)."""
    settings = node_settings(prefix, **{**authority.settings(), "cert_organization": None})

    def clock() -> datetime:
        return utc_now() - AGE

    async with running_node(settings, database_url, clock=clock) as node:
        yield node


@pytest.fixture
async def worker(database_url: str, redis_url: str, cluster_prefix: str) -> AsyncIterator[None]:
    settings = WorkerSettings(
        redis_prefix=cluster_prefix,
        job_poll_interval=0.2,
        cert_renew_before_days=30,
        cert_renew_retry_interval=2,
        cert_renew_schedule="* * * * * */1",  # every second
        job_command_timeout=TIMEOUT,
    )
    async with running_worker(settings, database_url, redis_url) as running:
        task = asyncio.create_task(running.run())
        yield
        running.stop()
        await task


async def first_certificate(
    database_url: str,
    authority: Authority,
    charge_point_id: str,
    version: str,
    **config: object,
) -> tuple[Station, x509.Certificate]:
    """The station, disconnected, with the certificate a node 360 days ago gave it."""
    async with past_node(database_url, authority, f"past-{secrets.token_hex(3)}:") as node:
        sim = await online(node, charge_point_id, version, **config)
        try:
            assert (await sim.sign_certificate())["status"] == "Accepted"
            certificate: x509.Certificate = await eventually(lambda: _certificate(sim))
        finally:
            await sim.disconnect()
    return sim, certificate


async def moved(sim: Station, node: Node) -> Station:
    """The same station connected to ``node`` (as a load balancer would send it)."""
    sim.config = dataclasses.replace(sim.config, url=f"ws://127.0.0.1:{node.port}/ocpp")
    await sim.connect()
    return sim


async def _certificate(sim: Station) -> x509.Certificate | None:
    return sim.state.security.certificate


async def current_rows(pool: asyncpg.Pool, charge_point_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM charger_certificates WHERE charge_point_id = $1
           AND delivery_status = 'Accepted' AND superseded_at IS NULL""",
        charge_point_id,
    )


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a02_due_certificate_renewed_by_the_worker(
    version: str,
    database_url: str,
    authority: Authority,
    ca_node: Node,
    new_charger: NewCharger,
    pool: asyncpg.Pool,
    worker: None,
) -> None:
    charge_point_id = await new_charger()
    sim, old = await first_certificate(database_url, authority, charge_point_id, version)
    assert old.not_valid_after_utc - utc_now() < timedelta(days=6)  # due: within 30 days

    await moved(sim, ca_node)  # back, on a node of today
    try:

        async def renewed() -> x509.Certificate | None:
            now = sim.state.security.certificate
            return now if now is not None and now.serial_number != old.serial_number else None

        new = await eventually(renewed, timeout=3 * TIMEOUT)
        new.verify_directly_issued_by(authority.certificate)
        assert new.not_valid_after_utc - utc_now() > timedelta(days=300)

        async def superseded() -> list[asyncpg.Record]:
            rows = await pool.fetch(
                "SELECT * FROM charger_certificates WHERE charge_point_id = $1 ORDER BY id",
                charge_point_id,
            )
            return rows if len(rows) == 2 and rows[0]["superseded_at"] is not None else []

        first, second = await eventually(superseded)
        assert first["serial_number"] == format(old.serial_number, "x")
        assert first["renewal_requested_at"] is not None and first["renewal_error"] is None
        assert second["serial_number"] == format(new.serial_number, "x")
        assert [r["id"] for r in await current_rows(pool, charge_point_id)] == [second["id"]]
    finally:
        await sim.disconnect()


async def test_failed_renewals_are_charger_events(
    database_url: str,
    authority: Authority,
    ca_node: Node,
    new_charger: NewCharger,
    pool: asyncpg.Pool,
    worker: None,
) -> None:
    """Offline: the trigger cannot be sent. Connected but its CSR is refused (another O than
    CSMS_CERT_ORGANIZATION): no new certificate by the retry interval. Both are recorded."""
    offline_id, refused_id = await new_charger(), await new_charger()
    await first_certificate(database_url, authority, offline_id, "2.0.1")
    sim, _ = await first_certificate(
        database_url, authority, refused_id, "1.6", organization="Somebody Else"
    )
    await moved(sim, ca_node)
    try:

        async def failures(charge_point_id: str) -> list[str]:
            rows = await pool.fetch(
                "SELECT payload FROM charger_events WHERE charge_point_id = $1 "
                "AND action = 'CertificateRenewalFailed' ORDER BY id",
                charge_point_id,
            )
            return [r["payload"]["reason"] for r in rows]

        offline_reasons = await eventually(lambda: failures(offline_id), timeout=3 * TIMEOUT)
        assert "not_connected" in offline_reasons[0]

        # and an alarm (issue 15), one however often the renewal fails
        async def alarmed() -> list[asyncpg.Record]:
            return list(
                await pool.fetch(
                    "SELECT state, message FROM alarms WHERE charge_point_id = $1"
                    " AND type = 'certificate_renewal_failed'",
                    offline_id,
                )
            )

        alarms = await eventually(alarmed, timeout=TIMEOUT)
        assert [r["state"] for r in alarms] == ["raised"]
        assert "not_connected" in alarms[0]["message"]

        async def no_new_certificate() -> list[str]:
            return [r for r in await failures(refused_id) if "no new certificate" in r]

        await eventually(no_new_certificate, timeout=3 * TIMEOUT)
        refused = await pool.fetch(
            "SELECT kind FROM charger_events WHERE charge_point_id = $1 "
            "AND action = 'SignCertificate'",
            refused_id,
        )
        assert "Rejected" in [r["kind"] for r in refused]  # the CSR that was refused

        async def asked_again() -> bool:
            [row] = await current_rows(pool, refused_id)  # the old one is still current
            return bool(row["renewal_attempts"] >= 2)

        await eventually(asked_again, timeout=3 * TIMEOUT)
    finally:
        await sim.disconnect()
