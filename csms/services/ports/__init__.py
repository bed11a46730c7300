"""The store ports: what the services need from storage, as ``typing.Protocol``s.

Two implementations pass the same contract tests (tests/contract/): PostgreSQL
(``csms.store.postgres``, asyncpg, with writes batched across chargers) and in memory
(``csms.store.memory``, for unit tests and as an executable statement of the rules).
Every method's docstring is its contract; "durable" means committed when the call returns.
One module per area (chargers, sessions, tariffs, config, billing, firmware, certificates);
every port is importable from here.
"""

from __future__ import annotations

from typing import Any, Protocol

from csms.services.ports.billing import BillingStore, InvoiceStore, PaymentProvider, PaymentStore
from csms.services.ports.certificates import CertificateAuthority, CertificateStore
from csms.services.ports.chargers import (
    ChargerCommands,
    ChargerStore,
    CommandSender,
    PasswordRotationStore,
    SecurityProfileStore,
    TokenStore,
)
from csms.services.ports.config import ConfigStore, ReportStore
from csms.services.ports.firmware import FirmwareStore, LogStore
from csms.services.ports.sessions import MeterStore, PricingStore, SessionStore
from csms.services.ports.tariffs import TariffStore

__all__ = [
    "BillingStore",
    "CertificateAuthority",
    "CertificateStore",
    "ChargerCommands",
    "ChargerStore",
    "CommandSender",
    "ConfigStore",
    "FirmwareStore",
    "InvoiceStore",
    "JobQueue",
    "LogStore",
    "MeterStore",
    "PasswordRotationStore",
    "PaymentProvider",
    "PaymentStore",
    "PricingStore",
    "ReportStore",
    "SecurityProfileStore",
    "SessionStore",
    "Stores",
    "TariffStore",
    "TokenStore",
]


class Stores(Protocol):
    """One implementation of every port."""

    @property
    def chargers(self) -> ChargerStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def meters(self) -> MeterStore: ...

    @property
    def reports(self) -> ReportStore: ...

    @property
    def pricing(self) -> PricingStore: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def tariffs(self) -> TariffStore: ...

    @property
    def config(self) -> ConfigStore: ...

    @property
    def logs(self) -> LogStore: ...

    @property
    def security_profiles(self) -> SecurityProfileStore: ...

    @property
    def certificates(self) -> CertificateStore: ...

    @property
    def passwords(self) -> PasswordRotationStore: ...


class JobQueue(Protocol):
    """Durable jobs (PgQueuer in PostgreSQL, run by ``csms worker``; ADR 0004)."""

    async def enqueue(
        self,
        entrypoint: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        delay: float = 0.0,
    ) -> bool:
        """Queue a job (False: one with ``dedupe_key`` is queued or running already)."""
        ...
