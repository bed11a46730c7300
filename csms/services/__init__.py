"""Version-neutral application services: what the node's OCPP handlers, the backoffice and
the CLI call. They take store ports (:mod:`csms.services.ports`) and a clock, and emit the
hook points other features attach to (:mod:`csms.services.hooks`).

Import rule: services import ``csms.domain`` and their own ports, never ``csms.store``,
``csms.cluster``, ``csms.node`` or ``backoffice`` (import-linter enforces it).
"""

from __future__ import annotations

from csms.domain.clock import Clock
from csms.services.chargers import ChargerService
from csms.services.hooks import ConnectorStatusChanged, Hooks
from csms.services.ports import Stores
from csms.services.reports import ReportService
from csms.services.sessions import SessionService


class Services:
    """Every service over one set of stores, built once before anything serves."""

    def __init__(
        self,
        stores: Stores,
        *,
        clock: Clock,
        hooks: Hooks | None = None,
        heartbeat_interval: int = 300,
        boot_retry_interval: int = 60,
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.hooks = Hooks() if hooks is None else hooks
        self.chargers = ChargerService(
            stores.chargers,
            clock=clock,
            hooks=self.hooks,
            heartbeat_interval=heartbeat_interval,
            boot_retry_interval=boot_retry_interval,
        )
        self.sessions = SessionService(
            stores.sessions, stores.tokens, stores.meters, clock=clock, hooks=self.hooks
        )
        self.reports = ReportService(stores.reports, stores.chargers, hooks=self.hooks)
        # reconciliation attaches to the hook points like any feature
        self.hooks.subscribe(ConnectorStatusChanged, self.sessions.on_connector_status)


__all__ = ["Services"]
