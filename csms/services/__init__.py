"""Version-neutral application services: what the node's OCPP handlers, the backoffice and
the CLI call. They take store ports (:mod:`csms.services.ports`) and a clock, and emit the
hook points other features attach to (:mod:`csms.services.hooks`).

Import rule: services import ``csms.domain`` and their own ports, never ``csms.store``,
``csms.cluster``, ``csms.node`` or ``backoffice`` (import-linter enforces it).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass

from csms.domain.clock import Clock
from csms.services.billing import SettlementTrigger
from csms.services.chargers import ChargerService
from csms.services.hooks import ConnectorStatusChanged, Hooks
from csms.services.ports import Stores
from csms.services.pricing import PricingService
from csms.services.reports import ReportService
from csms.services.security_profiles import SecurityProfileService
from csms.services.sessions import SessionService
from csms.services.tariffs import TariffService


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
        pricing: PricingOptions | None = None,
        billing: bool = False,
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
            stores.sessions,
            stores.tokens,
            stores.meters,
            clock=clock,
            hooks=self.hooks,
            billing=billing,
        )
        self.reports = ReportService(stores.reports, stores.chargers, hooks=self.hooks)
        self.tariffs = TariffService(stores.tariffs, stores.chargers, clock=clock)
        options = PricingOptions() if pricing is None else pricing
        self.pricing = PricingService(
            stores.pricing,
            stores.tariffs,
            stores.sessions,
            stores.reports,
            clock=clock,
            hooks=self.hooks,
            update_interval=options.update_interval,
            rounding=options.rounding,
            default_time_zone=options.default_time_zone,
        )
        self.security_profiles = SecurityProfileService(
            stores.security_profiles,
            stores.chargers,
            stores.reports,
            stores.jobs,
            clock=clock,
            hooks=self.hooks,
        )
        # reconciliation and pricing attach to the hook points like any feature
        self.hooks.subscribe(ConnectorStatusChanged, self.sessions.on_connector_status)
        self.pricing.attach()
        if billing:  # after pricing: a session's final cost is frozen before it is settled
            SettlementTrigger(stores.jobs).attach(self.hooks)


@dataclass(frozen=True, slots=True)
class PricingOptions:
    """``CSMS_COST_UPDATE_INTERVAL``, ``CSMS_COST_ROUNDING``, ``CSMS_DEFAULT_TIME_ZONE``."""

    update_interval: float = 30.0
    rounding: str = decimal.ROUND_HALF_UP
    default_time_zone: str = "UTC"


__all__ = ["PricingOptions", "Services"]
