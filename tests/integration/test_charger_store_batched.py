"""The batched charger statements against a real PostgreSQL: each must leave what the
one-at-a-time function it replaces would leave (get_charger, record_boot,
upsert_connector_status, record_connection/record_disconnection)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import oracles
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csms.domain.chargers import Boot, ConnectorStatus, Presence
from csms.store import chargers

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OCPP16, OCPP201 = "ocpp1.6", "ocpp2.0.1"

# connected_protocol, connected_node, connection_epoch
Row = tuple[str | None, str | None, int | None]
DISCONNECTED: Row = (None, None, None)


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


async def new_chargers(pool: asyncpg.Pool, count: int, **registration: str) -> list[str]:
    ids = [f"CPB-{secrets.token_hex(5)}" for _ in range(count)]
    for charge_point_id in ids:
        await chargers.add_charger(pool, charge_point_id, password_hash=None, **registration)
    return ids


async def presence_rows(pool: asyncpg.Pool, ids: Sequence[str]) -> list[Row]:
    records = await pool.fetch(
        """SELECT charge_point_id, connected_protocol, connected_node, connection_epoch
           FROM chargers WHERE charge_point_id = ANY($1::text[])""",
        list(ids),
    )
    by_id = {r["charge_point_id"]: (r[1], r[2], r[3]) for r in records}
    return [by_id[i] for i in ids]


async def connect(pool: asyncpg.Pool, charge_point_id: str, node: str, epoch: int) -> None:
    await oracles.record_connection(
        pool, charge_point_id, protocol=OCPP16, node_id=node, epoch=epoch, at=at(0)
    )


def connected(cp: str, node: str, epoch: int, second: int, protocol: str = OCPP16) -> Presence:
    return Presence(cp, protocol, node, epoch, at(second))


def disconnected(cp: str, node: str, epoch: int, second: int) -> Presence:
    return Presence(cp, None, node, epoch, at(second))


# --- get_chargers ------------------------------------------------------------------------


async def test_get_chargers_returns_the_known_ones_by_id(pool: asyncpg.Pool) -> None:
    ids = await new_chargers(pool, 3)
    unknown = f"CPB-unknown-{secrets.token_hex(4)}"
    found = await chargers.get_chargers(pool, [ids[0], unknown, ids[2], ids[1]])
    assert set(found) == set(ids)
    for charge_point_id in ids:
        assert found[charge_point_id] == await chargers.get_charger(pool, charge_point_id)


async def test_get_chargers_of_nothing_is_empty(pool: asyncpg.Pool) -> None:
    assert await chargers.get_chargers(pool, []) == {}


# --- record_boots ------------------------------------------------------------------------


IDENTITY: dict[str, str | None] = {
    "vendor": "Acme",
    "model": "Wallbox",
    "serial_number": "SN-1",
    "firmware_version": "1.2.3",
    "iccid": "8988",
    "imsi": "262",
    "meter_type": "DC",
    "meter_serial_number": "MSN-1",
}


async def test_record_boots_answers_each_boot_policy(pool: asyncpg.Pool) -> None:
    accept, pending, reject = [
        (await new_chargers(pool, 1, boot_policy=policy))[0]
        for policy in ("accept", "pending", "reject")
    ]
    statuses = await chargers.record_boots(
        pool, [Boot(cp, at(1), {"vendor": "Acme"}) for cp in (accept, pending, reject)]
    )
    assert statuses == {accept: "Accepted", pending: "Pending", reject: "Rejected"}
    for charge_point_id, status in statuses.items():
        charger = await chargers.get_charger(pool, charge_point_id)
        assert charger is not None
        assert charger.registration_status == status


async def test_record_boots_stores_identity_and_times(pool: asyncpg.Pool) -> None:
    full, sparse = await new_chargers(pool, 2)
    await chargers.record_boots(
        pool, [Boot(full, at(5), IDENTITY), Boot(sparse, at(6), {"model": "Mini"})]
    )
    stored = await chargers.get_chargers(pool, [full, sparse])
    for field, value in IDENTITY.items():
        assert getattr(stored[full], field) == value
    assert (stored[full].last_boot_at, stored[full].last_seen_at) == (at(5), at(5))
    assert stored[sparse].model == "Mini"
    assert stored[sparse].vendor is None and stored[sparse].serial_number is None
    assert stored[sparse].last_boot_at == at(6)


async def test_record_boots_matches_record_boot(pool: asyncpg.Pool) -> None:
    one, batched = await new_chargers(pool, 2, boot_policy="pending")
    single = await oracles.record_boot(pool, one, at=at(3), identity=IDENTITY)
    statuses = await chargers.record_boots(pool, [Boot(batched, at(3), IDENTITY)])
    assert statuses == {batched: single}
    a, b = (await chargers.get_chargers(pool, [one, batched])).values()
    fields = ("registration_status", "last_boot_at", "last_seen_at", *IDENTITY)
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]


async def test_a_charger_booting_twice_in_one_batch_keeps_its_last_boot(
    pool: asyncpg.Pool,
) -> None:
    (charge_point_id,) = await new_chargers(pool, 1)
    statuses = await chargers.record_boots(
        pool,
        [
            Boot(charge_point_id, at(1), {"vendor": "Old", "firmware_version": "1.0"}),
            Boot(charge_point_id, at(2), {"vendor": "New", "firmware_version": "2.0"}),
        ],
    )
    assert statuses == {charge_point_id: "Accepted"}
    charger = await chargers.get_charger(pool, charge_point_id)
    assert charger is not None
    assert (charger.vendor, charger.firmware_version, charger.last_boot_at) == (
        "New",
        "2.0",
        at(2),
    )


async def test_record_boots_leaves_removed_and_unknown_chargers_out(pool: asyncpg.Pool) -> None:
    kept, removed = await new_chargers(pool, 2)
    await chargers.remove_charger(pool, removed)
    unknown = f"CPB-unknown-{secrets.token_hex(4)}"
    statuses = await chargers.record_boots(
        pool, [Boot(cp, at(1), IDENTITY) for cp in (removed, kept, unknown)]
    )
    assert statuses == {kept: "Accepted"}


async def test_record_boots_of_nothing(pool: asyncpg.Pool) -> None:
    assert await chargers.record_boots(pool, []) == {}


# --- upsert_connector_statuses -----------------------------------------------------------


def status(name: str, second: int, *, evse_id: int = 1, connector_id: int = 1) -> ConnectorStatus:
    return ConnectorStatus(
        evse_id=evse_id,
        connector_id=connector_id,
        status=name,
        error_code="NoError",
        info=f"info {name}",
        vendor_id=None,
        vendor_error_code=None,
        status_at=at(second),
    )


async def test_upsert_connector_statuses_stores_each_connector(pool: asyncpg.Pool) -> None:
    a, b = await new_chargers(pool, 2)
    await chargers.upsert_connector_statuses(
        pool,
        [
            (a, status("Available", 1, connector_id=1)),
            (a, status("Occupied", 1, connector_id=2)),
            (b, status("Faulted", 1, evse_id=0, connector_id=0)),
        ],
    )
    assert await chargers.list_connectors(pool, a) == [
        status("Available", 1, connector_id=1),
        status("Occupied", 1, connector_id=2),
    ]
    assert await chargers.list_connectors(pool, b) == [
        status("Faulted", 1, evse_id=0, connector_id=0)
    ]


async def test_the_newest_status_of_a_connector_in_one_batch_wins(pool: asyncpg.Pool) -> None:
    newer_last, newer_first = await new_chargers(pool, 2)
    await chargers.upsert_connector_statuses(
        pool,
        [
            (newer_last, status("Available", 1)),
            (newer_last, status("Occupied", 2)),
            (newer_first, status("Occupied", 2)),
            (newer_first, status("Available", 1)),  # replayed from a queue: older
        ],
    )
    assert await chargers.list_connectors(pool, newer_last) == [status("Occupied", 2)]
    assert await chargers.list_connectors(pool, newer_first) == [status("Occupied", 2)]


async def test_a_status_at_the_same_time_later_in_the_batch_wins(pool: asyncpg.Pool) -> None:
    """As one by one: an equal ``status_at`` overwrites (``<=``)."""
    batched, single = await new_chargers(pool, 2)
    sequence = [status("Available", 5), status("Reserved", 5)]
    await chargers.upsert_connector_statuses(pool, [(batched, s) for s in sequence])
    for one in sequence:
        await oracles.upsert_connector_status(pool, single, one)
    assert await chargers.list_connectors(pool, batched) == [status("Reserved", 5)]
    assert await chargers.list_connectors(pool, single) == [status("Reserved", 5)]


async def test_an_older_status_in_a_later_batch_changes_nothing(pool: asyncpg.Pool) -> None:
    (charge_point_id,) = await new_chargers(pool, 1)
    await chargers.upsert_connector_statuses(pool, [(charge_point_id, status("Occupied", 10))])
    await chargers.upsert_connector_statuses(
        pool,
        [(charge_point_id, status("Available", 4)), (charge_point_id, status("Faulted", 9))],
    )
    assert await chargers.list_connectors(pool, charge_point_id) == [status("Occupied", 10)]
    await chargers.upsert_connector_statuses(pool, [(charge_point_id, status("Available", 11))])
    assert await chargers.list_connectors(pool, charge_point_id) == [status("Available", 11)]


async def test_upsert_connector_statuses_of_a_removed_charger_fails_the_batch(
    pool: asyncpg.Pool,
) -> None:
    """One statement: a row that breaks a constraint fails it all (BatchCall then retries
    each item alone, see test_charger_batches.py)."""
    kept, removed = await new_chargers(pool, 2)
    await chargers.remove_charger(pool, removed)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await chargers.upsert_connector_statuses(
            pool, [(kept, status("Available", 1)), (removed, status("Available", 1))]
        )
    assert await chargers.list_connectors(pool, kept) == []


# --- record_presence ---------------------------------------------------------------------


async def test_a_connection_alone_is_recorded(pool: asyncpg.Pool) -> None:
    cp, other = await new_chargers(pool, 2)
    await connect(pool, other, "n1", 1)
    await chargers.record_presence(pool, [connected(cp, "n1", 3, 1, OCPP201)])
    assert await presence_rows(pool, [cp, other]) == [(OCPP201, "n1", 3), (OCPP16, "n1", 1)]
    charger = await chargers.get_charger(pool, cp)
    assert charger is not None and charger.last_seen_at == at(1)


async def test_a_connection_replaces_another_nodes_connection(pool: asyncpg.Pool) -> None:
    (cp,) = await new_chargers(pool, 1)
    await connect(pool, cp, "n1", 1)
    await chargers.record_presence(pool, [connected(cp, "n2", 2, 1)])
    assert await presence_rows(pool, [cp]) == [(OCPP16, "n2", 2)]


async def test_a_disconnection_of_the_current_connection_clears_it(pool: asyncpg.Pool) -> None:
    (cp,) = await new_chargers(pool, 1)
    await connect(pool, cp, "n1", 4)
    await chargers.record_presence(pool, [disconnected(cp, "n1", 4, 1)])
    assert await presence_rows(pool, [cp]) == [DISCONNECTED]
    charger = await chargers.get_charger(pool, cp)
    assert charger is not None and charger.last_seen_at == at(1)


@pytest.mark.parametrize(("node", "epoch"), [("n1", 3), ("n2", 4)])
async def test_a_disconnection_of_a_stale_connection_changes_nothing(
    pool: asyncpg.Pool, node: str, epoch: int
) -> None:
    (cp,) = await new_chargers(pool, 1)
    await connect(pool, cp, "n1", 4)
    await chargers.record_presence(pool, [disconnected(cp, node, epoch, 1)])
    assert await presence_rows(pool, [cp]) == [(OCPP16, "n1", 4)]
    charger = await chargers.get_charger(pool, cp)
    assert charger is not None and charger.last_seen_at == at(0)


async def test_a_disconnection_of_a_disconnected_charger_changes_nothing(
    pool: asyncpg.Pool,
) -> None:
    (cp,) = await new_chargers(pool, 1)
    await chargers.record_presence(pool, [disconnected(cp, "n1", 1, 1)])
    assert await presence_rows(pool, [cp]) == [DISCONNECTED]


async def test_connect_then_disconnect_of_the_same_connection_in_one_batch_clears(
    pool: asyncpg.Pool,
) -> None:
    (cp,) = await new_chargers(pool, 1)
    await connect(pool, cp, "n2", 9)
    await chargers.record_presence(
        pool, [connected(cp, "n1", 10, 1), disconnected(cp, "n1", 10, 2)]
    )
    assert await presence_rows(pool, [cp]) == [DISCONNECTED]


async def test_a_newer_connection_survives_the_old_ones_disconnection_in_one_batch(
    pool: asyncpg.Pool,
) -> None:
    """The classic replacement order: the new socket is accepted, then the old one closes."""
    (cp,) = await new_chargers(pool, 1)
    await connect(pool, cp, "n1", 1)
    await chargers.record_presence(pool, [connected(cp, "n1", 2, 1), disconnected(cp, "n1", 1, 2)])
    assert await presence_rows(pool, [cp]) == [(OCPP16, "n1", 2)]


async def test_a_newer_connection_survives_a_disconnection_from_another_node(
    pool: asyncpg.Pool,
) -> None:
    (cp,) = await new_chargers(pool, 1)
    await chargers.record_presence(
        pool,
        [connected(cp, "n1", 1, 1), connected(cp, "n2", 2, 2), disconnected(cp, "n1", 1, 3)],
    )
    assert await presence_rows(pool, [cp]) == [(OCPP16, "n2", 2)]


async def test_disconnect_then_connect_in_one_batch_ends_connected(pool: asyncpg.Pool) -> None:
    (cp,) = await new_chargers(pool, 1)
    await connect(pool, cp, "n1", 1)
    await chargers.record_presence(pool, [disconnected(cp, "n1", 1, 1), connected(cp, "n1", 2, 2)])
    assert await presence_rows(pool, [cp]) == [(OCPP16, "n1", 2)]


async def test_a_stale_disconnect_then_a_connect_in_one_batch_ends_connected(
    pool: asyncpg.Pool,
) -> None:
    (cp,) = await new_chargers(pool, 1)
    await chargers.record_presence(pool, [disconnected(cp, "n1", 7, 1), connected(cp, "n2", 8, 2)])
    assert await presence_rows(pool, [cp]) == [(OCPP16, "n2", 8)]


async def test_several_chargers_in_one_batch(pool: asyncpg.Pool) -> None:
    fresh, leaving, replaced, stale, bounced = await new_chargers(pool, 5)
    for cp in (leaving, replaced, stale):
        await connect(pool, cp, "n1", 1)
    await chargers.record_presence(
        pool,
        [
            connected(fresh, "n1", 5, 1),
            disconnected(leaving, "n1", 1, 1),
            connected(replaced, "n1", 2, 1),
            disconnected(stale, "n1", 99, 2),
            connected(bounced, "n2", 3, 2),
            disconnected(replaced, "n1", 1, 2),
            disconnected(bounced, "n2", 3, 3),
        ],
    )
    assert await presence_rows(pool, [fresh, leaving, replaced, stale, bounced]) == [
        (OCPP16, "n1", 5),
        DISCONNECTED,
        (OCPP16, "n1", 2),
        (OCPP16, "n1", 1),
        DISCONNECTED,
    ]


async def test_record_presence_of_nothing_and_of_unknown_chargers(pool: asyncpg.Pool) -> None:
    await chargers.record_presence(pool, [])
    unknown = f"CPB-unknown-{secrets.token_hex(4)}"
    await chargers.record_presence(
        pool, [connected(unknown, "n1", 1, 1), disconnected(unknown, "n1", 1, 2)]
    )
    assert await chargers.get_charger(pool, unknown) is None


async def test_two_disconnections_in_one_batch_the_first_naming_the_row(
    pool: asyncpg.Pool,
) -> None:
    """Two connections of one charger on one node, both recorded (the row names the later,
    epoch 2); the later closes first, then the earlier. One by one: the first disconnection
    clears the row, the second changes nothing."""
    batched, single = await new_chargers(pool, 2)
    for cp in (batched, single):
        await connect(pool, cp, "n1", 1)
        await connect(pool, cp, "n1", 2)
    await chargers.record_presence(
        pool, [disconnected(batched, "n1", 2, 1), disconnected(batched, "n1", 1, 2)]
    )
    await apply_one_by_one(
        pool, [disconnected(single, "n1", 2, 1), disconnected(single, "n1", 1, 2)]
    )
    assert await presence_rows(pool, [single]) == [DISCONNECTED]
    assert await presence_rows(pool, [batched]) == [DISCONNECTED]


# --- record_presence against record_connection / record_disconnection, generated ----------


async def apply_one_by_one(pool: asyncpg.Pool, changes: Sequence[Presence]) -> None:
    for change in changes:
        if change.protocol is not None:
            await oracles.record_connection(
                pool,
                change.charge_point_id,
                protocol=change.protocol,
                node_id=change.node_id,
                epoch=change.epoch,
                at=change.at,
            )
        else:
            await oracles.record_disconnection(
                pool,
                change.charge_point_id,
                node_id=change.node_id,
                epoch=change.epoch,
                at=change.at,
            )


NODES = st.sampled_from(["n1", "n2"])
EPOCHS = st.integers(min_value=1, max_value=3)
# a charger's row before the batch: disconnected, or connected with node/epoch
INITIAL = st.one_of(st.none(), st.tuples(NODES, EPOCHS))
# (which charger, connection or disconnection, node, epoch)
CHANGE = st.tuples(
    st.integers(min_value=0, max_value=2), st.sampled_from([OCPP16, OCPP201, None]), NODES, EPOCHS
)
Initial = tuple[str, int] | None
Change = tuple[int, str | None, str, int]


@settings(max_examples=40, deadline=None, database=None)
@given(
    initial=st.lists(INITIAL, min_size=1, max_size=3),
    sequence=st.lists(CHANGE, max_size=8),
)
@example(initial=[("n1", 2)], sequence=[(0, None, "n1", 2), (0, None, "n1", 1)]).via(
    "discovered failure"
)
@example(initial=[("n1", 1)], sequence=[(0, None, "n1", 1), (0, None, "n1", 2)]).via(
    "discovered failure"
)
async def test_record_presence_leaves_what_one_by_one_would(
    pool: asyncpg.Pool, initial: list[Initial], sequence: list[Change]
) -> None:
    count = len(initial)
    batched, single = await new_chargers(pool, count), await new_chargers(pool, count)
    for i, start in enumerate(initial):
        if start is not None:
            for cp in (batched[i], single[i]):
                await connect(pool, cp, *start)
    changes = [
        (index % count, Presence("", protocol, node, epoch, at(second)))
        for second, (index, protocol, node, epoch) in enumerate(sequence, start=1)
    ]

    def on(ids: list[str]) -> list[Presence]:
        return [Presence(ids[i], p.protocol, p.node_id, p.epoch, p.at) for i, p in changes]

    await chargers.record_presence(pool, on(batched))
    await apply_one_by_one(pool, on(single))
    assert await presence_rows(pool, batched) == await presence_rows(pool, single)
