"""Fixtures for the 2.0.1 handler tests: an in-memory store, a session on a fixed clock.
No database, no network."""

from __future__ import annotations

import logging

import pytest
from v201_fakes import CHARGE_POINT_ID, NOW, FakePool, FakeStore

from csms.logs import ChargerLog
from csms.node.context import NodeServices, Session
from csms.settings import NodeSettings
from csms.store import charger_events, id_tokens, meter_values, transactions
from csms.store import chargers as charger_store


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    fake = FakeStore()
    for module, names in (
        (
            charger_store,
            (
                "get_charger",
                "record_boots",
                "record_heartbeat",
                "record_charger_status",
                "upsert_connector_statuses",
            ),
        ),
        (charger_events, ("upsert_variables",)),
        (id_tokens, ("get_id_token", "count_active_sessions")),
        (
            transactions,
            (
                "open_ocpp201",
                "record_event",
                "update_ocpp201",
                "finish",
                "set_stop_id_token",
                "record_and_update_ocpp201_many",
            ),
        ),
        (meter_values, ("register_readings_wh",)),
    ):
        for name in names:
            monkeypatch.setattr(module, name, getattr(fake, name))
    monkeypatch.setattr(charger_events, "record", fake.record_event_row)
    return fake


@pytest.fixture
def session(store: FakeStore) -> Session:
    services = NodeServices(
        settings=NodeSettings(),
        pool=FakePool(store),  # type: ignore[arg-type]
        clock=lambda: NOW,
        meter_writer=store.writer,  # type: ignore[arg-type]
        journal_writer=None,
    )
    return Session(
        charge_point_id=CHARGE_POINT_ID,
        subprotocol="ocpp2.0.1",
        services=services,
        log=ChargerLog(logging.getLogger("tests.v201"), CHARGE_POINT_ID),
        registration_status="Accepted",
    )
