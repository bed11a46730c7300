"""Chargers, their id tokens and security profiles, in memory (csms.store.memory)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.domain.accounts import Standing
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence, registration_status
from csms.domain.id_tokens import IdToken
from csms.domain.security_profiles import Admission, SecurityState, Upgrade, admit
from csms.errors import AlreadyExists, NotFound
from csms.store.memory_sessions import _first

if TYPE_CHECKING:
    from csms.store.memory import _Data

_CHARGER_FIELDS = {"password_hash", "auth_mode", "boot_policy", "ocpp_version", "description"}


class MemoryChargers:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def add(
        self,
        charge_point_id: str,
        *,
        password_hash: str | None,
        boot_policy: str = "accept",
        ocpp_version: str | None = None,
        description: str = "",
    ) -> Charger:
        if charge_point_id in self._data.chargers:
            raise AlreadyExists(f"charger {charge_point_id} exists already")
        charger = Charger(
            charge_point_id=charge_point_id,
            password_hash=password_hash,
            auth_mode="basic" if password_hash is not None else "none",
            boot_policy=boot_policy,
            ocpp_version=ocpp_version,
            description=description,
            registration_status=None,
            vendor=None,
            model=None,
            serial_number=None,
            firmware_version=None,
            iccid=None,
            imsi=None,
            meter_type=None,
            meter_serial_number=None,
            connected_protocol=None,
            connected_node=None,
            last_boot_at=None,
            last_heartbeat_at=None,
            last_seen_at=None,
            firmware_status=None,
            diagnostics_status=None,
            created_at=self._data.clock(),
        )
        self._data.chargers[charge_point_id] = charger
        return charger

    async def get(self, charge_point_id: str) -> Charger | None:
        return self._data.chargers.get(charge_point_id)

    async def update(self, charge_point_id: str, **changes: Any) -> Charger:
        unknown = set(changes) - _CHARGER_FIELDS
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        return self._change(charge_point_id, **changes)

    def _change(self, charge_point_id: str, **changes: Any) -> Charger:
        charger = self._data.chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        changed = dataclasses.replace(charger, **changes)
        self._data.chargers[charge_point_id] = changed
        return changed

    async def remove(self, charge_point_id: str) -> None:
        if self._data.chargers.pop(charge_point_id, None) is None:
            raise NotFound(f"charger {charge_point_id} not found")
        self._data.forget(charge_point_id)

    async def record_boot(self, boot: Boot) -> str:
        charger = self._data.chargers.get(boot.charge_point_id)
        if charger is None:
            return "Rejected"
        status = registration_status(charger.boot_policy)
        self._change(
            boot.charge_point_id,
            registration_status=status,
            last_boot_at=boot.at,
            last_seen_at=boot.at,
            vendor=boot.identity.get("vendor"),
            model=boot.identity.get("model"),
            serial_number=boot.identity.get("serial_number"),
            firmware_version=boot.identity.get("firmware_version"),
            iccid=boot.identity.get("iccid"),
            imsi=boot.identity.get("imsi"),
            meter_type=boot.identity.get("meter_type"),
            meter_serial_number=boot.identity.get("meter_serial_number"),
        )
        return status

    async def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        self._data.registered(charge_point_id)
        key = (charge_point_id, status.evse_id, status.connector_id)
        kept = self._data.connectors.get(key)
        if kept is None or kept.status_at <= status.status_at:
            self._data.connectors[key] = status

    async def list_connectors(self, charge_point_id: str) -> list[ConnectorStatus]:
        return [
            status
            for key, status in sorted(self._data.connectors.items(), key=lambda kv: kv[0])
            if key[0] == charge_point_id
        ]

    async def record_presence(self, presence: Presence) -> None:
        cp = presence.charge_point_id
        charger = self._data.chargers.get(cp)
        if charger is None:
            return
        if presence.protocol is not None:
            self._data.epochs[cp] = presence.epoch
            self._change(
                cp,
                connected_protocol=presence.protocol,
                connected_node=presence.node_id,
                last_seen_at=presence.at,
            )
        elif charger.connected_node == presence.node_id and self._data.epochs.get(cp) == (
            presence.epoch
        ):
            self._data.epochs.pop(cp, None)
            self._change(cp, connected_protocol=None, connected_node=None, last_seen_at=presence.at)

    async def list_presence(
        self, *, node_id: str | None = None, excluding_nodes: Sequence[str] | None = None
    ) -> list[Presence]:
        found = []
        for cp, charger in sorted(self._data.chargers.items()):
            node = charger.connected_node
            if node is None or (node_id is not None and node != node_id):
                continue
            if excluding_nodes is not None and node in excluding_nodes:
                continue
            at = charger.last_seen_at or charger.created_at
            found.append(Presence(cp, charger.connected_protocol, node, self._data.epochs[cp], at))
        return found

    async def clear_presence(self, stale: Sequence[Presence]) -> list[str]:
        cleared = []
        for presence in stale:
            cp = presence.charge_point_id
            charger = self._data.chargers.get(cp)
            if (
                charger is not None
                and charger.connected_node == presence.node_id
                and self._data.epochs.get(cp) == presence.epoch
            ):
                self._data.epochs.pop(cp, None)
                self._change(cp, connected_protocol=None, connected_node=None)
                cleared.append(cp)
        return sorted(cleared)

    def note_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        if charge_point_id in self._data.chargers:
            self._change(charge_point_id, last_heartbeat_at=at, last_seen_at=at)

    async def record_charger_status(
        self,
        charge_point_id: str,
        *,
        firmware_status: str | None = None,
        diagnostics_status: str | None = None,
    ) -> None:
        charger = self._data.chargers.get(charge_point_id)
        if charger is None:
            return
        self._change(
            charge_point_id,
            firmware_status=_first(firmware_status, charger.firmware_status),
            diagnostics_status=_first(diagnostics_status, charger.diagnostics_status),
        )


class MemoryTokens:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def get(self, id_token: str) -> IdToken | None:
        return self._data.tokens.get(id_token.lower())

    def add(self, token: IdToken) -> None:
        """Register a token (what ``csms.store.id_tokens.add_id_token`` does)."""
        self._data.tokens[token.id_token.lower()] = token

    async def get_with_standing(self, id_token: str) -> tuple[IdToken | None, Standing | None]:
        token = self._data.tokens.get(id_token.lower())
        return token, None if token is None else self._data.standings.get(id_token.lower())

    def bill_to(self, id_token: str, standing: Standing | None) -> None:
        """The token bills to an account in this standing (None: to none); what linking it
        to an account with that status and wallet balance does in PostgreSQL."""
        if standing is None:
            self._data.standings.pop(id_token.lower(), None)
        else:
            self._data.standings[id_token.lower()] = standing


class MemorySecurityProfiles:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def _state(self, charge_point_id: str) -> SecurityState:
        self._data.registered(charge_point_id)
        return self._data.security_profiles.get(charge_point_id) or SecurityState(charge_point_id)

    async def get(self, charge_point_id: str) -> SecurityState | None:
        if charge_point_id not in self._data.chargers:
            return None
        return self._state(charge_point_id)

    async def admit(self, charge_point_id: str, profile: int, at: datetime) -> Admission:
        new, admission = admit(self._state(charge_point_id), profile, at)
        if admission.admitted:
            self._data.security_profiles[charge_point_id] = new
        return admission

    async def set_minimum(self, charge_point_id: str, minimum: int) -> SecurityState:
        new = dataclasses.replace(self._state(charge_point_id), minimum=minimum)
        self._data.security_profiles[charge_point_id] = new
        return new

    async def start_upgrade(self, charge_point_id: str, upgrade: Upgrade) -> SecurityState:
        new = dataclasses.replace(self._state(charge_point_id), upgrade=upgrade)
        self._data.security_profiles[charge_point_id] = new
        return new

    async def finish_upgrade(
        self, charge_point_id: str, upgrade_id: str, state: str, detail: str, at: datetime
    ) -> bool:
        current = self._data.security_profiles.get(charge_point_id)
        upgrade = None if current is None else current.upgrade
        if current is None or upgrade is None or upgrade.id != upgrade_id:
            return False
        if upgrade.state != "pending":
            return False
        finished = dataclasses.replace(upgrade, state=state, detail=detail, finished_at=at)
        self._data.security_profiles[charge_point_id] = dataclasses.replace(
            current, upgrade=finished
        )
        return True

    async def note_upgrade(
        self,
        charge_point_id: str,
        upgrade_id: str,
        detail: str,
        *,
        restore: dict[str, Any] | None = None,
    ) -> None:
        current = self._data.security_profiles.get(charge_point_id)
        if current is None or current.upgrade is None or current.upgrade.id != upgrade_id:
            return
        kept = current.upgrade.restore if restore is None else dict(restore)
        noted = dataclasses.replace(current.upgrade, detail=detail, restore=kept)
        self._data.security_profiles[charge_point_id] = dataclasses.replace(current, upgrade=noted)
