"""``csms up``, ``csms node``, ``csms migrate``, ``csms backoffice``: run the platform."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import TYPE_CHECKING, Any

from csms.cli.support import Subparsers, common_settings, out

if TYPE_CHECKING:
    from csms.settings import NodeSettings, WorkerSettings

# The backoffice is loaded by name (uvicorn's factory), so `csms` never imports it.
BACKOFFICE_FACTORY = "backoffice.app:app_from_environment"


async def cmd_migrate(args: argparse.Namespace) -> int:
    from csms import bootstrap
    from csms.store.pool import migrate

    settings = common_settings()
    await migrate(await bootstrap.database_url(settings))
    out("database migrated to head")
    return 0


async def cmd_node(args: argparse.Namespace) -> int:
    from csms.settings import NodeSettings

    overrides: dict[str, Any] = {}
    if args.node_id:
        overrides["node_id"] = args.node_id
    if args.port is not None:
        overrides["port"] = args.port
    if args.host:
        overrides["host"] = args.host
    settings = NodeSettings(**overrides)
    settings.check_safe()
    return await _run_node(settings, migrate_first=args.migrate)


async def cmd_up(args: argparse.Namespace) -> int:
    from csms import bootstrap
    from csms.settings import BackofficeSettings, NodeSettings, WorkerSettings
    from csms.store.pool import migrate

    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    settings = NodeSettings(**overrides)
    settings.check_safe()
    api = BackofficeSettings()
    api.check_safe()
    # the backoffice shares this process (and its embedded servers) with the node
    database_url = await bootstrap.database_url(settings)
    await migrate(database_url)
    server = backoffice_server(api.api_host, api.api_port, api.forwarded_allow_ips)
    serving = asyncio.create_task(server.serve(), name="backoffice")
    out(f"csms backoffice: http://{api.api_host}:{api.api_port}/docs")
    out(f"csms console: http://{api.api_host}:{api.api_port}/")
    worker_stop = asyncio.Event()
    working = asyncio.create_task(_run_worker(WorkerSettings(), worker_stop), name="worker")
    try:
        return await _run_node(settings, migrate_first=False)
    finally:
        worker_stop.set()
        server.should_exit = True
        await serving
        await working


async def _run_node(settings: NodeSettings, *, migrate_first: bool) -> int:
    from csms import bootstrap
    from csms.node.runtime import running_node
    from csms.store.pool import migrate

    database_url = await bootstrap.database_url(settings)
    redis_url = await bootstrap.redis_url(settings)
    if migrate_first:
        await migrate(database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_node(settings, database_url, redis_url) as node:
        out(
            f"csms node {settings.node_id}: chargers connect to "
            f"ws://{settings.host}:{node.port}/ocpp/{{charge_point_id}}"
        )
        if node.tls_port is not None:
            out(f"  and wss://{settings.host}:{node.tls_port}/ocpp/{{charge_point_id}}")
            # a renewed server certificate: new handshakes use it, open sockets stay
            loop.add_signal_handler(signal.SIGHUP, node.reload_tls)
        await stop.wait()
    return 0


async def cmd_worker(args: argparse.Namespace) -> int:
    from csms.settings import WorkerSettings

    settings = WorkerSettings()
    settings.check_safe()
    if args.migrate:
        from csms import bootstrap
        from csms.store.pool import migrate

        await migrate(await bootstrap.database_url(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await _run_worker(settings, stop)
    return 0


async def _run_worker(settings: WorkerSettings, stop: asyncio.Event) -> None:
    from csms import bootstrap
    from csms.worker.runtime import run_until_stopped, running_worker

    database_url = await bootstrap.database_url(settings)
    redis_url = await bootstrap.redis_url(settings)
    async with running_worker(settings, database_url, redis_url) as worker:
        out("csms worker: durable jobs (settlement, invoices, payments, firmware, configuration)")
        await run_until_stopped(worker, stop)


def backoffice_server(host: str, port: int, forwarded_allow_ips: str) -> Any:
    """A uvicorn server for the backoffice (``await server.serve()`` runs it)."""
    import uvicorn

    config = uvicorn.Config(
        BACKOFFICE_FACTORY,
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


async def cmd_backoffice(args: argparse.Namespace) -> int:
    from csms import bootstrap
    from csms.settings import BackofficeSettings
    from csms.store.pool import migrate

    settings = BackofficeSettings()
    settings.check_safe()
    if args.migrate:
        await migrate(await bootstrap.database_url(settings))
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    out(f"csms backoffice: http://{host}:{port}/docs")
    out(f"csms console: http://{host}:{port}/")
    await backoffice_server(host, port, settings.forwarded_allow_ips).serve()
    return 0


def add_parsers(sub: Subparsers) -> None:
    """``up``, ``node`` and ``migrate`` (``backoffice`` comes later in ``csms --help``)."""
    up = sub.add_parser("up", help="all-in-one dev platform (embedded servers if none set)")
    up.add_argument("--port", type=int, help="OCPP port (default CSMS_PORT or 9000)")
    up.set_defaults(func=cmd_up, uvloop=True)

    node = sub.add_parser("node", help="run one charger-facing node")
    node.add_argument("--node-id", help="unique node id (default host-pid)")
    node.add_argument("--host", help="bind address (default CSMS_HOST or 127.0.0.1)")
    node.add_argument("--port", type=int, help="OCPP port (default CSMS_PORT or 9000)")
    node.add_argument("--migrate", action="store_true", help="apply migrations first")
    node.set_defaults(func=cmd_node, uvloop=True)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    worker = sub.add_parser("worker", help="run durable jobs: settlement, invoices, payments")
    worker.add_argument("--migrate", action="store_true", help="apply migrations first")
    worker.set_defaults(func=cmd_worker, uvloop=True)


def add_backoffice_parser(sub: Subparsers) -> None:
    backoffice = sub.add_parser("backoffice", help="run the REST backoffice (FastAPI)")
    backoffice.add_argument("--host", help="bind address (default CSMS_API_HOST or 127.0.0.1)")
    backoffice.add_argument("--port", type=int, help="HTTP port (default CSMS_API_PORT or 8000)")
    backoffice.add_argument("--migrate", action="store_true", help="apply migrations first")
    backoffice.set_defaults(func=cmd_backoffice)
