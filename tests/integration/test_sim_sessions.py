"""Full sessions driven by the simulators over real WebSockets, for both OCPP versions.

Covers the issue's user story: boot, status, authorize, charge with meter values, stop, and
the offline queue replayed after a reconnect (exactly one transaction, no duplicated meter
values). 1.6: sections 4.8/4.10/6.x; 2.0.1: E01-E07, E12 (TC_E_01_CSMS, TC_E_39_CSMS).
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from simulators.scenarios import run_session
from simulators.station import Station, StationConfig
from tests.integration.conftest import RegisterCharger, RegisterToken

VERSIONS = ["1.6", "2.0.1"]


def station(url: str, charge_point_id: str, password: str | None, version: str) -> Station:
    return Station(
        StationConfig(
            url=url,
            charge_point_id=charge_point_id,
            version=version,
            password=password,
            connectors=2,
            meter_interval=0.05,
        )
    )


async def transactions_of(pool: asyncpg.Pool, charge_point_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM transactions WHERE charge_point_id = $1 ORDER BY id", charge_point_id
    )


async def meter_rows(pool: asyncpg.Pool, transaction_pk: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM meter_values WHERE transaction_pk = $1 ORDER BY sampled_at", transaction_pk
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_full_session_is_persisted(
    url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    charger = await register_charger()
    tag = await register_token()
    st = station(url, charger.charge_point_id, charger.password, version)

    summary = await run_session(st, tag, meter_values=3)

    assert summary["authorization"] == "Accepted"
    row = await pool.fetchrow(
        "SELECT * FROM chargers WHERE charge_point_id = $1", charger.charge_point_id
    )
    assert row is not None
    assert row["registration_status"] == "Accepted"
    assert (row["vendor"], row["model"]) == ("SimVendor", "SimModel")
    connectors = await pool.fetch(
        "SELECT status FROM connectors WHERE charge_point_id = $1", charger.charge_point_id
    )
    assert {c["status"] for c in connectors} == {"Available"}
    (tx,) = await transactions_of(pool, charger.charge_point_id)
    assert tx["id_token"] == tag
    assert tx["authorization_status"] == "Accepted"
    assert tx["ended_at"] is not None
    assert tx["meter_stop_wh"] >= tx["meter_start_wh"]
    assert tx["energy_wh"] == tx["meter_stop_wh"] - tx["meter_start_wh"]
    assert str(tx["transaction_id"]) == str(summary["transaction_id"])
    samples = await meter_rows(pool, tx["id"])
    measurands = {s["measurand"] for s in samples}
    assert {"Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"} <= measurands
    assert {s["phase"] for s in samples if s["measurand"] == "Current.Import"} == {
        "L1",
        "L2",
        "L3",
    }
    # 3 periodic samplings of >= 6 sampled values each
    periodic = [s for s in samples if s["context"] == "Sample.Periodic"]
    assert len({s["sampled_at"] for s in periodic}) >= 3
    assert len(periodic) >= 18


@pytest.mark.parametrize("version", VERSIONS)
async def test_offline_queue_replay_gives_exactly_one_transaction(
    url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    charger = await register_charger()
    tag = await register_token()
    st = station(url, charger.charge_point_id, charger.password, version)
    await st.connect()
    await st.boot()
    tx = await st.start_transaction(1, tag, meter_start_wh=1000)
    await st.send_meter_values(tx)

    await st.drop()  # network cut: the next messages are queued
    for _ in range(2):
        # distinct sample times: timestamps have millisecond resolution, and samples of the
        # same measurand at the same instant are one sample
        await asyncio.sleep(0.002)
        assert await st.send_meter_values(tx) is None
    assert await st.stop_transaction(tx, reason="Local", meter_stop_wh=4000) is None
    assert st.pending_transaction_messages == 3

    await st.reconnect()
    await st.boot()  # auto replay
    assert st.pending_transaction_messages == 0
    assert st.replay_errors == []
    # and a charger that replays its last message once more changes nothing
    await st.replay_last_transaction_message(new_message_id=True)
    await st.disconnect()

    (row,) = await transactions_of(pool, charger.charge_point_id)
    assert row["ended_at"] is not None
    assert (row["meter_start_wh"], row["meter_stop_wh"], row["energy_wh"]) == (1000, 4000, 3000)
    samples = await meter_rows(pool, row["id"])
    keys = [
        (s["sampled_at"], s["measurand"], s["phase"], s["location"], s["context"]) for s in samples
    ]
    assert len(keys) == len(set(keys))
    assert len({s["sampled_at"] for s in samples if s["context"] == "Sample.Periodic"}) == 3
    if version == "2.0.1":
        events = await pool.fetch(
            "SELECT seq_no, offline FROM transaction_events WHERE transaction_pk = $1"
            " ORDER BY seq_no",
            row["id"],
        )
        assert [e["seq_no"] for e in events] == list(range(len(events)))
        assert any(e["offline"] for e in events)
        assert row["offline"] is True


@pytest.mark.parametrize("version", VERSIONS)
async def test_blocked_tag_started_offline_is_answered_blocked(
    url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    """1.6 5.19 / 2.0.1 E01.FR.11 + C01: the CSMS re-checks a token used offline."""
    charger = await register_charger()
    tag = await register_token(status="Blocked")
    st = station(url, charger.charge_point_id, charger.password, version)
    await st.connect()
    await st.boot()
    await st.drop()
    tx = await st.start_transaction(1, tag)
    await st.reconnect()
    await st.boot()
    await st.disconnect()
    assert tx.start_response is not None
    info = tx.start_response.get("idTagInfo") or tx.start_response.get("idTokenInfo")
    assert info is not None and info["status"] == "Blocked"
    (row,) = await transactions_of(pool, charger.charge_point_id)
    assert row["authorization_status"] == "Blocked"
