"""What chargers report besides sessions, version neutral: notifications kept as received,
firmware and log statuses, security events, configuration and the device model, availability
answers; and the operator's view of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
)
from csms.services.hooks import (
    FirmwareStatusReported,
    Hooks,
    LogStatusReported,
    NotificationReceived,
    SecurityEventReported,
)
from csms.services.ports import ChargerStore, ReportStore

SECURITY_EVENT = "SecurityEventNotification"


class ReportService:
    def __init__(self, reports: ReportStore, chargers: ChargerStore, *, hooks: Hooks) -> None:
        self._reports = reports
        self._chargers = chargers
        self._hooks = hooks

    # -- what chargers send ------------------------------------------------------------------

    async def notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: object = None,
        occurred_at: datetime | None = None,
    ) -> None:
        """Keep a message as received; ``kind`` is what operators filter it by."""
        text = None if kind is None else str(kind)
        await self._reports.record_notification(
            charge_point_id, action, payload, kind=text, occurred_at=occurred_at
        )
        if self._hooks.wants(NotificationReceived):
            await self._hooks.emit(
                NotificationReceived(charge_point_id, action, text, payload, occurred_at)
            )

    async def firmware_status(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        status: str,
        request_id: int | None = None,
        is_charger_status: bool = True,
    ) -> None:
        """A firmware status; ``is_charger_status``: it is the charger's own firmware (not
        a local controller publishing firmware for others)."""
        if is_charger_status:
            await self._chargers.record_charger_status(charge_point_id, firmware_status=status)
        await self.notification(charge_point_id, action, payload, kind=status)
        await self._hooks.emit(FirmwareStatusReported(charge_point_id, status, request_id, action))

    async def log_status(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        status: str,
        request_id: int | None = None,
        is_diagnostics_status: bool = False,
    ) -> None:
        """A diagnostics / log upload status; ``is_diagnostics_status``: it is the status
        kept on the charger (1.6 DiagnosticsStatusNotification)."""
        if is_diagnostics_status:
            await self._chargers.record_charger_status(charge_point_id, diagnostics_status=status)
        await self.notification(charge_point_id, action, payload, kind=status)
        await self._hooks.emit(LogStatusReported(charge_point_id, status, request_id, action))

    async def security_event(
        self,
        charge_point_id: str,
        payload: dict[str, Any],
        *,
        type_: str,
        occurred_at: datetime,
        tech_info: str | None,
    ) -> None:
        await self.notification(
            charge_point_id, SECURITY_EVENT, payload, kind=type_, occurred_at=occurred_at
        )
        await self._hooks.emit(
            SecurityEventReported(charge_point_id, type_, occurred_at, tech_info)
        )

    async def configuration_reported(
        self, charge_point_id: str, rows: Sequence[ConfigurationRow]
    ) -> None:
        """1.6 keys read or changed."""
        await self._reports.upsert_configuration(charge_point_id, rows)

    async def variables_reported(self, charge_point_id: str, rows: Sequence[VariableRow]) -> None:
        """2.0.1 device-model attributes read, reported or changed."""
        await self._reports.upsert_variables(charge_point_id, rows)

    async def availability_answered(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None:
        await self._reports.record_availability(
            charge_point_id,
            evse_id=evse_id,
            connector_id=connector_id,
            operative=operative,
            answer=answer,
        )

    # -- what operators read -----------------------------------------------------------------

    async def configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        """Every reported value: 1.6 keys by key, then the 2.0.1 device model."""
        return [
            *await self._reports.list_configuration(charge_point_id),
            *await self._reports.list_variables(charge_point_id),
        ]

    async def availability(self, charge_point_id: str) -> list[Availability]:
        return await self._reports.list_availability(charge_point_id)

    async def notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        """Newest first."""
        return await self._reports.list_notifications(
            charge_point_id, actions=actions, limit=limit, before_id=before_id
        )
