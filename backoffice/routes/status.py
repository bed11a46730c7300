"""The service status: every node, every replica's breakers, the worker queue, PostgreSQL
and Redis, alarm and webhook counts (docs/topics/monitoring.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from backoffice.deps import StateDep, StatusReader
from backoffice.routes import API
from backoffice.schemas.status import (
    BreakerStatus,
    DependencyStatus,
    NodeStatus,
    QueueStatus,
    ServiceStatusPublic,
)
from backoffice.services import status as service

router = APIRouter(prefix=API, tags=["cluster"])


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _node(node: service.NodeStatus, checked_at: float) -> NodeStatus:
    info = node.info
    return NodeStatus(
        node_id=node.node_id,
        alive=node.alive,
        address=info.address if info else None,
        version=info.version if info else None,
        chargers=info.connections if info else None,
        chargers_recorded=node.chargers_recorded,
        messages_per_second=info.messages_per_second if info else None,
        started_at=_time(info.started_at) if info else None,
        heartbeat_at=_time(info.heartbeat_at) if info else None,
        heartbeat_age_seconds=max(0.0, checked_at - info.heartbeat_at) if info else None,
        breakers=[
            BreakerStatus(
                replica_id=b.replica_id,
                state=b.state,
                failures=b.failures,
                reported_at=_time(b.reported_at),
            )
            for b in node.breakers
        ],
    )


@router.get("/status", response_model=ServiceStatusPublic)
async def service_status(_: StatusReader, state: StateDep) -> ServiceStatusPublic:
    """The status of the whole service. Answers within a few seconds whatever is down: a
    dependency that does not answer its ping in time is ``up: false`` and what only it
    holds is ``null`` and named in ``unavailable``. With Redis down the caller's token is
    checked without its logout record (docs/topics/monitoring.md)."""
    found = await service.collect(service.sources_of(state))
    service.set_metrics(state.metrics, found)
    return ServiceStatusPublic(
        status="ok" if found.healthy else "degraded",
        checked_at=_time(found.checked_at),
        replica_id=found.replica_id,
        dependencies={
            name: DependencyStatus(up=d.up, latency_seconds=d.latency_seconds, error=d.error)
            for name, d in found.dependencies.items()
        },
        nodes=None if found.nodes is None else [_node(n, found.checked_at) for n in found.nodes],
        queues=None
        if found.queues is None
        else [
            QueueStatus(
                entrypoint=q.entrypoint,
                status=q.status,
                jobs=q.jobs,
                oldest_due_seconds=q.oldest_due_seconds,
            )
            for q in found.queues
        ],
        alarms=found.alarms,
        webhook_deliveries=found.deliveries,
        unavailable=found.unavailable,
    )
