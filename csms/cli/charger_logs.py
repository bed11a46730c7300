"""``csms charger logs``: ask a charger for its diagnostics or security log, list what it
uploaded, download an upload."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any

from csms.cli.support import (
    common_settings,
    err,
    operator_name,
    out,
    print_json,
    redis_session,
    refused_is_usage,
    services_and_pool,
    services_session,
    table,
)

WAIT_POLL = 0.5


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (e.g. {text}Z or +01:00)")
    return value


def _row(r: Any) -> list[object]:
    return [r.id, r.log_type, r.action, r.status, r.requested_at, r.requested_by, r.size_bytes,
            r.upload_name or r.file_name]  # fmt: skip


HEADERS = ["id", "type", "action", "status", "requested_at", "by", "bytes", "file"]


@refused_is_usage
async def cmd_logs_request(args: argparse.Namespace) -> int:
    from csms.cluster.bus import CommandClient
    from csms.errors import CommandError
    from csms.settings import BackofficeSettings

    api = BackofficeSettings()
    base_url = api.log_upload_base_url or f"http://{api.api_host}:{api.api_port}"
    settings = common_settings()
    async with (
        services_session(settings) as services,
        redis_session(settings) as (redis, keys),
    ):
        client = CommandClient(redis, keys)
        try:
            found = await services.logs.request(
                client,
                args.charge_point_id,
                log_type=args.type,
                oldest=args.from_,
                latest=args.to,
                base_url=base_url,
                ttl=api.log_upload_ttl,
                by=operator_name(),
                timeout=args.timeout,
            )
        except CommandError as exc:
            err(f"{exc.code}: {exc.detail}")
            return 1
        finally:
            await client.close()
        if args.wait:
            found = await _wait(services, found.charge_point_id, found.id, args.wait)
    table(HEADERS, [_row(found)])
    out(f"log request {found.id}: the charger uploads to {base_url}/uploads/logs/…")
    return 0


async def _wait(services: Any, charge_point_id: str, log_id: int, seconds: float) -> Any:
    from csms.services.charger_logs import finished

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        found = await services.logs.get(charge_point_id, log_id)
        if finished(found) or loop.time() >= deadline:
            return found
        await asyncio.sleep(WAIT_POLL)


async def cmd_logs_list(args: argparse.Namespace) -> int:
    import dataclasses

    async with services_session(common_settings()) as services:
        await services.chargers.get(args.charge_point_id)
        found = await services.logs.list(args.charge_point_id, limit=args.limit)
    if args.json:
        print_json([dataclasses.asdict(r) for r in found])
        return 0
    table(HEADERS, [_row(r) for r in found])
    return 0


async def cmd_logs_download(args: argparse.Namespace) -> int:
    from pathlib import Path

    from csms.settings import BackofficeSettings
    from csms.store import charger_logs

    api = BackofficeSettings()
    async with services_and_pool(common_settings()) as (services, pool):
        found = await services.logs.get(args.charge_point_id, args.log_id)
        if found.uploaded_at is None:
            err(f"log request {found.id} has no upload yet (status {found.status})")
            return 1
        target = args.output or found.upload_name or found.file_name or f"log-{found.id}"
        sink = sys.stdout.buffer if target == "-" else Path(target).open("wb")  # noqa: SIM115
        try:
            if found.stored_in == "directory":
                if api.log_upload_dir is None:
                    err("the upload is in CSMS_LOG_UPLOAD_DIR, which is not set here")
                    return 1
                path = api.log_upload_dir / f"log-{found.id}"
                with path.open("rb") as handle:
                    while chunk := handle.read(256 * 1024):
                        sink.write(chunk)
            else:
                async for chunk in charger_logs.read_chunks(pool, found.id):
                    sink.write(chunk)
        finally:
            if sink is not sys.stdout.buffer:
                sink.close()
    if target != "-":
        out(f"{target}: {found.size_bytes} bytes, sha256 {found.sha256}")
    return 0


def add_parsers(charger: Any) -> None:
    """``csms charger logs ...`` (``charger``: the ``csms charger`` subparsers)."""
    logs = charger.add_parser(
        "logs", help="diagnostics and logs: ask for an upload, list, download"
    ).add_subparsers(dest="logs_command", required=True)
    request = logs.add_parser("request", help="ask the charger to upload (GetDiagnostics/GetLog)")
    request.add_argument("charge_point_id")
    request.add_argument("--type", choices=["diagnostics", "security"], default="diagnostics")
    request.add_argument("--from", dest="from_", type=_timestamp, help="oldest time to cover")
    request.add_argument("--to", type=_timestamp, help="latest time to cover")
    request.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for it")
    request.add_argument(
        "--wait", type=float, metavar="SECONDS", help="wait up to this long for the upload"
    )
    request.set_defaults(func=cmd_logs_request)
    ls = logs.add_parser("list", help="the charger's log requests and uploads, newest first")
    ls.add_argument("charge_point_id")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_logs_list)
    download = logs.add_parser("download", help="save an upload (as the charger named it)")
    download.add_argument("charge_point_id")
    download.add_argument("log_id", type=int)
    download.add_argument("-o", "--output", help="file to write (- for stdout)")
    download.set_defaults(func=cmd_logs_download)
