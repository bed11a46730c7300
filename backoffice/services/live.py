"""Live cluster state from Redis: which node holds which charger, which nodes are alive."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.exceptions import RedisError

from backoffice.state import State
from csms.cluster.registry import NodeInfo, Registry
from csms.cluster.routing import Owner, Routing

log = logging.getLogger(__name__)


async def owners(state: State, charge_point_ids: Sequence[str]) -> dict[str, Owner]:
    """The live owner of each connected charger among ``charge_point_ids`` (one round trip
    for the owners, one for the liveness of their nodes). Empty if Redis is unreachable:
    a list of chargers still answers, from PostgreSQL alone."""
    if not charge_point_ids:
        return {}
    try:
        async with state.redis.pipeline(transaction=False) as pipe:
            for charge_point_id in charge_point_ids:
                pipe.get(state.keys.owner(charge_point_id))
            values = await pipe.execute()
        found = {
            cp: owner
            for cp, value in zip(charge_point_ids, values, strict=True)
            if (owner := Owner.decode(value)) is not None
        }
        nodes = sorted({o.node_id for o in found.values()})
        async with state.redis.pipeline(transaction=False) as pipe:
            for node_id in nodes:
                pipe.exists(state.keys.node(node_id))
            alive = {n for n, ok in zip(nodes, await pipe.execute(), strict=True) if ok}
    except (RedisError, OSError) as exc:
        log.warning("live owners unavailable (Redis: %s)", exc)
        return {}
    return {cp: o for cp, o in found.items() if o.node_id in alive}


async def owner(state: State, charge_point_id: str) -> tuple[Owner | None, bool]:
    """``(owner entry, whether its node is alive)``."""
    found = await Routing(state.redis, state.keys).owner(charge_point_id)
    if found is None:
        return None, False
    return found, await Registry(state.redis, state.keys).is_alive(found.node_id)


async def live_nodes(state: State) -> list[NodeInfo]:
    return await Registry(state.redis, state.keys).live_nodes()
