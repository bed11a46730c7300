"""The backoffice application: ``create_app(settings)``.

Resources (asyncpg pool, Redis, the command client) are opened by the lifespan and closed
after it; nothing is read from the environment here (``csms.cli`` builds the settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import logging
import secrets
from collections.abc import AsyncIterator

from fastapi import FastAPI

from backoffice import console, errors, uploads
from backoffice.audit import AuditMiddleware
from backoffice.metrics import MetricsMiddleware
from backoffice.routes import (
    accounts,
    alarms,
    audit,
    auth,
    browser_session,
    cdrs,
    certificates,
    charger_logs,
    chargers,
    commands,
    config,
    events,
    firmware,
    fleet,
    health,
    id_tokens,
    invoices,
    journal,
    me,
    meter_rollups,
    nodes,
    payments,
    reviews,
    security_profiles,
    sites,
    status,
    tariff_assignments,
    tariffs,
    transactions,
    users,
    webhooks,
)
from backoffice.services import payment_providers, sessions
from backoffice.services import status as service_status
from backoffice.state import Resources, State
from csms import __version__, bootstrap
from csms.cluster.breaker_reports import BreakerReporter
from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.domain.clock import utc_now
from csms.services import PricingOptions, Services
from csms.settings import BackofficeSettings
from csms.store.pool import create_pool
from csms.store.postgres import PostgresStores

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0

ROUTERS = (
    auth.router,
    users.router,
    chargers.router,
    commands.router,
    id_tokens.router,
    transactions.router,
    tariffs.router,
    tariff_assignments.router,
    tariff_assignments.charger_router,
    sites.router,
    sites.charger_router,
    payments.router,
    payments.account_router,
    nodes.router,
    events.router,
    health.router,
    health.metrics_router,
    config.router,
    charger_logs.router,
    firmware.router,
    firmware.download_router,
    cdrs.router,
    accounts.router,
    reviews.router,
    me.router,
    invoices.router,
    invoices.billing_router,
    invoices.me_router,
    security_profiles.router,
    certificates.router,
    meter_rollups.router,
    certificates.fleet_router,
    alarms.router,
    status.router,
    webhooks.router,
    webhooks.email_router,
    webhooks.catalogue_router,
    audit.router,
    browser_session.router,
    fleet.router,
    journal.router,
)


def create_app(settings: BackofficeSettings) -> FastAPI:
    """The FastAPI app; raises ConfigurationError for settings unsafe outside dev."""
    settings.check_safe()
    state = State(settings)
    state.metrics.add_refresher(lambda: service_status.refresh_metrics(state))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.default_jwt_secret:
            log.warning("using the default JWT signing key: dev mode only")
        if settings.metrics_token is None:
            log.warning(
                "GET /metrics is %s: set CSMS_METRICS_TOKEN",
                "open to anyone (dev)" if settings.is_dev else "disabled",
            )
        database_url = await bootstrap.database_url(settings)
        redis_url = await bootstrap.redis_url(settings)
        pool = await create_pool(
            database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            retry_seconds=settings.db_retry_seconds,
        )
        redis = redis_client(redis_url)
        command_client = CommandClient(
            redis,
            state.keys,
            caller_id=f"backoffice-{secrets.token_hex(6)}",
            breaker_fail_max=settings.breaker_fail_max,
            breaker_reset_timeout=settings.breaker_reset_timeout,
        )
        stores = PostgresStores(pool)
        providers, payment_service = payment_providers.open(settings, pool)
        services = Services(
            stores,
            clock=utc_now,
            pricing=PricingOptions(
                rounding=getattr(decimal, settings.cost_rounding),
                default_time_zone=settings.default_time_zone,
            ),
        )
        services.config.command_timeout = settings.command_timeout
        breaker_reports = BreakerReporter(
            redis, state.keys, command_client.caller_id, command_client.breakers
        )
        try:
            await command_client.start()
            breaker_reports.start()
            state.open(Resources(pool, redis, command_client, services, payment_service))
            await sessions.ensure_bootstrap_admin(state)
            await sessions.purge_expired(state)
            yield
        finally:
            state.close()
            await breaker_reports.stop()
            # bounded: a reply listener stuck in a cancelled BRPOP must not block shutdown
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await command_client.close()
            await redis.aclose()
            await providers.aclose()
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await stores.flush()
                    await pool.close()
            except TimeoutError:
                pool.terminate()

    app = FastAPI(
        title="csms backoffice",
        version=__version__,
        description="REST API of the OCPP central system. Log in at `POST /api/v1/auth/token`"
        " and send `Authorization: Bearer <access_token>`. Errors are RFC 9457 "
        "`application/problem+json`.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.backoffice = state
    errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_middleware(AuditMiddleware, state=state)

    for router in ROUTERS:
        app.include_router(router)
    uploads.install(app)
    console.install(app, settings)
    return app


def app_from_environment() -> FastAPI:
    """The app with settings from ``CSMS_*`` variables (uvicorn factory of ``csms
    backoffice``)."""
    return create_app(BackofficeSettings())
