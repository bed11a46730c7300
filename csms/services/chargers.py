"""Chargers, version neutral: registration (CLI and backoffice), boot, status, heartbeat,
presence."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.domain.charge_points import valid_charge_point_id
from csms.domain.chargers import ACCEPTED, Boot, Charger, ConnectorStatus, Identity, Presence
from csms.domain.clock import Clock
from csms.errors import InvalidInput, NotFound
from csms.passwords import (
    MAX_CHARGER_PASSWORD,
    MIN_CHARGER_PASSWORD,
    generate_password,
    hash_password,
)
from csms.services.hooks import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ConnectorStatusChanged,
    Hooks,
)
from csms.services.link import ChargerLink
from csms.services.ports import ChargerStore

BOOT_POLICIES = ("accept", "pending", "reject")
OCPP_VERSIONS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}  # as operators write them


@dataclass(frozen=True, slots=True)
class BootOutcome:
    status: str  # Accepted / Pending / Rejected
    interval: int  # the heartbeat interval when Accepted, else the wait before booting again
    at: datetime


@dataclass(frozen=True, slots=True)
class Registration:
    charger: Charger
    generated_password: str | None  # shown once to the operator, never stored


def protocol_of(version: str | None) -> str | None:
    """``ocpp1.6`` of ``1.6``; None stays None (any version)."""
    if version is None:
        return None
    try:
        return OCPP_VERSIONS[version]
    except KeyError:
        raise InvalidInput(f"OCPP version must be one of {', '.join(OCPP_VERSIONS)}") from None


class ChargerService:
    def __init__(
        self,
        chargers: ChargerStore,
        *,
        clock: Clock,
        hooks: Hooks,
        heartbeat_interval: int = 300,
        boot_retry_interval: int = 60,
    ) -> None:
        self._chargers = chargers
        self._clock = clock
        self._hooks = hooks
        self._heartbeat_interval = heartbeat_interval
        self._boot_retry_interval = boot_retry_interval

    # -- operators ---------------------------------------------------------------------------

    async def register(
        self,
        charge_point_id: str,
        *,
        auth: bool = True,
        password: str | None = None,
        boot_policy: str = "accept",
        ocpp_version: str | None = None,
        description: str = "",
    ) -> Registration:
        """Register a charger. With ``auth`` and no password one is generated (returned
        once); only an Argon2id hash is kept. InvalidInput, AlreadyExists."""
        if not valid_charge_point_id(charge_point_id):
            raise InvalidInput("charge point id: 1-48 printable characters, no ':', '/' or spaces")
        if boot_policy not in BOOT_POLICIES:
            raise InvalidInput(f"boot policy must be one of {', '.join(BOOT_POLICIES)}")
        protocol = protocol_of(ocpp_version)
        generated = None
        password_hash = None
        if auth:
            if password is None:
                password = generated = generate_password()
            password_hash = await self._hash(password)
        charger = await self._chargers.add(
            charge_point_id,
            password_hash=password_hash,
            boot_policy=boot_policy,
            ocpp_version=protocol,
            description=description,
        )
        return Registration(charger, generated)

    async def change(
        self,
        charge_point_id: str,
        *,
        password: str | None = None,
        regenerate_password: bool = False,
        boot_policy: str | None = None,
        ocpp_version: str | None = None,
        description: str | None = None,
    ) -> Registration:
        """Change settings; ``ocpp_version`` "any" unpins the version. NotFound."""
        changes: dict[str, Any] = {}
        generated = None
        if regenerate_password:
            password = generated = generate_password()
        if password is not None:
            changes["password_hash"] = await self._hash(password)
            changes["auth_mode"] = "basic"
        if boot_policy is not None:
            if boot_policy not in BOOT_POLICIES:
                raise InvalidInput(f"boot policy must be one of {', '.join(BOOT_POLICIES)}")
            changes["boot_policy"] = boot_policy
        if ocpp_version is not None:
            changes["ocpp_version"] = None if ocpp_version == "any" else protocol_of(ocpp_version)
        if description is not None:
            changes["description"] = description
        if changes:
            charger = await self._chargers.update(charge_point_id, **changes)
        else:
            charger = await self.get(charge_point_id)
        return Registration(charger, generated)

    async def get(self, charge_point_id: str) -> Charger:
        """NotFound if it is not registered."""
        charger = await self._chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        return charger

    async def remove(self, charge_point_id: str) -> None:
        await self._chargers.remove(charge_point_id)

    @staticmethod
    async def _hash(password: str) -> str:
        if not MIN_CHARGER_PASSWORD <= len(password) <= MAX_CHARGER_PASSWORD:
            raise InvalidInput(
                f"password: {MIN_CHARGER_PASSWORD}-{MAX_CHARGER_PASSWORD} characters"
            )
        return await asyncio.to_thread(hash_password, password)  # Argon2: off the loop

    # -- connections -------------------------------------------------------------------------

    async def lookup(self, charge_point_id: str) -> Charger | None:
        """The registered charger a handshake names (None: unknown)."""
        return await self._chargers.get(charge_point_id)

    async def connected(self, link: ChargerLink, node_id: str, epoch: int) -> None:
        at = self._clock()
        await self._chargers.record_presence(
            Presence(link.charge_point_id, link.protocol, node_id, epoch, at)
        )
        await self._hooks.emit(
            ChargerConnected(link.charge_point_id, link.protocol, node_id, epoch)
        )

    async def disconnected(self, link: ChargerLink, node_id: str, epoch: int) -> None:
        at = self._clock()
        await self._chargers.record_presence(
            Presence(link.charge_point_id, None, node_id, epoch, at)
        )
        await self._hooks.emit(ChargerDisconnected(link.charge_point_id, node_id, epoch))

    async def release_node(self, node_id: str) -> list[str]:
        """A node starting under ``node_id`` holds nothing yet: whatever the database still
        records as connected to it (a previous run that crashed) is gone."""
        return await self._release(await self._chargers.list_presence(node_id=node_id))

    async def release_dead_nodes(self, live_nodes: Sequence[str]) -> list[str]:
        """Connections recorded on nodes that are not live are gone (each released only
        while it is still that node's and epoch: never a charger that reconnected since)."""
        stale = await self._chargers.list_presence(excluding_nodes=live_nodes)
        return await self._release(stale)

    async def _release(self, stale: Sequence[Presence]) -> list[str]:
        released = await self._chargers.clear_presence(stale)
        if released and self._hooks.wants(ChargerDisconnected):
            gone = set(released)
            for presence in stale:
                if presence.charge_point_id in gone:
                    await self._hooks.emit(
                        ChargerDisconnected(
                            presence.charge_point_id, presence.node_id, presence.epoch
                        )
                    )
        return released

    async def boot(self, link: ChargerLink, identity: Identity) -> BootOutcome:
        """Decide the registration status from the operator's boot policy, persist the boot
        and remember the status on the link (it gates every other message)."""
        at = self._clock()
        status = await self._chargers.record_boot(Boot(link.charge_point_id, at, identity))
        link.registration_status = status
        link.log.info("boot %s (%s %s)", status, identity.get("vendor"), identity.get("model"))
        await self._hooks.emit(ChargerBooted(link.charge_point_id, status, identity))
        interval = self._heartbeat_interval if status == ACCEPTED else self._boot_retry_interval
        return BootOutcome(status, interval, at)

    def heartbeat(self, link: ChargerLink) -> datetime:
        """Note the heartbeat (batched, not awaited); the time to answer with."""
        now = self._clock()
        self._chargers.note_heartbeat(link.charge_point_id, now)
        return now

    async def connector_status(self, link: ChargerLink, status: ConnectorStatus) -> None:
        link.remember_connector(status.evse_id, status.connector_id)
        await self._chargers.record_connector_status(link.charge_point_id, status)
        await self._hooks.emit(ConnectorStatusChanged(link.charge_point_id, status))

    def now(self) -> datetime:
        return self._clock()
