"""Node CPU per OCPP message, in process: ``ChargerConnection.handle`` with a real pool.

    python bench/handle.py                 # 1.6 MeterValues and 2.0.1 TransactionEvent
    python bench/handle.py --profile out.prof   # the same under cProfile
    python bench/handle.py --priced        # every session priced, costs shown (2.0.1)
    python bench/handle.py --priced --cost-interval 0   # a running cost at every message
    python bench/handle.py --authorize     # 1.6 and 2.0.1 Authorize (billing standing)

No sockets: it measures what the node does for a received frame (parse, validate,
dispatch, persist through the batch writers, journal, build the answer), with many
chargers in flight at once so batches fill as they do under load. Uses
CSMS_BENCH_DATABASE_URL / CSMS_TEST_DATABASE_URL, else embedded PostgreSQL. Prints
microseconds of process CPU per message. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import database_server, run_main, scratch_database  # noqa: E402

from csms.domain.clock import format_timestamp, utc_now  # noqa: E402
from csms.domain.price_display import DisplayCapability  # noqa: E402
from csms.domain.sites import Scope  # noqa: E402
from csms.logs import ChargerLog  # noqa: E402
from csms.node import v16, v201  # noqa: E402
from csms.node.connection import ChargerConnection  # noqa: E402
from csms.node.context import Context  # noqa: E402
from csms.node.runtime import running_node  # noqa: E402
from csms.services.link import ChargerLink  # noqa: E402
from csms.settings import NodeSettings  # noqa: E402
from csms.store import chargers, id_tokens  # noqa: E402
from csms.store.pool import migrate  # noqa: E402
from csms.store.postgres import PostgresStores  # noqa: E402

log = logging.getLogger("bench.handle")

STATEMENTS = [0]  # PostgreSQL statements sent (with --count-statements)


def _count_statements() -> None:
    """Count every statement the node sends (each is a round trip and a write(): the main
    cost of a message at low rates, when no batch gathers more than one)."""
    import asyncpg

    do_execute = asyncpg.Connection._do_execute  # type: ignore[attr-defined]
    execute = asyncpg.Connection.execute

    async def counted_do_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        STATEMENTS[0] += 1
        return await do_execute(self, *args, **kwargs)

    async def counted_execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # the simple query protocol; with arguments it is _do_execute
            STATEMENTS[0] += 1
        return await execute(self, query, *args, **kwargs)

    asyncpg.Connection._do_execute = counted_do_execute  # type: ignore[attr-defined]
    asyncpg.Connection.execute = counted_execute  # type: ignore[method-assign]


# 0.30/kWh + 2.00/h charging + 0.50 start, +21 % VAT; a cheaper night rate
BENCH_TARIFF = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": "0.22", "vat": "21", "step_size": 1}],
            "restrictions": {"start_time": "23:00", "end_time": "07:00"},
        },
        {
            "price_components": [
                {"type": "FLAT", "price": "0.50", "vat": "21", "step_size": 0},
                {"type": "ENERGY", "price": "0.30", "vat": "21", "step_size": 1},
                {"type": "TIME", "price": "2.00", "vat": "21", "step_size": 60},
            ]
        },
    ],
}


def _sampled(v201_: bool, wh: float) -> list[dict[str, Any]]:
    values = [
        ("Energy.Active.Import.Register", "", "Wh", wh), ("Power.Active.Import", "", "W", 11040),
        ("Current.Import", "L1", "A", 16.0), ("Current.Import", "L2", "A", 16.0),
        ("Current.Import", "L3", "A", 16.0), ("Voltage", "L1-N", "V", 230.1),
        ("Voltage", "L2-N", "V", 229.8), ("SoC", "", "Percent", 42),
    ]  # fmt: skip
    out = []
    for measurand, phase, unit, value in values:
        s: dict[str, Any] = {"measurand": measurand, "context": "Sample.Periodic"}
        if phase:
            s["phase"] = phase
        if v201_:
            s["value"], s["unitOfMeasure"] = value, {"unit": unit}
        else:
            s["value"], s["unit"] = str(value), unit
        out.append(s)
    return out


async def _open(conn: ChargerConnection, v201_: bool, n: int) -> str:
    """Boot and start a transaction; return its id."""
    cp = conn.charge_point_id
    now = format_timestamp(utc_now())
    if v201_:
        boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "B", "model": "M"}}
        await conn.handle(orjson.dumps([2, "b", "BootNotification", boot]))
        tx = f"T-{cp}"
        event = {
            "eventType": "Started", "timestamp": now, "triggerReason": "Authorized",
            "seqNo": 0, "transactionInfo": {"transactionId": tx},
            "idToken": {"idToken": "FLEET-TAG", "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1},
        }  # fmt: skip
        await conn.handle(orjson.dumps([2, "s", "TransactionEvent", event]))
        return tx
    boot = {"chargePointVendor": "B", "chargePointModel": "M"}
    await conn.handle(orjson.dumps([2, "b", "BootNotification", boot]))
    start = {"connectorId": 1, "idTag": "FLEET-TAG", "meterStart": 0, "timestamp": now}
    answer = await conn.handle(orjson.dumps([2, "s", "StartTransaction", start]))
    assert answer is not None
    reply = orjson.loads(answer)
    return str(reply[2]["transactionId"])


async def _boot(conn: ChargerConnection, v201_: bool, n: int) -> str:
    """Boot only (``--authorize``)."""
    if v201_:
        boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "B", "model": "M"}}
    else:
        boot = {"chargePointVendor": "B", "chargePointModel": "M"}
    await conn.handle(orjson.dumps([2, "b", "BootNotification", boot]))
    return ""


def _authorize_frame(v201_: bool, seq: int) -> bytes:
    if v201_:
        request: dict[str, Any] = {"idToken": {"idToken": "FLEET-TAG", "type": "ISO14443"}}
    else:
        request = {"idTag": "FLEET-TAG"}
    return orjson.dumps([2, f"a{seq}", "Authorize", request])


async def _bill_the_token(pool: Any, postings: int) -> None:
    """FLEET-TAG bills to a prepaid account whose wallet has a top-up and ``postings`` - 1
    charges on it (the standing query sums them)."""
    from decimal import Decimal

    from csms.domain import ledger
    from csms.store import billing

    account = await billing.add_account(
        pool, kind="prepaid", currency="EUR", name="bench", hold_amount=Decimal("10")
    )
    await billing.link_token(pool, "FLEET-TAG", account.id)
    wallet = ledger.wallet(account.id)
    entries = [
        ledger.Entry(
            ledger.TOPUP,
            f"bench-topup:{account.id}",
            (
                ledger.debit(ledger.clearing("manual"), "EUR", Decimal(10_000)),
                ledger.credit(wallet, "EUR", Decimal(10_000)),
            ),
            account_id=account.id,
        )
    ]
    for i in range(postings - 1):
        entries.append(
            ledger.Entry(
                ledger.CHARGE,
                f"bench-charge:{account.id}:{i}",
                (
                    ledger.debit(wallet, "EUR", Decimal("1.21")),
                    ledger.credit(ledger.REVENUE, "EUR", Decimal("1.00")),
                    ledger.credit(ledger.VAT_PAYABLE, "EUR", Decimal("0.21")),
                ),
                account_id=account.id,
            )
        )
    for entry in entries:
        await billing.post_one(pool, entry)


def _frame(v201_: bool, tx: str, seq: int) -> bytes:
    # one second apart: frames are built in a burst before the clock starts, and samples at
    # one time would be replays of the first (stored once), not new sets
    now = format_timestamp(utc_now() + timedelta(seconds=seq))
    if v201_:
        event = {
            "eventType": "Updated", "timestamp": now, "triggerReason": "MeterValuePeriodic",
            "seqNo": seq, "transactionInfo": {"transactionId": tx},
            "meterValue": [{"timestamp": now, "sampledValue": _sampled(True, 1000.0 + seq)}],
        }  # fmt: skip
        return orjson.dumps([2, f"m{seq}", "TransactionEvent", event])
    mv = {
        "connectorId": 1, "transactionId": int(tx),
        "meterValue": [{"timestamp": now, "sampledValue": _sampled(False, 1000.0 + seq)}],
    }  # fmt: skip
    return orjson.dumps([2, f"m{seq}", "MeterValues", mv])


async def run(args: argparse.Namespace) -> None:
    server = await database_server()
    # the run's database goes with it unless --keep
    async with scratch_database(server, "csms_bench_handle", keep=args.keep) as dsn:
        await measure(args, dsn)


async def measure(args: argparse.Namespace, dsn: str) -> None:
    await migrate(dsn)
    settings = NodeSettings(
        node_id="bench-handle",
        port=0,  # the node's listener is not used here; any free port
        cost_update_interval=args.cost_interval,
        billing_enabled=not args.no_billing,
        **(
            {}
            if args.event_gather_ms is None
            else {"event_batch_delay_ms": args.event_gather_ms}  # CSMS_EVENT_BATCH_DELAY_MS
        ),
    )
    redis_url = None
    if args.redis:  # a cluster member: live events published through Redis, as in the fleet
        redis_url = os.environ.get("CSMS_BENCH_REDIS_URL") or os.environ.get(
            "CSMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"
        )
        prefix = f"bench-{secrets.token_hex(3)}"
        settings = settings.model_copy(update={"redis_prefix": prefix})
    async with running_node(settings, dsn, redis_url) as node:
        services = node.services
        stores = services.stores
        assert isinstance(stores, PostgresStores)
        ids = [f"H-{i}" for i in range(args.chargers)]
        await chargers.add_chargers_bulk(stores.pool, ids, password_hash=None)
        await id_tokens.add_id_token(stores.pool, "FLEET-TAG", allow_concurrent=True)
        if args.authorize:
            await _bill_the_token(stores.pool, args.wallet_postings)
        if args.priced:
            await services.tariffs.add("BENCH", BENCH_TARIFF, created_by="bench")
            await services.tariffs.publish("BENCH", published_by="bench")
            await services.tariffs.assign(Scope.DEFAULT, "", "BENCH", created_by="bench")
        labels = ("1.6 MeterValues", "2.0.1 TransactionEvent")
        if args.authorize:
            labels = ("1.6 Authorize", "2.0.1 Authorize")
        for label, v201_ in zip(labels, (False, True), strict=True):
            if args.only and args.only != ("2.0.1" if v201_ else "1.6"):
                continue
            version = (v201 if v201_ else v16).VERSION
            conns = []
            for cp in ids:
                link = ChargerLink(cp, version.subprotocol, ChargerLog(log, cp))
                if args.priced:  # as if the charger had said it shows prices and costs
                    link.display = DisplayCapability(known=True, tariff=True, cost=True)
                conns.append(
                    ChargerConnection(
                        None,  # type: ignore[arg-type]
                        Context(link, services),
                        version,
                        journal=node.deps.journal,
                        metrics=node.deps.metrics,
                    )
                )
            opening = _boot if args.authorize else _open
            txs = await asyncio.gather(*(opening(c, v201_, i) for i, c in enumerate(conns)))

            def frames(tx: str, first: int, rounds: int, v201_: bool = v201_) -> list[bytes]:
                return [
                    _authorize_frame(v201_, seq) if args.authorize else _frame(v201_, tx, seq)
                    for seq in range(first, first + rounds)
                ]

            async def one(conn: ChargerConnection, sent: list[bytes]) -> None:
                for frame in sent:
                    reply = await conn.handle(frame)
                    assert reply is not None and reply[:2] == b"[3", reply

            await asyncio.gather(
                *(one(c, frames(t, 1, 3)) for c, t in zip(conns, txs, strict=True))
            )
            # built before the clock starts: what the charger sends is not the node's work
            timed = [frames(t, 4, args.rounds) for t in txs]
            profiler = cProfile.Profile() if args.profile else None
            await _settle(node)
            statements0 = STATEMENTS[0]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            await asyncio.gather(*(one(c, f) for c, f in zip(conns, timed, strict=True)))
            if profiler:
                profiler.disable()
                profiler.dump_stats(f"{args.profile}.{'v201' if v201_ else 'v16'}")
            await _settle(node)  # the journal rows of the last messages included
            cpu = time.process_time() - cpu0
            wall = time.perf_counter() - wall0
            messages = args.chargers * args.rounds
            statements = STATEMENTS[0] - statements0
            # counted in the database: 2.0.1 samples go with their event, not the meter writer
            stored = await stores.pool.fetchval("SELECT count(*) FROM meter_samples")
            sys.stdout.write(
                f"{label:24} {cpu / messages * 1e6:7.0f} us CPU/message "
                f"({messages} messages, {messages / wall:,.0f}/s wall, "
                f"{stored} sampled sets stored so far"
                + (
                    f", {statements / messages:.3f} statements/message"
                    if args.count_statements
                    else ""
                )
                + ")\n"
            )
    if redis_url is not None:  # the run's live events and cluster keys
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
        try:
            async for key in redis.scan_iter(match=f"{settings.redis_prefix}*"):
                await redis.delete(key)
        finally:
            await redis.aclose()


async def _settle(node: Any) -> None:
    """Wait until what was queued is written (the journal gathers for up to its delay)."""
    if node.deps.journal is not None:
        await node.deps.journal.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chargers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", choices=("1.6", "2.0.1"), help="one version only")
    parser.add_argument("--profile", help="write cProfile stats to PROFILE.v16 / PROFILE.v201")
    parser.add_argument(
        "--priced", action="store_true", help="a default tariff prices every session"
    )
    parser.add_argument(
        "--cost-interval",
        type=float,
        default=30.0,
        help="CSMS_COST_UPDATE_INTERVAL (seconds between running costs of a session)",
    )
    parser.add_argument(
        "--authorize",
        action="store_true",
        help="Authorize instead (the token bills to a prepaid account: its standing is read)",
    )
    parser.add_argument(
        "--wallet-postings",
        type=int,
        default=200,
        help="with --authorize: postings on the account's wallet (a top-up and charges)",
    )
    parser.add_argument("--no-billing", action="store_true", help="CSMS_BILLING_ENABLED=false")
    parser.add_argument(
        "--redis",
        action="store_true",
        help="join a cluster through Redis (CSMS_BENCH_REDIS_URL / CSMS_TEST_REDIS_URL) as a "
        "node in the fleet does: session events are published as live events",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's database")
    parser.add_argument(
        "--count-statements",
        action="store_true",
        help="count PostgreSQL statements per message (patches asyncpg; a little CPU more)",
    )
    parser.add_argument(
        "--event-gather-ms",
        type=float,
        help="with --redis: CSMS_EVENT_BATCH_DELAY_MS (how long live events gather a batch)",
    )
    args = parser.parse_args()
    if args.count_statements:
        _count_statements()
    run_main(run(args))


if __name__ == "__main__":
    main()
