"""Sessions, differential: generated sequences of session operations run on PostgreSQL and
in memory side by side must return the same and leave the same sessions.

Sequenced messages (record_and_apply) come in groups gathered at once, so PostgreSQL's
``BatchCall`` batches them (several of one session in one batch: one round each, in call
order), with replays of seqNos within and across groups. Sessions are compared field by
field; only the row id differs, and the transaction id the CSMS draws (random on each side).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from contract_helpers import (
    DIFFERENTIAL,
    OCPP16,
    OCPP201,
    Backend,
    MemoryBackend,
    PostgresBackend,
    at,
    changes,
    ending,
    fields_of,
    new_session,
    unique,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csms.domain.transactions import Ending, EventRecord, SessionChanges, Transaction

pytestmark = pytest.mark.integration

# Tokens are generated as suffixes ("a" and "A" are one token, case-insensitively) and get
# a prefix unique to the example: the database is shared, and counts span every charger.
TOKENS = st.sampled_from(["a", "A", "b"])
SECONDS = st.integers(min_value=0, max_value=120)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def session_changes(*, sequenced: bool) -> st.SearchStrategy[SessionChanges]:
    """Changes of a message; a sequenced one has its seqNo and trigger reason."""
    seq_no = st.integers(min_value=0, max_value=6)
    trigger = st.sampled_from(["Authorized", "MeterValuePeriodic", "ChargingStateChanged"])
    return st.builds(
        SessionChanges,
        seq_no=seq_no if sequenced else maybe(seq_no),
        trigger_reason=trigger if sequenced else maybe(trigger),
        offline=st.booleans(),
        started_at=maybe(SECONDS.map(at)),
        evse_id=maybe(st.integers(min_value=0, max_value=3)),
        connector_id=maybe(st.integers(min_value=0, max_value=3)),
        id_token=maybe(TOKENS),
        id_token_type=maybe(st.sampled_from(["ISO14443", "eMAID"])),
        authorization_status=maybe(st.sampled_from(["Accepted", "Blocked", "ConcurrentTx"])),
        parent_id_token=maybe(st.sampled_from(["G1", "G2"])),
        charging_state=maybe(st.sampled_from(["Charging", "EVConnected", "SuspendedEV"])),
        remote_start_id=maybe(st.integers(min_value=1, max_value=3)),
        reservation_id=maybe(st.integers(min_value=1, max_value=3)),
        stop_id_token=maybe(TOKENS),
    )


WH = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)
ENDINGS = st.builds(
    Ending,
    ended_at=SECONDS.map(at),
    meter_start_wh=maybe(WH),
    meter_stop_wh=maybe(WH),
    energy_wh=maybe(WH),
    flags=st.lists(st.sampled_from(["no_meter_reading", "meter_stop_below_start"]), max_size=2).map(
        tuple
    ),
    stop_reason=maybe(st.sampled_from(["Local", "Remote", "EVDisconnected"])),
    stop_id_token=maybe(TOKENS),
    close_reason=maybe(st.sampled_from(["superseded", "rebooted"])),  # a close by the CSMS
)
SESSION = st.integers(min_value=0, max_value=7)  # which opened session (modulo how many)

# One operation: (name, arguments). "events" is a group gathered at once.
OPEN = st.tuples(
    st.just("open"),
    st.tuples(st.integers(min_value=0, max_value=2), SECONDS, st.integers(0, 2), st.integers(0, 2)),
)
START = st.tuples(
    st.just("start"),
    st.tuples(
        TOKENS, st.integers(1, 2), st.integers(0, 1), st.sampled_from([0, 100]),
        st.sampled_from(["Accepted", "Blocked"]),
    ),
)  # fmt: skip
EVENTS = st.tuples(
    st.just("events"),
    st.lists(st.tuples(SESSION, session_changes(sequenced=True)), min_size=1, max_size=5),
)
APPLY = st.tuples(st.just("apply"), st.tuples(SESSION, session_changes(sequenced=False)))
RECORD = st.tuples(st.just("record"), st.tuples(SESSION, session_changes(sequenced=True)))
FINISH = st.tuples(st.just("finish"), st.tuples(SESSION, ENDINGS))
COUNT = st.tuples(st.just("count"), st.tuples(TOKENS, maybe(SESSION)))
OPEN_SESSIONS = st.tuples(st.just("open_sessions"), st.none())
ACTIVITY = st.tuples(st.just("activity"), SESSION)
# a program opens a session first, so that what follows has one to go to
OPERATIONS = st.tuples(
    OPEN,
    st.lists(
        st.one_of(
            OPEN, START, EVENTS, EVENTS, APPLY, RECORD, FINISH, COUNT, OPEN_SESSIONS, ACTIVITY
        ),
        max_size=12,
    ),
).map(lambda program: [program[0], *program[1]])
Operation = tuple[str, Any]


class Side:
    """One implementation running the program: its sessions in the order they were made."""

    def __init__(self, backend: Backend, charge_point_id: str, prefix: str) -> None:
        self.backend = backend
        self.sessions = backend.stores.sessions
        self.cp = charge_point_id
        self.prefix = prefix
        self.pks: list[int] = []

    def token(self, suffix: str | None) -> str | None:
        return None if suffix is None else f"{self.prefix}{suffix}"

    def changes(self, changes: SessionChanges) -> SessionChanges:
        return dataclasses.replace(
            changes,
            id_token=self.token(changes.id_token),
            stop_id_token=self.token(changes.stop_id_token),
        )

    def pk(self, index: int) -> int:
        return self.pks[index % len(self.pks)]

    def remember(self, session: Transaction) -> None:
        if session.id not in self.pks:
            self.pks.append(session.id)

    async def run(self, name: str, args: Any) -> Any:
        """Carry out one operation; what it returned, comparable with the other side's."""
        if name == "open":
            index, second, evse_id, connector_id = args
            opened = await self.sessions.open_named(
                self.cp, f"TX-{index}", protocol=OCPP201, started_at=at(second),
                evse_id=evse_id, connector_id=connector_id,
            )  # fmt: skip
            self.remember(opened)
            return comparable(opened)
        if name == "start":
            suffix, connector_id, second, meter_start, status = args
            token = self.token(suffix)
            assert token is not None
            new = new_session(
                token, connector_id=connector_id, started_at=at(second),
                meter_start_wh=meter_start, authorization_status=status,
            )  # fmt: skip
            started, created = await self.sessions.create_started(self.cp, new)
            self.remember(started)
            return comparable(started), created
        if name == "open_sessions":
            return [comparable(s) for s in await self.sessions.open_sessions(self.cp)]
        if not self.pks:
            return None  # nothing opened yet: the operation has no session to go to
        if name == "activity":
            return await self.sessions.last_activity(self.pk(args))
        if name == "events":
            events = [
                EventRecord(self.pk(i), "Updated", occurred(c), {"n": n}, self.changes(c))
                for n, (i, c) in enumerate(args)
            ]
            return await asyncio.gather(*(self.sessions.record_and_apply(e) for e in events))
        if name == "apply":
            index, changes = args
            return await self.sessions.apply(self.pk(index), self.changes(changes))
        if name == "record":
            index, changes = args
            record = EventRecord(
                self.pk(index), "Ended", occurred(changes), {}, self.changes(changes)
            )
            return await self.sessions.record_event(record)
        if name == "finish":
            index, how = args
            how = dataclasses.replace(how, stop_id_token=self.token(how.stop_id_token))
            return await self.sessions.finish(self.pk(index), how)
        if name == "count":
            suffix, excluded = args
            token = self.token(suffix)
            assert token is not None
            excluding = None if excluded is None else self.pk(excluded)
            return await self.sessions.count_active_for_token(token, excluding_pk=excluding)
        raise AssertionError(name)

    async def state(self) -> list[dict[str, Any]]:
        """Every session, as stored, in the order they were made."""
        found = [await self.sessions.get_by_pk(pk) for pk in self.pks]
        for session in found:
            assert session is not None
            assert await self.sessions.get(self.cp, session.transaction_id) == session
        return [comparable(s) for s in found if s is not None]


