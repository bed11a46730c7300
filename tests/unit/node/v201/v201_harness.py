"""The 2.0.1 handler tests' world: the in-memory stores (the same rules as PostgreSQL,
checked by tests/contract/), the services over them on a fixed clock, one connected
charger. No database, no network, no patching."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

from csms.domain.chargers import Charger, ConnectorStatus
from csms.domain.id_tokens import IdToken
from csms.domain.transactions import Transaction
from csms.logs import ChargerLog
from csms.node.context import Context
from csms.services import Services
from csms.services.link import ChargerLink
from csms.store.memory import MemoryStores

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CHARGE_POINT_ID = "CP-201"


class Recorder:
    """Wraps a port: remembers the order of the calls made to it (in ``calls``)."""

    def __init__(self, port: Any, calls: list[str]) -> None:
        self._port = port
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._port, name)
        if not callable(attribute):
            return attribute

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(name)
            return attribute(*args, **kwargs)

        return recorded


class RecordedStores:
    """MemoryStores whose session and meter ports record their calls."""

    def __init__(self, stores: MemoryStores, calls: list[str]) -> None:
        self.chargers = stores.chargers
        self.tokens = stores.tokens
        self.reports = stores.reports
        self.sessions = Recorder(stores.sessions, calls)
        self.meters = Recorder(stores.meters, calls)
        self.pricing = stores.pricing
        self.tariffs = stores.tariffs
        self.jobs = stores.jobs
        self.security_profiles = stores.security_profiles


class Harness:
    def __init__(self) -> None:
        self.memory = MemoryStores(clock=lambda: NOW)
        self._data = self.memory.chargers._data
        self.calls: list[str] = []
        self.services = Services(RecordedStores(self.memory, self.calls), clock=lambda: NOW)
        self._data.chargers[CHARGE_POINT_ID] = _charger()
        self.link = ChargerLink(
            CHARGE_POINT_ID,
            "ocpp2.0.1",
            ChargerLog(logging.getLogger("tests.v201"), CHARGE_POINT_ID),
            registration_status="Accepted",
        )
        self.ctx = Context(self.link, self.services)

    # -- set-up -----------------------------------------------------------------------------

    def add_token(self, id_token: str, **kwargs: Any) -> None:
        values: dict[str, Any] = {
            "token_type": "ISO14443",
            "status": "Accepted",
            "expiry_date": None,
            "parent_id_token": None,
            "allow_concurrent": False,
        }
        values.update(kwargs)
        self.memory.tokens.add(IdToken(id_token=id_token, **values))

    def set_boot_policy(self, policy: str) -> None:
        self._data.chargers[CHARGE_POINT_ID] = dataclasses.replace(self.charger, boot_policy=policy)

    # -- what was stored --------------------------------------------------------------------

    @property
    def charger(self) -> Charger:
        return self._data.chargers[CHARGE_POINT_ID]

    @property
    def transactions(self) -> dict[int, Transaction]:
        return self._data.sessions

    def transaction(self, transaction_id: str) -> Transaction:
        pk = self._data.session_ids[(CHARGE_POINT_ID, transaction_id)]
        return self._data.sessions[pk]

    @property
    def seq_nos(self) -> set[tuple[int, int]]:
        return set(self._data.events)

    @property
    def sample_rows(self) -> list[tuple[Any, ...]]:
        """(charger, evse, connector, session, sampled_at, measurand, phase, location,
        context, unit, value, raw value), as stored."""
        return [
            (*key[:3], pk, *key[3:], s.unit, s.value, s.raw_value)
            for key, (pk, s) in self._data.samples.items()
        ]

    def samples_of(self, pk: int) -> list[tuple[Any, ...]]:
        return [row for row in self.sample_rows if row[3] == pk]

    @property
    def connectors(self) -> dict[tuple[int, int], ConnectorStatus]:
        return {(k[1], k[2]): v for k, v in self._data.connectors.items()}

    @property
    def events(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(n) for _, n in self._data.notifications]

    @property
    def variables(self) -> dict[tuple[Any, ...], Any]:
        return {k[1]: v for k, v in self._data.variables.items()}


def _charger() -> Charger:
    values: dict[str, Any] = {f.name: None for f in dataclasses.fields(Charger)}
    values.update(
        charge_point_id=CHARGE_POINT_ID,
        auth_mode="none",
        boot_policy="accept",
        description="",
        created_at=NOW,
    )
    return Charger(**values)
