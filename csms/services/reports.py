"""What chargers report besides sessions, version neutral: notifications kept as received,
firmware and log statuses, security events, configuration and the device model, availability
answers; and the operator's view of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.clock import Clock
from csms.domain.fleet_config import variable_setting
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
from csms.services.ports import ChargerStore, ConfigStore, ReportStore

SECURITY_EVENT = "SecurityEventNotification"
FULL_INVENTORY = "FullInventory"
COMPLETE = "Complete"  # a configuration read that is in (charger_config_state.refresh_status)


class ReportService:
    def __init__(
        self,
        reports: ReportStore,
        chargers: ChargerStore,
        *,
        hooks: Hooks,
        config: ConfigStore | None = None,
        clock: Clock | None = None,
        by: str | None = None,
    ) -> None:
        self._reports = reports
        self._chargers = chargers
        self._hooks = hooks
        self._config = config
        self._clock = clock
        self.by = by

    def acting(self, by: str | None) -> ReportService:
        """This service recording changes as asked by ``by`` (a command's sender: the
        configuration history says who)."""
        if by == self.by:
            return self
        return ReportService(
            self._reports,
            self._chargers,
            hooks=self._hooks,
            config=self._config,
            clock=self._clock,
            by=by,
        )

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
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        complete: bool = False,
        unknown: Sequence[str] = (),
    ) -> None:
        """1.6 keys read (GetConfiguration): ``complete`` for a read of every key (keys not
        in it are gone), ``unknown`` the keys the charger said it does not have."""
        await self._reports.upsert_configuration(charge_point_id, rows, by=self.by)
        if complete:
            keeping = [row[0] for row in rows]
            await self._reports.forget_configuration(charge_point_id, keeping=keeping, by=self.by)
        if unknown:
            await self._reports.forget_keys(charge_point_id, unknown, by=self.by)

    async def configuration_changed(
        self, charge_point_id: str, rows: Sequence[ConfigurationRow]
    ) -> None:
        """1.6 keys the charger took from a ChangeConfiguration."""
        await self._reports.upsert_configuration(
            charge_point_id, rows, source="applied", by=self.by
        )

    async def variables_reported(self, charge_point_id: str, rows: Sequence[VariableRow]) -> None:
        """2.0.1 device-model attributes read or reported."""
        await self._reports.upsert_variables(charge_point_id, rows, by=self.by)

    async def variables_changed(self, charge_point_id: str, rows: Sequence[VariableRow]) -> None:
        """2.0.1 device-model attributes the charger took from a SetVariables."""
        await self._reports.upsert_variables(charge_point_id, rows, source="applied", by=self.by)

    async def report_part(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        request_id: int,
        seq_no: int,
        tbc: bool,
    ) -> bool:
        """One 2.0.1 NotifyReport part (B07/B08): its attributes are stored at once; the
        parts are assembled by requestId and seqNo, and when a FullInventory asked by the
        CSMS is complete, attributes it did not report are gone. True when this part
        completed its report."""
        if self._config is None:
            await self.variables_reported(charge_point_id, rows)
            return False
        by = await self._config.report_requester(charge_point_id, request_id)
        await self._reports.upsert_variables(charge_point_id, rows, by=by)
        now = self._clock() if self._clock is not None else None
        assert now is not None, "ReportService needs a clock to assemble reports"
        done = await self._config.report_part(
            charge_point_id,
            request_id,
            seq_no=seq_no,
            last=not tbc,
            settings=[variable_setting(row) for row in rows],
            at=now,
        )
        if done is None:
            return False
        base, settings = done
        if base == FULL_INVENTORY:
            await self._reports.forget_variables(charge_point_id, settings, by=by)
        await self._config.refresh_status(
            charge_point_id, COMPLETE, f"report {request_id}", at=now, request_id=request_id
        )
        return True

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
