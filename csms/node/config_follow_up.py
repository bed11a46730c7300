"""What a charger's configuration needs when it boots or reconnects, handed to ``csms
worker`` as a durable job (``csms.services.fleet_config.CHARGER_BACK_JOB``): after an
Accepted boot, once the answer is sent, its configuration is read again (RebootRequired
values confirmed, ``reapply_on_boot`` profiles applied where it drifted); after a reconnect
without a boot, only if values wait for it. Neither slows the charger's own messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import asyncpg

from csms.domain.chargers import ACCEPTED
from csms.services import Services
from csms.services.hooks import ChargerBooted, ChargerConnected, Hooks

if TYPE_CHECKING:
    from csms.node.connection import ChargerConnection

log = logging.getLogger(__name__)


class ConfigFollowUp:
    def __init__(
        self,
        connections: Mapping[str, ChargerConnection],
        services: Services,
        *,
        on_boot: bool = True,
    ) -> None:
        self.connections = connections
        self.services = services
        self.on_boot = on_boot

    def attach(self, hooks: Hooks) -> None:
        hooks.subscribe(ChargerBooted, self.booted)
        hooks.subscribe(ChargerConnected, self.connected)

    def booted(self, event: ChargerBooted) -> None:
        connection = self.connections.get(event.charge_point_id)
        if connection is None or event.registration_status != ACCEPTED or not self.on_boot:
            return
        protocol = connection.link.protocol

        async def enqueue() -> None:
            await self._enqueue(event.charge_point_id, booted=True, protocol=protocol)

        connection.after_answer(enqueue)

    def connected(self, event: ChargerConnected) -> None:
        connection = self.connections.get(event.charge_point_id)
        if connection is None or not connection.link.accepted:
            return  # its boot comes first

        async def enqueue_if_waiting() -> None:
            store = self.services.stores.config
            if await store.waiting_items(event.charge_point_id):
                await self._enqueue(event.charge_point_id, booted=False, protocol=event.protocol)

        connection.start_background(enqueue_if_waiting)

    async def _enqueue(self, charge_point_id: str, *, booted: bool, protocol: str) -> None:
        try:
            await self.services.config.enqueue_back(
                charge_point_id, booted=booted, protocol=protocol
            )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("configuration follow-up of %s not queued: %s", charge_point_id, exc)
