"""Stations, chargers and waits shared by the end-to-end tests.

Every wait derives from ``tests.timeouts.TIMEOUT``. :func:`eventually` is the one polling
loop, for state that can only be observed by looking again (PostgreSQL rows, Redis keys);
everything else is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import asyncpg

from csms.cluster.bus import CommandClient
from csms.cluster.registry import DEFAULT_TTL as REGISTRY_TTL
from csms.passwords import hash_password
from csms.store import chargers, id_tokens, journal
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.station import Station, StationConfig
from simulators.transaction import Transaction
from tests.timeouts import TIMEOUT

T = TypeVar("T")
S = TypeVar("S", bound=Station)

VERSIONS = ("1.6", "2.0.1")
PASSWORD = "e2e-test-password-00000001"
# One Argon2 hash for every e2e charger: hashing is deliberately slow.
PASSWORD_HASH = hash_password(PASSWORD)
POLL = TIMEOUT / 100  # pause between two looks in eventually()
METER_INTERVAL = TIMEOUT / 50  # pace of periodic meter values of running sessions
COMMAND_TIMEOUT = TIMEOUT
NODE_GONE = REGISTRY_TTL + TIMEOUT  # a killed node's registration is gone by then
CLOSE_BOUND = TIMEOUT / 4  # CommandClient.close() is instant when healthy


async def close_client(client: CommandClient) -> None:
    """``client.close()``, bounded: it can wait for its reply listener indefinitely
    (test_e2e_tools.py shows it), which must not hang the whole run."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_BOUND):
            await client.close()


class RecordingStation(Station):
    """A simulated station that also remembers every CALL the CSMS sent it."""

    # every station a test made, so the fixture can disconnect them whatever happened
    made: ClassVar[list[RecordingStation]] = []

    def __init__(self, config: StationConfig) -> None:
        super().__init__(config)
        self.received: list[Call] = []
        RecordingStation.made.append(self)

    def answer(self, call: Call) -> CallResult | CallErrorFrame:
        self.received.append(call)
        return super().answer(call)

    def received_actions(self) -> list[str]:
        return [call.action for call in self.received]

    def commands_since(self, before: int) -> list[str]:
        """The actions received since ``before``, without the node's own session checks
        after a reconnect (GetTransactionStatus, TriggerMessage(TransactionEvent):
        docs/topics/sessions.md), which may interleave with a command."""
        return [call.action for call in self.received[before:] if not is_session_check(call)]


def new_station(url: str, charge_point_id: str, version: str) -> RecordingStation:
    return RecordingStation(
        StationConfig(
            url=url,
            charge_point_id=charge_point_id,
            version=version,
            password=PASSWORD,
            connectors=2,
            meter_interval=METER_INTERVAL,
            call_timeout=TIMEOUT,
            open_timeout=TIMEOUT,
        )
    )


async def disconnect_all() -> None:
    """Disconnect every station made so far (their sessions and follow-ups stop)."""
    stations, RecordingStation.made[:] = list(RecordingStation.made), []
    for station in stations:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_BOUND):
                await station.disconnect()


async def online(station: S) -> S:
    """Connect and boot (Accepted), as a charger does when it powers up."""
    await station.connect()
    response = await station.boot()
    assert response["status"] == "Accepted", response
    return station


async def move(station: Station, url: str) -> None:
    """Reconnect ``station`` to another node (a load balancer sending it elsewhere) and
    deliver what it queued meanwhile.

    The simulator has no API to change the endpoint: ``StationConfig`` is frozen, so the
    station gets a copy with the new url; ``reconnect()`` reads ``station.config``.
    """
    station.config = dataclasses.replace(station.config, url=url)
    await station.reconnect()
    await station.flush_queue()
    # answered only once the node serves the socket, i.e. after it claimed the charger
    await station.heartbeat()


async def closed(station: Station) -> tuple[int | None, str]:
    """The close code and reason, once the socket is closed (bounded)."""
    async with asyncio.timeout(TIMEOUT):
        return await station.wait_closed()


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, *, timeout: float = TIMEOUT
) -> T:
    """Look until ``probe`` returns something truthy; fail after ``timeout`` seconds."""
    last: T | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                last = await probe()
                if last:
                    return last
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:.0f} s: {what} (last: {last!r})") from None


async def until(predicate: Callable[[], bool], what: str, *, timeout: float = TIMEOUT) -> None:
    """:func:`eventually` for in-memory state (counters of running tasks)."""

    async def probe() -> bool:
        return predicate()

    await eventually(probe, what, timeout=timeout)


# -- PostgreSQL ---------------------------------------------------------------------------------


