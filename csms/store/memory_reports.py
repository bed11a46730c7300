"""What chargers report (configuration, variables, notifications), in memory
(csms.store.memory)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.domain.fleet_config import variable_setting
from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
    variable_value,
)
from csms.store.memory_sessions import _first

if TYPE_CHECKING:
    from csms.store.memory import _Data


class MemoryReports:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._next_id = 1

    async def record_notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: str | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        self._data.registered(charge_point_id)
        notification = Notification(
            self._next_id, action, kind, occurred_at, payload, self._data.clock()
        )
        self._next_id += 1
        self._data.notifications.append((charge_point_id, notification))

    async def list_notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        found = [
            n
            for cp, n in reversed(self._data.notifications)
            if cp == charge_point_id
            and (actions is None or n.action in actions)
            and (before_id is None or n.id < before_id)
        ]
        return found[:limit]

    async def upsert_configuration(
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        if rows:
            self._data.registered(charge_point_id)
        now = self._data.clock()
        before = {key: self._data.configuration.get((charge_point_id, key)) for key, _, _ in rows}
        for key, value, readonly in rows:
            old = self._data.configuration.get((charge_point_id, key))
            known = old[1] if old is not None else None
            self._data.configuration[(charge_point_id, key)] = (
                value,
                _first(readonly, known),
                now,
            )
        for key, was in before.items():  # one change per key, as one statement makes
            value = self._data.configuration[(charge_point_id, key)][0]
            old_value = None if was is None else was[0]
            self._data.change(
                charge_point_id, key, old_value, value, first=was is None, source=source, by=by
            )

    async def forget_configuration(
        self, charge_point_id: str, *, keeping: Sequence[str], by: str | None = None
    ) -> None:
        kept = set(keeping)
        for cp, key in sorted(self._data.configuration):
            if cp == charge_point_id and key not in kept:
                self._forget_key(charge_point_id, key, by)

    async def forget_keys(
        self, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
    ) -> None:
        for key in sorted(set(keys)):
            if (charge_point_id, key) in self._data.configuration:
                self._forget_key(charge_point_id, key, by)

    def _forget_key(self, charge_point_id: str, key: str, by: str | None) -> None:
        value = self._data.configuration.pop((charge_point_id, key))[0]
        self._data.change(charge_point_id, key, value, None, first=False, source="removed", by=by)

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        return [
            ConfigurationValue(key, value, readonly, at)
            for (cp, key), (value, readonly, at) in sorted(self._data.configuration.items())
            if cp == charge_point_id
        ]

    async def upsert_variables(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        if rows:
            self._data.registered(charge_point_id)
        now = self._data.clock()
        before = {
            (charge_point_id, tuple(row[:7])): self._data.variables.get(
                (charge_point_id, tuple(row[:7]))
            )
            for row in rows
        }
        for row in rows:
            key = (charge_point_id, tuple(row[:7]))
            old = self._data.variables.get(key)
            if old is not None:
                row = row._replace(
                    mutability=_first(row.mutability, old[0].mutability),
                    characteristics=_first(row.characteristics, old[0].characteristics),
                )
            self._data.variables[key] = (row, now)
        for key, was in before.items():
            row = self._data.variables[key][0]
            old_value = None if was is None else was[0].value
            self._data.change(
                charge_point_id,
                variable_setting(row),
                old_value,
                row.value,
                first=was is None,
                source=source,
                by=by,
            )

    async def forget_variables(
        self, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
    ) -> None:
        kept = set(keeping)
        for key, (row, _) in sorted(self._data.variables.items(), key=lambda kv: kv[0]):
            if key[0] != charge_point_id or variable_setting(row) in kept:
                continue
            del self._data.variables[key]
            self._data.change(
                charge_point_id,
                variable_setting(row),
                row.value,
                None,
                first=False,
                source="removed",
                by=by,
            )

    async def list_variables(self, charge_point_id: str) -> list[ConfigurationValue]:
        return [
            variable_value(row, at)
            for (cp, _), (row, at) in sorted(self._data.variables.items(), key=lambda kv: kv[0])
            if cp == charge_point_id
        ]

    async def record_availability(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None:
        self._data.registered(charge_point_id)
        self._data.availability[(charge_point_id, evse_id, connector_id)] = Availability(
            evse_id, connector_id, operative, answer, self._data.clock()
        )

    async def list_availability(self, charge_point_id: str) -> list[Availability]:
        return [
            a for key, a in sorted(self._data.availability.items()) if key[0] == charge_point_id
        ]
