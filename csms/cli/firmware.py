"""``csms firmware``: upload firmware files and roll them out in campaigns.

``upload`` streams a file into storage (PostgreSQL large objects, or ``CSMS_FIRMWARE_DIR``),
checking its SHA-256 (and signature); ``rollout create`` starts a campaign (canary, waves,
failure rate, concurrency, windows), run by ``csms worker``; ``rollout watch`` shows it live;
``pause``, ``resume``, ``cancel`` and ``retry-failed`` steer it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    operator_name,
    out,
    print_json,
    refused_is_usage,
    table,
)

if TYPE_CHECKING:
    from csms.domain.firmware_campaigns import Artifact, Campaign
    from csms.services.firmware import ArtifactService, CampaignService, CampaignView
    from csms.settings import FirmwareSettings

READ_CHUNK = 1024 * 1024
FAILURES_SHOWN = 20


def _settings() -> FirmwareSettings:
    from csms.settings import FirmwareSettings

    return FirmwareSettings()


@contextlib.asynccontextmanager
async def _services() -> AsyncIterator[tuple[ArtifactService, CampaignService]]:
    from csms.cli.support import open_pool
    from csms.domain.clock import utc_now
    from csms.services.firmware import ArtifactService, CampaignService
    from csms.services.hooks import Hooks
    from csms.store.postgres import PostgresFirmware

    settings = _settings()
    pool = await open_pool(settings)
    try:
        store = PostgresFirmware(pool, directory=settings.firmware_dir)
        yield (
            ArtifactService(store, max_bytes=settings.firmware_max_bytes),
            CampaignService(store, clock=utc_now, hooks=Hooks()),
        )
    finally:
        await pool.close()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    import asyncio

    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
            yield chunk
    finally:
        handle.close()


def _read_text(path: str | None, what: str) -> bytes | None:
    from csms.errors import InvalidInput

    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > 16 * 1024:
        raise InvalidInput(f"{what}: {path} is too large")
    return data


# -- artifacts ----------------------------------------------------------------------------------


@refused_is_usage
async def cmd_upload(args: argparse.Namespace) -> int:
    from csms.domain.firmware_campaigns import NewArtifact
    from csms.domain.firmware_signing import signature_text
    from csms.errors import InvalidInput

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"file: {args.file} is not a readable file")
    signature = _read_text(args.signature, "--signature")
    certificate = _read_text(args.signing_cert, "--signing-cert")
    new = NewArtifact(
        version=args.version,
        file_name=path.name,
        vendor=args.vendor,
        model=args.model,
        sha256=args.sha256,
        signature=None if signature is None else signature_text(signature),
        signing_certificate=None if certificate is None else certificate.decode(errors="replace"),
        description=args.description or "",
        created_by=operator_name(),
    )
    async with _services() as (artifacts, _):
        artifact = await artifacts.upload(new, _file_chunks(path))
    if args.json:
        print_json(artifact.public())
        return 0
    signed = ", signed" if artifact.signed else ""
    out(
        f"firmware artifact {artifact.id}: {artifact.version} for "
        f"{artifact.vendor or 'any vendor'} {artifact.model or 'any model'} "
        f"({artifact.size_bytes} bytes{signed})"
    )
    out(f"sha256 {artifact.sha256}")
    return 0


async def cmd_list(args: argparse.Namespace) -> int:
    async with _services() as (artifacts, _):
        found = await artifacts.artifacts(limit=10_000)
    if args.json:
        print_json([a.public() for a in found])
        return 0
    table(
        ["id", "version", "vendor", "model", "file", "bytes", "signed", "sha256", "uploaded"],
        [
            [
                a.id,
                a.version,
                a.vendor,
                a.model,
                a.file_name,
                a.size_bytes,
                "yes" if a.signed else "no",
                a.sha256[:12],
                a.created_at,
            ]
            for a in found
        ],
    )
    return 0


@refused_is_usage
async def cmd_remove(args: argparse.Namespace) -> int:
    async with _services() as (artifacts, _):
        await artifacts.remove(args.artifact_id)
    out(f"firmware artifact {args.artifact_id} removed")
    return 0


# -- rollouts -----------------------------------------------------------------------------------


def _timeouts(texts: list[str]) -> dict[str, float]:
    from csms.errors import InvalidInput

    found: dict[str, float] = {}
    for text in texts:
        phase, _, seconds = text.partition("=")
        try:
            found[phase.strip()] = float(seconds)
        except ValueError:
            raise InvalidInput(f"--timeout: {text!r} is not PHASE=SECONDS") from None
    return found


def _when(text: str | None, what: str) -> Any:
    from csms.domain.clock import parse_timestamp
    from csms.errors import InvalidInput

    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not an ISO 8601 time") from None


async def _artifact_for(
    artifacts: ArtifactService, args: argparse.Namespace, selector: Any
) -> Artifact:
    """``--artifact``, else the newest artifact of ``--version`` (if given) for the target's
    vendor and model."""
    from csms.errors import InvalidInput

    if args.artifact is not None:
        return await artifacts.get(args.artifact)
    found = [
        a
        for a in await artifacts.artifacts(limit=100_000)
        if (args.version is None or a.version == args.version)
        and (selector.vendor is None or a.vendor in (None, selector.vendor))
        and (selector.model is None or a.model in (None, selector.model))
    ]
    if not found:
        raise InvalidInput(
            "no uploaded firmware fits the target: give --artifact ID (csms firmware list)"
        )
    return found[-1]


@refused_is_usage
async def cmd_rollout_create(args: argparse.Namespace) -> int:
    from csms.domain.firmware_campaigns import (
        CampaignOptions,
        parse_percent,
        parse_target,
        parse_waves,
        parse_window,
    )

    selector = parse_target(args.target)
    options = CampaignOptions(
        canary=args.canary,
        waves=tuple(parse_waves([w for w in args.waves.split(",") if w.strip()])),
        max_failure_rate=parse_percent(args.max_failure_rate, "--max-failure-rate"),
        max_concurrent=args.max_concurrent,
        windows=tuple(parse_window(w) for w in args.window),
        session_policy=args.when_charging,
        retrieve_at=_when(args.retrieve_at, "--retrieve-at"),
        install_at=_when(args.install_at, "--install-at"),
        max_attempts=args.max_attempts,
        retry_delay=args.retry_delay,
        timeouts=_timeouts(args.timeout),
        name=args.name or "",
    )
    async with _services() as (artifacts, campaigns):
        artifact = await _artifact_for(artifacts, args, selector)
        campaign = await campaigns.create(artifact.id, selector, options, by=operator_name())
        view = await campaigns.view(campaign.id)
    if args.json:
        print_json(_view_json(view))
        return 0
    out(
        f"campaign {campaign.id}: firmware {artifact.version} (artifact {artifact.id}) to "
        f"{view.total} chargers in {len(view.waves)} waves; csms worker runs it"
    )
    _print_waves(view)
    out(f"follow it: csms firmware rollout watch {campaign.id}")
    return 0


async def cmd_rollout_list(args: argparse.Namespace) -> int:
    async with _services() as (_, campaigns):
        found = await campaigns.campaigns(status=args.status, limit=100_000)
    if args.json:
        print_json([_campaign_json(c) for c in found])
        return 0
    table(
        ["id", "name", "status", "version", "target", "wave", "created"],
        [
            [
                c.id,
                c.name or None,
                c.status,
                c.target_version,
                _target_text(c.selector),
                c.current_wave,
                c.created_at,
            ]
            for c in found
        ],
    )
    return 0


async def cmd_rollout_show(args: argparse.Namespace) -> int:
    async with _services() as (_, campaigns):
        view = await campaigns.view(args.campaign_id)
        failed = await campaigns.targets(args.campaign_id, states=["failed"], limit=FAILURES_SHOWN)
    if args.json:
        print_json(_view_json(view))
        return 0
    c = view.campaign
    o = c.options
    out(f"campaign {c.id}{f' ({c.name})' if c.name else ''}: {c.status}")
    if c.halted_reason:
        out(f"halted: {c.halted_reason}")
    out(f"firmware   {c.target_version} (artifact {c.artifact_id}{', signed' if c.signed else ''})")
    out(f"target     {_target_text(c.selector)}")
    out(
        f"rules      canary {o.canary}, waves {', '.join(_percent(w) for w in o.waves)}, "
        f"max failure rate {_percent(o.max_failure_rate)}, max concurrent {o.max_concurrent}, "
        f"when charging: {o.session_policy}"
    )
    if o.windows:
        out(f"windows    {', '.join(str(w) for w in o.windows)} (local time of each site)")
    _print_waves(view)
    if failed:
        out("")
        out("failed:")
        table(
            ["charger", "wave", "attempts", "failure", "last status"],
            [
                [
                    t.charge_point_id,
                    t.wave,
                    t.target.attempts,
                    t.target.failure,
                    t.target.last_status,
                ]
                for t in failed
            ],  # fmt: skip
        )
    return 0


def _percent(value: Any) -> str:
    return f"{value.normalize():f}%"


def _target_text(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in selector.items() if k != "chargers"]
    if selector.get("chargers"):
        parts.append(f"chargers={len(selector['chargers'])} listed")
    return " ".join(parts)


def _print_waves(view: CampaignView) -> None:
    table(
        ["wave", "size", "pending", "updating", "succeeded", "failed", "failure rate", "state"],
        [
            [
                f"{w.wave.number} ({w.wave.label})",
                w.wave.size,
                w.progress.pending,
                w.progress.in_flight,
                w.progress.succeeded,
                w.progress.failed,
                f"{w.progress.failure_rate():.1f}%",
                "done" if w.wave.finished_at else "started" if w.wave.started_at else "waiting",
            ]
            for w in view.waves
        ],
    )


def _campaign_json(c: Campaign) -> dict[str, Any]:
    o = c.options
    return {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "artifact_id": c.artifact_id,
        "target_version": c.target_version,
        "target": c.selector,
        "canary": o.canary,
        "waves": [_percent(w) for w in o.waves],
        "max_failure_rate": _percent(o.max_failure_rate),
        "max_concurrent": o.max_concurrent,
        "windows": [str(w) for w in o.windows],
        "session_policy": o.session_policy,
        "current_wave": c.current_wave,
        "halted_reason": c.halted_reason,
        "created_by": c.created_by,
        "created_at": c.created_at,
        "finished_at": c.finished_at,
    }


def _view_json(view: CampaignView) -> dict[str, Any]:
    return _campaign_json(view.campaign) | {
        "chargers": view.total,
        "counts": view.counts,
        "wave_progress": [
            {
                "number": w.wave.number,
                "label": w.wave.label,
                "size": w.wave.size,
                "pending": w.progress.pending,
                "in_flight": w.progress.in_flight,
                "succeeded": w.progress.succeeded,
                "failed": w.progress.failed,
                "cancelled": w.progress.cancelled,
                "failure_rate": f"{w.progress.failure_rate():.1f}",
            }
            for w in view.waves
        ],
    }


async def _act(args: argparse.Namespace, action: str) -> int:
    async with _services() as (_, campaigns):
        if action == "retry_failed":
            campaign, retried, skipped = await campaigns.retry_failed(
                args.campaign_id, by=operator_name()
            )
            note = f" ({skipped} skipped: in another campaign now)" if skipped else ""
            out(f"campaign {campaign.id}: {retried} failed chargers to try again{note}; "
                f"{campaign.status}")  # fmt: skip
            return 0
        campaign = await getattr(campaigns, action)(args.campaign_id, by=operator_name())
    out(f"campaign {campaign.id}: {campaign.status}")
    return 0


@refused_is_usage
async def cmd_rollout_pause(args: argparse.Namespace) -> int:
    return await _act(args, "pause")


@refused_is_usage
async def cmd_rollout_resume(args: argparse.Namespace) -> int:
    return await _act(args, "resume")


@refused_is_usage
async def cmd_rollout_cancel(args: argparse.Namespace) -> int:
    return await _act(args, "cancel")


@refused_is_usage
async def cmd_rollout_retry_failed(args: argparse.Namespace) -> int:
    return await _act(args, "retry_failed")


async def cmd_rollout_watch(args: argparse.Namespace) -> int:
    from csms.cli.firmware_watch import watch

    return await watch(args.campaign_id, interval=args.interval, once=args.once)


# -- the parsers --------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def add_parsers(sub: Subparsers) -> None:
    firmware = sub.add_parser(
        "firmware", help="firmware files and their rollout campaigns"
    ).add_subparsers(dest="firmware_command", required=True)

    upload = firmware.add_parser("upload", help="store a firmware file (streamed)")
    upload.add_argument("file")
    upload.add_argument("--version", required=True, help="the firmware version it installs")
    upload.add_argument("--vendor", help="for chargers of this vendor (default any)")
    upload.add_argument("--model", help="for chargers of this model (default any)")
    upload.add_argument("--sha256", help="refused if the file's SHA-256 differs")
    upload.add_argument("--signature", help="file with the signature (Base64 or binary)")
    upload.add_argument("--signing-cert", help="PEM file of the firmware signing certificate")
    upload.add_argument("--description")
    upload.add_argument("--json", action="store_true", help="print JSON")
    upload.set_defaults(func=cmd_upload)

    ls = firmware.add_parser("list", help="uploaded firmware files")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)

    rm = firmware.add_parser("remove", help="delete a firmware file no campaign uses")
    rm.add_argument("artifact_id", type=int)
    rm.set_defaults(func=cmd_remove)

    rollout = firmware.add_parser("rollout", help="firmware campaigns").add_subparsers(
        dest="rollout_command", required=True
    )
    create = rollout.add_parser("create", help="start a campaign (csms worker runs it)")
    create.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="KEY=VALUE",
        help="site=, vendor=, model=, firmware-version= (current), chargers=CP-1,CP-2; "
        "repeat to combine (all must hold)",
    )
    create.add_argument("--artifact", type=int, help="artifact id (default: the newest one "
                        "for the target's vendor and model, of --version if given)")  # fmt: skip
    create.add_argument("--version", help="pick the newest artifact of this version")
    create.add_argument("--canary", type=int, default=0, help="chargers in a first wave")
    create.add_argument(
        "--waves", default="100%", help="cumulative percentages, e.g. 10%%,50%%,100%%"
    )
    create.add_argument("--max-failure-rate", default="5%", help="a wave failing more halts")
    create.add_argument("--max-concurrent", type=_positive_int, default=100)
    create.add_argument(
        "--window",
        action="append",
        default=[],
        metavar="HH:MM-HH:MM",
        help="maintenance window, local time of each site (repeatable; default any time)",
    )
    create.add_argument(
        "--when-charging",
        choices=("wait", "schedule"),
        default="wait",
        help="wait: update a charger after its sessions end; schedule: send now, it installs "
        "after them",
    )
    create.add_argument("--retrieve-at", help="ISO 8601: download not before (retrieveDate)")
    create.add_argument("--install-at", help="ISO 8601: install at (installDateTime)")
    create.add_argument("--max-attempts", type=_positive_int, default=2)
    create.add_argument("--retry-delay", type=float, default=300.0, help="seconds")
    create.add_argument(
        "--timeout",
        action="append",
        default=[],
        metavar="PHASE=SECONDS",
        help="answer, download, install or confirm (repeatable)",
    )
    create.add_argument("--name")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(func=cmd_rollout_create)

    rls = rollout.add_parser("list", help="campaigns")
    rls.add_argument("--status", choices=("running", "paused", "halted", "cancelled",
                                          "completed"))  # fmt: skip
    rls.add_argument("--json", action="store_true", help="print JSON")
    rls.set_defaults(func=cmd_rollout_list)

    show = rollout.add_parser("show", help="a campaign, its waves and failures")
    show.add_argument("campaign_id", type=int)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_rollout_show)

    watch = rollout.add_parser("watch", help="live progress bars per wave and failures")
    watch.add_argument("campaign_id", type=int)
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between looks "
                       "when no live event arrives")  # fmt: skip
    watch.add_argument("--once", action="store_true", help="draw once and exit")
    watch.set_defaults(func=cmd_rollout_watch)

    for name, func, text in (
        ("pause", cmd_rollout_pause, "send no new updates"),
        ("resume", cmd_rollout_resume, "run a paused or halted campaign again"),
        ("cancel", cmd_rollout_cancel, "stop for good"),
        ("retry-failed", cmd_rollout_retry_failed, "try the failed chargers again"),
    ):
        action = rollout.add_parser(name, help=text)
        action.add_argument("campaign_id", type=int)
        action.set_defaults(func=func)
