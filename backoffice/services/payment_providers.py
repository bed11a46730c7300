"""The payment service of a backoffice process, over its pool and the configured providers."""

from __future__ import annotations

import asyncpg

from csms.domain.clock import utc_now
from csms.payments import Providers, open_providers, retry_policy
from csms.services.payments import PaymentService
from csms.settings import PaymentSettings
from csms.store.jobs import PgJobQueue
from csms.store.postgres import PostgresBilling, PostgresPayments


def open(settings: PaymentSettings, pool: asyncpg.Pool) -> tuple[Providers, PaymentService]:
    """The providers (close them with ``aclose``) and the service over them."""
    providers = open_providers(settings)
    service = PaymentService(
        PostgresPayments(pool),
        PostgresBilling(pool),
        providers,
        PgJobQueue(pool),
        clock=utc_now,
        policy=retry_policy(settings),
    )
    return providers, service