def occurred(changes: SessionChanges) -> datetime:
    """When a generated message happened (its seqNo's tens of seconds after T0)."""
    return at(10 * (changes.seq_no or 0))


def comparable(session: Transaction) -> dict[str, Any]:
    """A session's fields but its row id, and the transaction id if the CSMS drew it."""
    values = fields_of(session, ignore=("id",))
    if session.protocol == OCPP16:
        values["transaction_id"] = "drawn"
    return values


async def run_both(pool: asyncpg.Pool, operations: Sequence[Operation]) -> None:
    cp, prefix = unique("CD"), unique("tok").lower()
    sides = [Side(PostgresBackend(pool), cp, prefix), Side(MemoryBackend(), cp, prefix)]
    for side in sides:
        await side.backend.add_charger(cp)
    for step, (name, args) in enumerate(operations):
        postgres, memory = [await side.run(name, args) for side in sides]
        assert postgres == memory, f"step {step}: {name}"
    postgres_state, memory_state = [await side.state() for side in sides]
    assert postgres_state == memory_state
    for suffix in ("a", "b"):
        counts = [await s.sessions.count_active_for_token(f"{prefix}{suffix}") for s in sides]
        assert counts[0] == counts[1]
    await sides[0].backend.settle()


# one session's messages at once, a replay among them, then a replay of the group
REPLAYS: list[Operation] = [
    ("open", (0, 10, 1, 1)),
    ("events", [
        (0, changes(1, trigger_reason="Authorized", id_token="a", id_token_type="ISO14443",
                    authorization_status="Accepted", charging_state="Charging")),
        (0, changes(2, offline=True, started_at=at(5), evse_id=2, id_token="b",
                    charging_state="SuspendedEV", remote_start_id=1, stop_id_token="A")),
        (0, changes(1, trigger_reason="Authorized", charging_state="EVConnected")),
    ]),
    ("finish", (0, ending(at(60), meter_stop_wh=Decimal(10), energy_wh=Decimal(10)))),
    ("events", [(0, changes(3, charging_state="Charging"))]),
    ("count", ("A", None)),
    ("activity", 0),
]  # fmt: skip
# closed by the CSMS, by the CSMS again (nothing), then the charger's late stop (wins, once)
LATE_STOP: list[Operation] = [
    ("open", (0, 10, 1, 1)),
    ("finish", (0, ending(at(60), flags=("meter_stop_estimated",), close_reason="superseded"))),
    ("finish", (0, ending(at(70), close_reason="rebooted"))),
    ("finish", (0, ending(at(90), stop_reason="Local", stop_id_token="b"))),
    ("finish", (0, ending(at(95), stop_reason="Remote"))),
    ("open_sessions", None),
]


@settings(DIFFERENTIAL, max_examples=60)
@given(operations=OPERATIONS)
@example(operations=REPLAYS)
@example(operations=LATE_STOP)
async def test_session_operations_leave_the_same_sessions(
    pool: asyncpg.Pool, operations: list[Operation]
) -> None:
    await run_both(pool, operations)
