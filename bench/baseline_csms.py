"""The baseline: a CSMS written plainly on the ``ocpp`` package's ChargePoint, as its docs
show, doing the same database writes as csms (no auth, no batching, no caching).

Run: python bench/baseline_csms.py --dsn postgresql://... --port 9700
It serves /{charge_point_id} with subprotocols ocpp1.6 and ocpp2.0.1 and handles what the
fleet sends: BootNotification, Heartbeat, StatusNotification, StartTransaction,
MeterValues, StopTransaction (1.6) and TransactionEvent (2.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

POOL: asyncpg.Pool


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _journal(cp_id: str, action: str, payload: Any) -> None:
    await POOL.execute(
        "INSERT INTO charger_messages (charge_point_id, at, direction, message_type, message_id,"
        " action, payload) VALUES ($1, now(), 'in', 2, '-', $2, $3)",
        cp_id,
        action,
        payload,
    )


async def _meter_rows(
    cp_id: str, evse: int, connector: int, tx_pk: int | None, values: list[Any], v201: bool
) -> None:
    """One row per sampled set (meter_samples, ADR 0005), one query per set."""
    rows = []
    for mv in values:
        at = _ts(mv["timestamp"])
        sampled = mv["sampled_value"]
        units = [
            ((sv.get("unit_of_measure") or {}).get("unit", "") if v201 else sv.get("unit", ""))
            or ""
            for sv in sampled
        ]
        rows.append(
            (
                cp_id,
                evse,
                connector,
                tx_pk,
                at,
                sampled[0].get("context") or "",
                [sv.get("measurand", "Energy.Active.Import.Register") for sv in sampled],
                [sv.get("phase") or "" for sv in sampled],
                [sv.get("location") or "" for sv in sampled],
                units,
                [Decimal(str(sv["value"])) for sv in sampled],
            )
        )
    await POOL.executemany(
        "INSERT INTO meter_samples (charge_point_id, evse_id, connector_id, transaction_pk,"
        ' sampled_at, context, measurands, phases, locations, units, "values")'
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING",
        rows,
    )


class CP16(ChargePoint16):
    @on("BootNotification")
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **kw: Any) -> Any:
        await _journal(self.id, "BootNotification", {"vendor": charge_point_vendor})
        await POOL.execute(
            "UPDATE chargers SET registration_status='Accepted', vendor=$2, model=$3,"
            " last_boot_at=now() WHERE charge_point_id=$1",
            self.id,
            charge_point_vendor,
            charge_point_model,
        )
        return result16.BootNotification(current_time=_now(), interval=60, status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self) -> Any:
        await _journal(self.id, "Heartbeat", {})
        await POOL.execute(
            "UPDATE chargers SET last_heartbeat_at=now() WHERE charge_point_id=$1", self.id
        )
        return result16.Heartbeat(current_time=_now())

    @on("StatusNotification")
    async def on_status(self, connector_id: int, error_code: str, status: str, **kw: Any) -> Any:
        await _journal(self.id, "StatusNotification", {"status": status})
        await POOL.execute(
            "INSERT INTO connectors (charge_point_id, evse_id, connector_id, status, error_code, status_at)"
            " VALUES ($1, 0, $2, $3, $4, now()) ON CONFLICT (charge_point_id, evse_id, connector_id)"
            " DO UPDATE SET status=excluded.status",
            self.id,
            connector_id,
            status,
            error_code,
        )
        return result16.StatusNotification()

    @on("StartTransaction")
    async def on_start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw: Any
    ) -> Any:
        await _journal(self.id, "StartTransaction", {"idTag": id_tag})
        token = await POOL.fetchrow("SELECT status FROM id_tokens WHERE id_token=$1", id_tag)
        tid = random.randrange(1, 2**31 - 1)
        await POOL.execute(
            "INSERT INTO transactions (charge_point_id, protocol, transaction_id, connector_id, id_token,"
            " started_at, meter_start_wh) VALUES ($1,'ocpp1.6',$2,$3,$4,$5,$6)",
            self.id,
            str(tid),
            connector_id,
            id_tag,
            _ts(timestamp),
            meter_start,
        )
        status = token["status"] if token else "Invalid"
        return result16.StartTransaction(transaction_id=tid, id_tag_info={"status": status})

    @on("MeterValues")
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[Any],
        transaction_id: int | None = None,
        **kw: Any,
    ) -> Any:
        await _journal(self.id, "MeterValues", {"transactionId": transaction_id})
        pk = await POOL.fetchval(
            "SELECT id FROM transactions WHERE charge_point_id=$1 AND transaction_id=$2",
            self.id,
            str(transaction_id),
        )
        await _meter_rows(self.id, 0, connector_id, pk, meter_value, False)
        return result16.MeterValues()

    @on("StopTransaction")
    async def on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, **kw: Any) -> Any:
        await _journal(self.id, "StopTransaction", {"transactionId": transaction_id})
        await POOL.execute(
            "UPDATE transactions SET ended_at=$3, meter_stop_wh=$4 WHERE charge_point_id=$1 AND transaction_id=$2",
            self.id,
            str(transaction_id),
            _ts(timestamp),
            meter_stop,
        )
        return result16.StopTransaction()


class CP201(ChargePoint201):
    @on("BootNotification")
    async def on_boot(self, charging_station: dict[str, Any], reason: str, **kw: Any) -> Any:
        await _journal(self.id, "BootNotification", {"reason": reason})
        await POOL.execute(
            "UPDATE chargers SET registration_status='Accepted', vendor=$2, model=$3,"
            " last_boot_at=now() WHERE charge_point_id=$1",
            self.id,
            charging_station["vendor_name"],
            charging_station["model"],
        )
        return result201.BootNotification(current_time=_now(), interval=60, status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self) -> Any:
        await _journal(self.id, "Heartbeat", {})
        await POOL.execute(
            "UPDATE chargers SET last_heartbeat_at=now() WHERE charge_point_id=$1", self.id
        )
        return result201.Heartbeat(current_time=_now())

    @on("StatusNotification")
    async def on_status(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kw: Any
    ) -> Any:
        await _journal(self.id, "StatusNotification", {"status": connector_status})
        await POOL.execute(
            "INSERT INTO connectors (charge_point_id, evse_id, connector_id, status, status_at)"
            " VALUES ($1, $2, $3, $4, now()) ON CONFLICT (charge_point_id, evse_id, connector_id)"
            " DO UPDATE SET status=excluded.status",
            self.id,
            evse_id,
            connector_id,
            connector_status,
        )
        return result201.StatusNotification()

    @on("TransactionEvent")
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kw: Any,
    ) -> Any:
        await _journal(self.id, "TransactionEvent", {"seqNo": seq_no})
        tx_id = transaction_info["transaction_id"]
        pk = await POOL.fetchval(
            "INSERT INTO transactions (charge_point_id, protocol, transaction_id, started_at)"
            " VALUES ($1,'ocpp2.0.1',$2,$3) ON CONFLICT (charge_point_id, transaction_id)"
            " DO UPDATE SET updated_at=now() RETURNING id",
            self.id,
            tx_id,
            _ts(timestamp),
        )
        await POOL.execute(
            "INSERT INTO transaction_events (transaction_pk, seq_no, event_type, trigger_reason, occurred_at, payload)"
            " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
            pk,
            seq_no,
            event_type,
            trigger_reason,
            _ts(timestamp),
            {"seqNo": seq_no},
        )
        if kw.get("meter_value"):
            evse = kw.get("evse") or {}
            await _meter_rows(
                self.id, evse.get("id", 0), evse.get("connector_id", 0), pk, kw["meter_value"], True
            )
        if event_type == "Ended":
            await POOL.execute(
                "UPDATE transactions SET ended_at=$2 WHERE id=$1", pk, _ts(timestamp)
            )
        response: dict[str, Any] = {}
        if kw.get("id_token"):
            response["id_token_info"] = {"status": "Accepted"}
        return result201.TransactionEvent(**response)


async def handler(websocket: Any) -> None:
    cp_id = websocket.request.path.strip("/").split("/")[-1]
    cls = CP201 if websocket.subprotocol == "ocpp2.0.1" else CP16
    try:
        await cls(cp_id, websocket).start()
    except websockets.ConnectionClosed:
        pass


async def main() -> None:
    global POOL
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, default=9700)
    args = parser.parse_args()

    async def init(connection: asyncpg.Connection) -> None:
        import json

        await connection.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )

    POOL = await asyncpg.create_pool(args.dsn, min_size=2, max_size=10, init=init)
    async with websockets.serve(
        handler,
        "127.0.0.1",
        args.port,
        subprotocols=["ocpp1.6", "ocpp2.0.1"],
        compression=None,
        backlog=4096,  # as the node: the same connect storm must not drop SYNs
    ):
        import sys

        sys.stdout.write(f"baseline listening on ws://127.0.0.1:{args.port}\n")
        sys.stdout.flush()
        await asyncio.Future()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
