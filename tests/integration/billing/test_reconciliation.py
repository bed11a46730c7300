"""Reconciliation to the cent (issue 13): every session is charged exactly once and every
account's balance equals the sum of its sessions' frozen costs.

- 1,000 sessions driven by simulators of both OCPP versions over real WebSockets, priced by
  the node, settled by a worker;
- 1,000 ended sessions written straight to PostgreSQL (each with the final cost the cost
  engine gives it, as pricing leaves it) settled by two `csms worker` processes, one of them
  SIGKILLed while it settles.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from csms.domain import ledger
from csms.domain.billing import POSTPAID, PREPAID, REVIEW_REASONS
from csms.domain.clock import utc_now
from csms.domain.cost import cost
from csms.domain.cost_periods import Reading, Timeline
from csms.domain.sites import Scope
from csms.domain.tariffs import parse_tariff
from csms.node.server import Node
from csms.services import Services
from csms.services.billing import SETTLE_SESSION
from csms.store import billing
from csms.store.jobs import PgJobQueue
from csms.store.postgres import PostgresStores
from csms.worker.runtime import Worker
from simulators.station import Station, StationConfig
from tests.integration.conftest import RegisterCharger, RegisterToken
from tests.timeouts import TIMEOUT

CSMS = Path(sys.executable).parent / "csms"
SESSIONS = 1000
ACCOUNTS = 20
TARIFF = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.3471", "vat": "21", "step_size": 1},
                {"type": "TIME", "price": "1.20", "vat": "21", "step_size": 60},
            ]
        },
    ],
}


@pytest.fixture
async def workers(database_url: str) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(TIMEOUT):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def start_worker(database_url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
    env.update(
        CSMS_DATABASE_URL=database_url,
        CSMS_ENV="dev",
        CSMS_JOB_POLL_INTERVAL="0.2",
        CSMS_JOB_HEARTBEAT_TIMEOUT="2",
        CSMS_JOB_CONCURRENCY="8",
        CSMS_JOB_BATCH_SIZE="4",
        CSMS_LOG_LEVEL="WARNING",
    )
    return await asyncio.create_subprocess_exec(
        str(CSMS),
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def charged(
    pool: asyncpg.Pool, pks: list[int], workers: list[asyncio.subprocess.Process]
) -> int:
    assert not workers or any(w.returncode is None for w in workers), "no worker is running"
    return int(
        await pool.fetchval("SELECT count(*) FROM charges WHERE transaction_pk = ANY($1)", pks)
    )


async def test_a_thousand_sessions_reconcile_to_the_cent_after_a_worker_is_killed(
    database_url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    workers: list[asyncio.subprocess.Process],
) -> None:
    rng = random.Random(13)
    charger = await register_charger()
    cp = charger.charge_point_id
    services = Services(PostgresStores(pool), clock=utc_now)
    tariff_id = f"R-{secrets.token_hex(4)}"
    await services.tariffs.add(tariff_id, TARIFF, created_by="t")
    version = await services.tariffs.publish(tariff_id, published_by="t")
    tariff = parse_tariff(version.definition)

    accounts = []
    for n in range(ACCOUNTS):
        kind = PREPAID if n % 2 == 0 else POSTPAID
        account = await billing.add_account(pool, kind=kind, currency="EUR", name=f"A{n}")
        tag = f"REC{secrets.token_hex(5)}".upper()
        await pool.execute(
            "INSERT INTO id_tokens (id_token, status, account_id) VALUES ($1, 'Accepted', $2)",
            tag,
            account.id,
        )
        accounts.append((account, tag))

    # the sessions, each with the final cost the cost engine gives its timeline
    expected: dict[int, Decimal] = {a.id: Decimal(0) for a, _ in accounts}
    pks: list[int] = []
    base = datetime(2026, 11, 1, tzinfo=UTC)
    async with pool.acquire() as connection, connection.transaction():
        for n in range(SESSIONS):
            account, tag = accounts[n % ACCOUNTS]
            started = base + timedelta(minutes=37 * n)
            ended = started + timedelta(seconds=rng.randint(60, 4 * 3600))
            start_wh = Decimal(rng.randint(0, 10**6))
            energy = Decimal(rng.randint(1, 80_000))
            breakdown = cost(
                tariff,
                Timeline(started, ended, start_wh, (Reading(ended, start_wh + energy),), ()),
                time_zone=ZoneInfo("UTC"),
            )
            pk = await connection.fetchval(
                """INSERT INTO transactions (charge_point_id, protocol, transaction_id,
                       evse_id, connector_id, id_token, authorization_status, started_at,
                       ended_at, meter_start_wh, meter_stop_wh, energy_wh, stop_reason,
                       tariff_id, tariff_version, currency, cost_excl_vat, cost_vat,
                       cost_incl_vat, cost_breakdown, cost_at, cost_final, closed_by)
                   VALUES ($1, 'ocpp2.0.1', $2, 1, 1, $3, 'Accepted', $4, $5, $6, $7, $8,
                       'Local', $9, $10, 'EUR', $11, $12, $13, $14, $5, true, 'charger')
                   RETURNING id""",
                cp,
                f"rec-{n}",
                tag,
                started,
                ended,
                start_wh,
                start_wh + energy,
                energy,
                tariff_id,
                version.version,
                breakdown.total_excl_vat,
                breakdown.total_vat,
                breakdown.total_incl_vat,
                breakdown.to_json(),
            )
            pks.append(pk)
            expected[account.id] += breakdown.total_incl_vat

    jobs = PgJobQueue(pool)
    for pk in pks:  # as the node enqueues them when sessions end
        await jobs.enqueue(SETTLE_SESSION, {"transaction_pk": pk}, dedupe_key=f"settle:{pk}")

    # two workers; one is killed (no clean shutdown) while it settles
    workers.append(await start_worker(database_url))
    workers.append(await start_worker(database_url))
    async with asyncio.timeout(TIMEOUT * 4):
        while await charged(pool, pks, workers) < SESSIONS // 5:
            await asyncio.sleep(0.05)
    workers[0].kill()
    await workers[0].wait()
    killed_at = await charged(pool, pks, workers)
    assert killed_at < SESSIONS, "the first worker was to die mid-run"
    workers.append(await start_worker(database_url))
    async with asyncio.timeout(TIMEOUT * 10):
        while await charged(pool, pks, workers) < SESSIONS:
            await asyncio.sleep(0.2)

    # exactly one charge per session, none to review, and the ledger agrees
    assert await charged(pool, pks, workers) == SESSIONS
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM settlement_reviews WHERE transaction_pk = ANY($1)", pks
        )
        == 0
    ), REVIEW_REASONS
    entries = await pool.fetchval(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'charge' AND transaction_pk = ANY($1)",
        pks,
    )
    assert entries == SESSIONS
    for account, _ in accounts:
        balances = await billing.balances(pool, account)
        charges_sum = await pool.fetchval(
            "SELECT sum(incl_vat) FROM charges WHERE account_id = $1", account.id
        )
        assert charges_sum == expected[account.id]
        if account.kind == PREPAID:  # paid from the wallet (not topped up: it goes negative)
            assert balances["wallet"] == -expected[account.id]
            assert balances["receivable"] == 0
        else:
            assert balances["receivable"] == expected[account.id]
            assert balances["wallet"] == 0
        assert balances["held"] == 0
    trial = await billing.trial_balance(pool)
    assert sum(amount for (_, currency), amount in trial.items() if currency == "EUR") == 0


CHARGERS = 40  # half 1.6, half 2.0.1
SESSIONS_EACH = 25
TOPPED_UP = Decimal("1000.00")


async def test_a_thousand_simulated_sessions_of_both_versions_settle_to_their_frozen_costs(
    node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
) -> None:
    """Sessions priced by the node from the simulators' meter values, settled by the worker:
    the ledger's totals equal the sum of the frozen session costs, per account."""
    services = Services(PostgresStores(pool), clock=utc_now)
    tariff_id = f"S-{secrets.token_hex(4)}"
    await services.tariffs.add(tariff_id, TARIFF, created_by="t")
    await services.tariffs.publish(tariff_id, published_by="t")
    accounts = []
    for n in range(CHARGERS // 2):
        if n % 2:
            account = await billing.add_account(pool, kind=POSTPAID, currency="EUR", name=f"P{n}")
        else:
            account = await billing.add_account(
                pool, kind=PREPAID, currency="EUR", name=f"W{n}", hold_amount=Decimal("20.00")
            )
            # a wallet with money: an empty one is refused at Authorize (NoCredit)
            topup = ledger.Entry(
                ledger.TOPUP,
                f"test-topup:{account.id}",
                (
                    ledger.debit(ledger.clearing("manual"), "EUR", TOPPED_UP),
                    ledger.credit(ledger.wallet(account.id), "EUR", TOPPED_UP),
                ),
                account_id=account.id,
            )
            assert await billing.post_one(pool, topup) is not None
        accounts.append(account)
    stations = []
    for n in range(CHARGERS):
        charger = await register_charger()
        await services.tariffs.assign(
            Scope.CHARGER, charger.charge_point_id, tariff_id, created_by="t"
        )
        tag = await register_token()  # a token per charger: no concurrent-session refusals
        await billing.link_token(pool, tag, accounts[n // 2].id)
        config = StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charger.charge_point_id,
            version="1.6" if n % 2 else "2.0.1",
            password=charger.password,
        )
        stations.append((Station(config), tag, n))

    async def drive(station: Station, tag: str, n: int) -> None:
        await station.connect()
        try:
            await station.boot()
            meter = 10_000 * n
            for i in range(SESSIONS_EACH):
                await station.authorize(tag)
                tx = await station.start_transaction(1, tag, meter)
                meter += 400 + 37 * i + n
                await station.send_meter_values(tx, meter)
                meter += 1_000 + 113 * i
                await station.stop_transaction(tx, "Local", meter_stop_wh=meter)
        finally:
            await station.disconnect()

    async with asyncio.timeout(TIMEOUT * 12):
        await asyncio.gather(*(drive(*s) for s in stations))
    ids = [s.config.charge_point_id for s, _, _ in stations]
    pks = [
        r["id"]
        for r in await pool.fetch(
            "SELECT id FROM transactions WHERE charge_point_id = ANY($1)", ids
        )
    ]
    assert len(pks) == CHARGERS * SESSIONS_EACH
    async with asyncio.timeout(TIMEOUT * 6):
        while await charged(pool, pks, []) < len(pks):
            await asyncio.sleep(0.2)

    frozen = await pool.fetch(
        """SELECT t.id, t.cost_incl_vat, t.cost_final, c.incl_vat, c.account_id
           FROM transactions t JOIN charges c ON c.transaction_pk = t.id
           WHERE t.id = ANY($1)""",
        pks,
    )
    assert len(frozen) == len(pks) and all(r["cost_final"] for r in frozen)
    assert all(r["incl_vat"] == r["cost_incl_vat"] for r in frozen)
    per_account: dict[int, Decimal] = {}
    for r in frozen:
        per_account[r["account_id"]] = (
            per_account.get(r["account_id"], Decimal(0)) + r["cost_incl_vat"]
        )
    assert set(per_account) == {a.id for a in accounts}
    for account in accounts:
        balances = await billing.balances(pool, account)
        owed = per_account[account.id]
        assert owed > 0
        if account.prepaid:
            assert (balances["wallet"], balances["receivable"]) == (TOPPED_UP - owed, 0)
        else:
            assert (balances["wallet"], balances["receivable"]) == (0, owed)
        assert balances["held"] == 0  # every hold released at settlement
    trial = await billing.trial_balance(pool)
    assert sum(amount for (_, currency), amount in trial.items() if currency == "EUR") == 0
