"""Liveness, readiness (no credentials: for probes) and Prometheus metrics (the scrape
token, not a user's)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from backoffice.deps import Public, StateDep
from backoffice.errors import problem
from backoffice.routes import API
from backoffice.schemas.common import Status
from backoffice.schemas.nodes import ReadyChecks
from backoffice.services import live
from csms.scrape import BEARER_CHALLENGE, scrape_refusal

log = logging.getLogger(__name__)

router = APIRouter(prefix=API, tags=["health"])
metrics_router = APIRouter(tags=["health"])

READY_TIMEOUT = 2.0


@router.get("/health", response_model=Status)
async def health(_: Public) -> Status:
    """Liveness: the process answers."""
    return Status(status="ok")


@router.get("/ready", response_model=ReadyChecks, responses={503: {"model": ReadyChecks}})
async def ready(_: Public, state: StateDep) -> ReadyChecks | Response:
    """Readiness: PostgreSQL and Redis answer (503 otherwise)."""
    postgres = redis = "ok"
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await state.pool.fetchval("SELECT 1")
    except Exception as exc:  # whatever fails, PostgreSQL is not usable: report, do not raise
        log.warning("readiness: PostgreSQL: %s", exc)
        postgres = "unavailable"
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await state.redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("readiness: Redis: %s", exc)
        redis = "unavailable"
    checks = ReadyChecks(
        status="ready" if postgres == redis == "ok" else "unavailable",
        postgres=postgres,
        redis=redis,
    )
    if checks.status != "ready":
        return problem(503, "not ready", instance=f"{API}/ready", **checks.model_dump())
    return checks


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={401: {"description": "no or a wrong scrape token"}, 404: {"description": "off"}},
)
async def metrics(
    _: Public,
    state: StateDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Prometheus text format: requests by route and status, latency, command outcomes,
    breaker states, live nodes and their charger counts, and the service status gauges
    (dependencies, worker queue, alarms, webhook deliveries: docs/topics/monitoring.md).
    Not a user route: it takes the scrape token ``CSMS_METRICS_TOKEN`` as a bearer token
    (without one configured: open in dev, 404 in production)."""
    settings = state.settings
    refusal = scrape_refusal(authorization, settings.metrics_token, dev=settings.is_dev)
    if refusal is not None:
        status, reason = refusal
        headers = {"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else None
        return problem(status, reason, instance="/metrics", headers=headers)
    await state.metrics.refresh()
    try:
        nodes = await live.live_nodes(state)
    except (RedisError, OSError) as exc:
        log.warning("metrics: live nodes unavailable: %s", exc)
        nodes = []
    state.metrics.set_cluster(nodes, state.commands.breakers.states())
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
