"""``csms nodes``: the live nodes of the cluster."""

from __future__ import annotations

import argparse
import time

from csms.cli.support import Subparsers, common_settings, redis_session, table


async def cmd_nodes(args: argparse.Namespace) -> int:
    from csms.cluster.registry import Registry

    async with redis_session(common_settings()) as (redis, keys):
        nodes = await Registry(redis, keys).live_nodes()
    now = time.time()
    table(
        ["node_id", "address", "version", "chargers", "up_s", "heartbeat_age_s"],
        [
            [
                n.node_id,
                n.address,
                n.version,
                n.connections,
                int(now - n.started_at),
                round(now - n.heartbeat_at, 1),
            ]
            for n in nodes
        ],
    )
    return 0


def add_parsers(sub: Subparsers) -> None:
    sub.add_parser("nodes", help="live nodes of the cluster").set_defaults(func=cmd_nodes)