async def register_chargers(pool: asyncpg.Pool, count: int) -> list[str]:
    ids = [f"E2E-{secrets.token_hex(5)}" for _ in range(count)]
    for charge_point_id in ids:
        await chargers.add_charger(pool, charge_point_id, password_hash=PASSWORD_HASH)
    return ids


async def register_token(pool: asyncpg.Pool) -> str:
    id_token = f"TAG-{secrets.token_hex(4)}".upper()
    await id_tokens.add_id_token(pool, id_token)
    return id_token


async def transactions_of(pool: asyncpg.Pool, charge_point_id: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT * FROM transactions WHERE charge_point_id = $1 ORDER BY id", charge_point_id
        )
    )


async def periodic_samplings(pool: asyncpg.Pool, transaction_pk: int) -> int:
    """How many periodic meter value samplings of the session are stored."""
    count: int = await pool.fetchval(
        """SELECT count(DISTINCT sampled_at) FROM meter_values
           WHERE transaction_pk = $1 AND context = 'Sample.Periodic'""",
        transaction_pk,
    )
    return count


async def charger_row(pool: asyncpg.Pool, charge_point_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM chargers WHERE charge_point_id = $1", charge_point_id)
    assert row is not None
    return row


async def sent_calls(pool: asyncpg.Pool, charge_point_id: str, action: str) -> list[Any]:
    """The payloads of the CALLs of ``action`` the CSMS sent the charger (the journal)."""
    rows = await pool.fetch(
        """SELECT frame FROM charger_messages WHERE charge_point_id = $1
           AND direction = 'out' AND message_type = 2 AND action = $2 ORDER BY id""",
        charge_point_id,
        action,
    )
    return [journal.payload_of(2, row["frame"]) for row in rows]


async def journal_has(pool: asyncpg.Pool, charge_point_id: str, message_id: str) -> bool:
    found = await pool.fetchval(
        "SELECT 1 FROM charger_messages WHERE charge_point_id = $1 AND message_id = $2",
        charge_point_id,
        message_id,
    )
    return found is not None


# -- remotely started sessions ------------------------------------------------------------------


@dataclass
class Session:
    """A session a station runs after a remote start (periodic meter values included)."""

    station: RecordingStation
    id_token: str
    transaction_pk: int
    tx: Transaction

    @property
    def charge_point_id(self) -> str:
        return self.station.config.charge_point_id


async def start_session(
    client: CommandClient, pool: asyncpg.Pool, station: RecordingStation, id_token: str
) -> Session:
    """remote_start on connector 1; returns once PostgreSQL has the transaction and two
    periodic meter value samplings of it."""
    cp = station.config.charge_point_id
    result = await client.send(
        cp, "remote_start", {"id_token": id_token, "connector_id": 1}, timeout=COMMAND_TIMEOUT
    )
    assert result["response"] == {"status": "Accepted"}, result

    async def active() -> asyncpg.Record | None:
        tx = station.state.transactions.get(1)
        if tx is None or tx.transaction_id is None:
            return None
        rows = await transactions_of(pool, cp)
        return rows[0] if len(rows) == 1 and rows[0]["ended_at"] is None else None

    row: asyncpg.Record = await eventually(active, f"{cp}: the remotely started transaction")
    session = Session(station, id_token, row["id"], station.state.transactions[1])
    await metered(pool, session, 2)
    return session


async def metered(pool: asyncpg.Pool, session: Session, at_least: int) -> int:
    """Wait until ``at_least`` periodic samplings of the session are stored."""

    async def stored() -> int:
        count = await periodic_samplings(pool, session.transaction_pk)
        return count if count >= at_least else 0

    return await eventually(stored, f"{session.charge_point_id}: {at_least} periodic samplings")


async def stop_session(
    client: CommandClient, pool: asyncpg.Pool, session: Session
) -> asyncpg.Record:
    """remote_stop; returns the ended transaction row once the charger's stop arrived."""
    cp = session.charge_point_id
    result = await client.send(
        cp, "remote_stop", {"transaction_id": session.tx.transaction_id}, timeout=COMMAND_TIMEOUT
    )
    assert result["response"] == {"status": "Accepted"}, result

    async def ended() -> asyncpg.Record | None:
        rows = await transactions_of(pool, cp)
        return rows[0] if len(rows) == 1 and rows[0]["ended_at"] is not None else None

    return await eventually(ended, f"{cp}: the transaction ended")


def is_session_check(call: Call) -> bool:
    """A CALL the node sends by itself to a reconnected 2.0.1 charger with open sessions."""
    if call.action == "GetTransactionStatus":
        return True
    return call.action == "TriggerMessage" and (
        call.payload.get("requestedMessage") == "TransactionEvent"
    )
