"""What chargers report (configuration, variables) and the fleet's configuration baselines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from csms.domain.fleet_config import (
    ApplyItem,
    ChargerFacts,
    ConfigApply,
    ConfigProfile,
    HistoryEntry,
    NewItem,
    ProfileSpec,
    RefreshState,
    Reported,
    SettingId,
)
from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
)


class ReportStore(Protocol):
    """What chargers report besides sessions."""

    async def record_notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: str | None = None,
        occurred_at: datetime | None = None,
    ) -> None: ...

    async def list_notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        """Newest first."""
        ...

    async def upsert_configuration(
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        """1.6 keys; a None readonly keeps what was known. A value that changes is kept in the
        history with ``source`` (reported / applied) and ``by``; a key reported for the first
        time is not a change, a first value applied is."""
        ...

    async def forget_configuration(
        self, charge_point_id: str, *, keeping: Sequence[str], by: str | None = None
    ) -> None:
        """After a full read: the 1.6 keys not in ``keeping`` are gone (history: removed)."""
        ...

    async def forget_keys(
        self, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
    ) -> None:
        """1.6 keys the charger said it does not have (history: removed)."""
        ...

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        """By key."""
        ...

    async def upsert_variables(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        """2.0.1 device-model attributes; a None mutability or characteristics keeps what
        was known. History as ``upsert_configuration`` (settings as ``variable_setting``)."""
        ...

    async def forget_variables(
        self, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
    ) -> None:
        """After a full report: the attributes whose ``variable_setting`` is not in
        ``keeping`` are gone (history: removed)."""
        ...

    async def list_variables(self, charge_point_id: str) -> list[ConfigurationValue]:
        """By component, instance, EVSE, connector, variable, instance, attribute."""
        ...

    async def record_availability(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None: ...

    async def list_availability(self, charge_point_id: str) -> list[Availability]:
        """By EVSE, then connector."""
        ...


class ConfigStore(Protocol):
    """Configuration baselines: profiles, applies with per-charger per-key outcomes, the
    configuration history, charger configuration reads and 2.0.1 report assembly."""

    async def add_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        """AlreadyExists."""
        ...

    async def update_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        """Replace everything but the id and creation; NotFound."""
        ...

    async def get_profile(self, profile_id: str) -> ConfigProfile | None: ...

    async def list_profiles(self) -> list[ConfigProfile]:
        """By id."""
        ...

    async def remove_profile(self, profile_id: str) -> None:
        """With its applies; NotFound."""
        ...

    async def charger_facts(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> list[ChargerFacts]:
        """Registered chargers (all, or these), by id; the OCPP version is the connection's,
        else the pinned one, else the one of its last boot (``set_protocol``)."""
        ...

    async def reported(
        self, charge_point_ids: Sequence[str]
    ) -> dict[str, dict[SettingId, Reported]]:
        """What each charger reported (1.6 keys, 2.0.1 Actual attributes with readonly from
        the mutability); a charger that reported nothing is absent."""
        ...

    async def set_protocol(self, charge_point_id: str, protocol: str) -> None: ...

    async def refresh_requested(
        self, charge_point_id: str, *, request_id: int | None, by: str | None, at: datetime
    ) -> None:
        """A configuration read was asked (status Requested)."""
        ...

    async def refresh_status(
        self,
        charge_point_id: str,
        status: str,
        detail: str,
        *,
        at: datetime,
        request_id: int | None = None,
        from_status: str | None = None,
    ) -> bool:
        """What became of the read (Complete sets ``refreshed_at``); with ``request_id``
        only while it is the read asked last, with ``from_status`` only from that status
        (False, nothing changes, otherwise)."""
        ...

    async def refresh_state(self, charge_point_id: str) -> RefreshState | None: ...

    async def report_requested(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        report_base: str,
        by: str | None,
        at: datetime,
    ) -> None:
        """A 2.0.1 report was asked (its parts are collected afresh)."""
        ...

    async def report_requester(self, charge_point_id: str, request_id: int) -> str | None: ...

    async def report_part(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        seq_no: int,
        last: bool,
        settings: Sequence[str],
        at: datetime,
    ) -> tuple[str | None, list[str]] | None:
        """One NotifyReport part (a part seen before adds nothing). When it completes the
        report (seqNo 0 up to the one with tbc false, each seen), once: (the report base it
        was asked with, or None; every setting the parts reported). None otherwise."""
        ...

    async def create_apply(
        self,
        profile_id: str,
        *,
        reason: str,
        by: str | None,
        items: Sequence[NewItem],
        at: datetime,
    ) -> int:
        """A new apply and its items; items of earlier applies still waiting (Pending,
        Offline) for the same charger and setting become Superseded."""
        ...

    async def get_apply(self, apply_id: int) -> ConfigApply | None: ...

    async def list_applies(
        self, *, profile_id: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[ConfigApply]:
        """Newest first."""
        ...

    async def apply_items(
        self,
        apply_id: int,
        *,
        charge_point_id: str | None = None,
        outcomes: Sequence[str] | None = None,
    ) -> list[ApplyItem]:
        """By charger, then setting."""
        ...

    async def waiting_items(self, charge_point_id: str) -> list[ApplyItem]:
        """Items still to send to the charger (Pending, Offline), by apply, then setting."""
        ...

    async def chargers_waiting(self) -> list[str]:
        """Chargers with items still to send, by id."""
        ...

    async def record_outcomes(
        self,
        apply_id: int,
        charge_point_id: str,
        outcomes: Sequence[tuple[str, str, str]],
        *,
        at: datetime,
    ) -> None:
        """(setting, outcome, detail) for items still waiting; others keep theirs."""
        ...

    async def finish_apply(self, apply_id: int, at: datetime) -> None:
        """Once (a later call changes nothing)."""
        ...

    async def reboot_pending(self, charge_point_id: str) -> list[ApplyItem]:
        """RebootRequired items whose reboot was not seen, by apply, then setting."""
        ...

    async def mark_rebooted(
        self, charge_point_id: str, items: Sequence[tuple[int, str, str]], at: datetime
    ) -> None:
        """(apply id, setting, detail) of RebootRequired items: the reboot was seen."""
        ...

    async def latest_outcomes(self, charge_point_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Per charger and setting text, the outcome of the newest item that is not
        Superseded (``RebootRequired (rebooted)`` once the reboot was seen)."""
        ...

    async def history(
        self,
        charge_point_id: str,
        *,
        setting: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        """Newest first."""
        ...
