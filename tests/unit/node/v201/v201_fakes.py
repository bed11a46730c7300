"""In-memory fakes for the 2.0.1 handler tests (the fixtures are in conftest.py).

:class:`FakeStore` stands in for the store functions the handlers (and
``csms.node.sessions``) call: it keeps plain dicts and mirrors the SQL semantics the handlers
rely on (an ended session does not change, a seqNo is recorded once, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from csms.domain.id_tokens import IdToken
from csms.store import chargers as charger_store
from csms.store.transactions import EventRecord, Transaction

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CHARGE_POINT_ID = "CP-201"
ENERGY = "Energy.Active.Import.Register"


class FakeWriter:
    """The node's meter BatchWriter: rows are 'committed' at once."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.rows: list[tuple[Any, ...]] = []

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.store.calls.append("store_samples")
        self.rows.extend(rows)


class FakeConnection:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.store.calls.append("begin")
        yield
        self.store.calls.append("commit")


class FakePool:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self.store)


@dataclass
class FakeStore:
    calls: list[str] = field(default_factory=list)
    boot_policy: str = "accept"
    boots: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[datetime] = field(default_factory=list)
    charger_status: dict[str, str] = field(default_factory=dict)
    connectors: dict[tuple[int, int], charger_store.ConnectorStatus] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)
    tokens: dict[str, IdToken] = field(default_factory=dict)
    transactions: dict[int, dict[str, Any]] = field(default_factory=dict)
    seq_nos: set[tuple[int, int]] = field(default_factory=set)
    writer: FakeWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = FakeWriter(self)

    # -- helpers for tests --------------------------------------------------------------

    def add_token(self, id_token: str, **kwargs: Any) -> None:
        values: dict[str, Any] = {
            "token_type": "ISO14443",
            "status": "Accepted",
            "expiry_date": None,
            "parent_id_token": None,
            "allow_concurrent": False,
        }
        values.update(kwargs)
        self.tokens[id_token] = IdToken(id_token=id_token, **values)

    def transaction(self, transaction_id: str) -> Transaction:
        for row in self.transactions.values():
            if row["transaction_id"] == transaction_id:
                return Transaction(**row)
        raise KeyError(transaction_id)

    def samples_of(self, pk: int) -> list[tuple[Any, ...]]:
        return [row for row in self.writer.rows if row[3] == pk]

    # -- chargers -------------------------------------------------------------------------

    async def get_charger(self, db: Any, charge_point_id: str) -> Any:
        return SimpleNamespace(boot_policy=self.boot_policy)

    async def record_boots(self, db: Any, boots: Sequence[charger_store.Boot]) -> dict[str, str]:
        status = {"accept": "Accepted", "pending": "Pending"}.get(self.boot_policy, "Rejected")
        for boot in boots:
            self.boots.append({"at": boot.at, "identity": boot.identity})
        return {boot.charge_point_id: status for boot in boots}

    async def record_heartbeat(self, db: Any, charge_point_id: str, at: datetime) -> None:
        self.heartbeats.append(at)

    async def record_charger_status(self, db: Any, charge_point_id: str, **kwargs: Any) -> None:
        self.charger_status.update({k: v for k, v in kwargs.items() if v is not None})

    async def upsert_connector_statuses(
        self, db: Any, statuses: Sequence[tuple[str, charger_store.ConnectorStatus]]
    ) -> None:
        for _, status in statuses:
            key = (status.evse_id, status.connector_id)
            old = self.connectors.get(key)
            if old is None or old.status_at <= status.status_at:
                self.connectors[key] = status

    # -- charger events and the device model ----------------------------------------------

    async def record_event_row(
        self, db: Any, charge_point_id: str, action: str, payload: dict[str, Any], **kw: Any
    ) -> None:
        self.events.append({"action": action, "payload": payload, **kw})

    async def upsert_variables(
        self, db: Any, charge_point_id: str, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        for row in rows:
            self.variables[row[:7]] = row[7:]

    # -- id tokens --------------------------------------------------------------------------

    async def get_id_token(self, db: Any, id_token: str) -> IdToken | None:
        return self.tokens.get(id_token)

    async def count_active_sessions(
        self, db: Any, id_token: str, *, excluding_pk: int | None = None
    ) -> int:
        return sum(
            1
            for pk, row in self.transactions.items()
            if row["id_token"] == id_token and row["ended_at"] is None and pk != excluding_pk
        )

    # -- transactions -----------------------------------------------------------------------

    async def open_ocpp201(
        self,
        db: Any,
        charge_point_id: str,
        transaction_id: str,
        *,
        started_at: datetime,
        evse_id: int,
        connector_id: int,
    ) -> Transaction:
        self.calls.append("open")
        for row in self.transactions.values():
            if row["transaction_id"] == transaction_id:
                return Transaction(**row)
        pk = len(self.transactions) + 1
        row = {f.name: None for f in fields(Transaction)}
        row.update(
            id=pk,
            charge_point_id=charge_point_id,
            protocol="ocpp2.0.1",
            transaction_id=transaction_id,
            evse_id=evse_id,
            connector_id=connector_id,
            started_at=started_at,
            offline=False,
            flags=[],
        )
        self.transactions[pk] = row
        return Transaction(**row)

    async def record_event(self, db: Any, pk: int, *, seq_no: int, **kwargs: Any) -> bool:
        self.calls.append("record_event")
        if (pk, seq_no) in self.seq_nos:
            return False
        self.seq_nos.add((pk, seq_no))
        return True

    async def update_ocpp201(self, db: Any, pk: int, **c: Any) -> None:
        self.calls.append("update")
        row = self.transactions[pk]
        if row["ended_at"] is not None:
            return
        row["last_seq_no"] = max(row["last_seq_no"] or c["seq_no"], c["seq_no"])
        row["last_trigger_reason"] = c["trigger_reason"]
        row["offline"] = row["offline"] or c["offline"]
        if c["started_at"] is not None:
            row["started_at"] = min(row["started_at"], c["started_at"])
        for name in ("evse_id", "connector_id", "charging_state"):  # newest wins
            if c[name] is not None:
                row[name] = c[name]
        for name in (  # first wins
            "id_token",
            "id_token_type",
            "authorization_status",
            "parent_id_token",
            "remote_start_id",
            "reservation_id",
        ):
            if row[name] is None:
                row[name] = c[name]

    async def record_and_update_ocpp201(
        self, db: Any, pk: int, *, event_type: str, occurred_at: Any, payload: Any, **c: Any
    ) -> bool:
        """The store's one-statement record + apply: both or neither."""
        if not await self.record_event(db, pk, seq_no=c["seq_no"]):
            return False
        await self.update_ocpp201(db, pk, **c)
        return True

    async def record_and_update_ocpp201_many(
        self, db: Any, events: Sequence[EventRecord]
    ) -> list[bool]:
        """The store's batched record + apply: in order, as one by one."""
        return [
            await self.record_and_update_ocpp201(
                db,
                e.pk,
                event_type=e.event_type,
                occurred_at=e.occurred_at,
                payload=e.payload,
                **e.changes,
            )
            for e in events
        ]

    async def finish(self, db: Any, pk: int, **c: Any) -> bool:
        self.calls.append("finish")
        row = self.transactions[pk]
        if row["ended_at"] is not None:
            return False
        row.update(
            ended_at=c["ended_at"],
            meter_stop_wh=c["meter_stop_wh"],
            energy_wh=c["energy_wh"],
            stop_reason=c["stop_reason"],
            stop_id_token=c["stop_id_token"] or row["stop_id_token"],
        )
        row["flags"] = row["flags"] + list(c["flags"])
        if row["meter_start_wh"] is None:
            row["meter_start_wh"] = c.get("meter_start_wh")
        return True

    async def set_stop_id_token(self, db: Any, pk: int, stop_id_token: str) -> None:
        row = self.transactions[pk]
        if row["ended_at"] is None:
            row["stop_id_token"] = stop_id_token

    async def register_readings_wh(self, db: Any, pk: int) -> tuple[Any, Any]:
        readings = sorted(
            (row[4], Decimal(row[10]) * (1000 if row[9] == "kWh" else 1))
            for row in self.samples_of(pk)
            if row[5] == ENERGY and row[6] == "" and row[10] is not None
            if row[9] in ("", "Wh", "kWh")
        )
        if not readings:
            return None, None
        return Decimal(readings[0][1]), Decimal(readings[-1][1])
