"""The cluster: live nodes, their charger counts, and this process's breakers for them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from backoffice.deps import PageDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.schemas.nodes import NodePublic
from backoffice.services import live

router = APIRouter(prefix=f"{API}/nodes", tags=["cluster"])


@router.get("", response_model=Page[NodePublic])
async def list_nodes(_: Reader, state: StateDep, page: PageDep) -> Page[NodePublic]:
    """Nodes with a live heartbeat, by id. ``breaker`` is this backoffice replica's circuit
    breaker for the node (``open``: commands to its chargers fail fast with 503)."""
    after = decode_cursor(page.cursor, str) or ""
    breakers = state.commands.breakers.states()
    nodes = [n for n in await live.live_nodes(state) if n.node_id > after]
    items, cursor = page_of(nodes, page.limit, lambda n: n.node_id)
    return Page(
        items=[
            NodePublic(
                node_id=n.node_id,
                address=n.address,
                version=n.version,
                connections=n.connections,
                started_at=datetime.fromtimestamp(n.started_at, UTC),
                heartbeat_at=datetime.fromtimestamp(n.heartbeat_at, UTC),
                messages_per_second=n.messages_per_second,
                breaker=breakers.get(n.node_id, "closed"),
            )
            for n in items
        ],
        next_cursor=cursor,
    )
