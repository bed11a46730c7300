"""``csms audit``: search the audit log; and the audit entries of the CLI's own actions.

A ``csms`` subcommand that changes state directly in the database or sends a command to a
charger (users, chargers, tokens, tariffs and their assignments, sites, configuration
profiles, firmware and rollouts, certificates, security profiles, ``csms command``) is in
:data:`AUDITED`; :func:`audited` wraps it so that when it finishes an ``audit_log`` entry is
written: source ``cli``, actor the ``--actor`` given to ``csms`` (else the OS user), client
``cli:<OS user>@<host>`` (always the OS user, whatever ``--actor`` says), the arguments
(redacted by key name: ``--password`` never appears), the exit status and, for
``csms command``, the charger's answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import getpass
import socket
from pathlib import Path
from typing import Any

from csms.cli.support import Command, Subparsers, common_settings, err, open_pool, print_json

# "<module>.<function>" of a subcommand -> its action name
AUDITED: dict[str, str] = {
    "csms.cli.users.cmd_user_add": "cli.user.add",
    "csms.cli.users.cmd_user_remove": "cli.user.remove",
    "csms.cli.commands.cmd_command": "cli.command",
    "csms.cli.chargers.cmd_charger_add": "cli.charger.add",
    "csms.cli.chargers.cmd_charger_set": "cli.charger.set",
    "csms.cli.chargers.cmd_charger_remove": "cli.charger.remove",
    "csms.cli.chargers.cmd_charger_config": "cli.charger.config",
    "csms.cli.chargers.cmd_charger_availability": "cli.charger.availability",
    "csms.cli.tokens.cmd_token_add": "cli.token.add",
    "csms.cli.tokens.token_status_command.<locals>.command": "cli.token.status",
    "csms.cli.tokens.cmd_token_remove": "cli.token.remove",
    "csms.cli.tariffs.cmd_tariff_add": "cli.tariff.add",
    "csms.cli.tariffs.cmd_tariff_edit": "cli.tariff.edit",
    "csms.cli.tariffs.cmd_tariff_publish": "cli.tariff.publish",
    "csms.cli.tariffs.cmd_tariff_remove": "cli.tariff.remove",
    "csms.cli.tariff_assignments.cmd_tariff_assign": "cli.tariff.assign",
    "csms.cli.tariff_assignments.cmd_tariff_unassign": "cli.tariff.unassign",
    "csms.cli.sites.cmd_site_add": "cli.site.add",
    "csms.cli.sites.cmd_site_update": "cli.site.update",
    "csms.cli.sites.cmd_site_remove": "cli.site.remove",
    "csms.cli.sites.cmd_site_assign": "cli.site.assign",
    "csms.cli.sites.cmd_site_unassign": "cli.site.unassign",
    "csms.cli.fleet_config.cmd_profile_add": "cli.config.profile_add",
    "csms.cli.fleet_config.cmd_profile_update": "cli.config.profile_update",
    "csms.cli.fleet_config.cmd_profile_remove": "cli.config.profile_remove",
    "csms.cli.fleet_config.cmd_apply": "cli.config.apply",
    "csms.cli.fleet_config.cmd_refresh": "cli.config.refresh",
    "csms.cli.firmware.cmd_upload": "cli.firmware.upload",
    "csms.cli.firmware.cmd_remove": "cli.firmware.remove",
    "csms.cli.firmware.cmd_rollout_create": "cli.firmware.rollout_create",
    "csms.cli.firmware.cmd_rollout_pause": "cli.firmware.rollout_pause",
    "csms.cli.firmware.cmd_rollout_resume": "cli.firmware.rollout_resume",
    "csms.cli.firmware.cmd_rollout_cancel": "cli.firmware.rollout_cancel",
    "csms.cli.firmware.cmd_rollout_retry_failed": "cli.firmware.rollout_retry_failed",
    "csms.cli.certificates.cmd_ca_init": "cli.ca.init",
    "csms.cli.certificates.cmd_certificates_install": "cli.certificates.install",
    "csms.cli.certificates.cmd_certificates_delete": "cli.certificates.delete",
    "csms.cli.certificates.cmd_certificates_renew": "cli.certificates.renew",
    "csms.cli.certificates.cmd_rotate_password": "cli.charger.rotate_password",
    "csms.cli.security_profiles.cmd_security_profile": "cli.charger.security_profile",
    "csms.cli.charger_logs.cmd_logs_request": "cli.charger.logs_request",
}
# namespace entries that are not arguments
_INTERNAL = frozenset({"func", "finish_args", "audit_result", "audit_params", "acting_as"})
# subcommand names argparse keeps (``user_command``): noise in the params
_TARGET_ARGS = (
    "charge_point_id",
    "username",
    "id_token",
    "tariff_id",
    "site_id",
    "profile_id",
    "campaign_id",
    "artifact_id",
)


def action_of(command: Command) -> str | None:
    """The audit action of a subcommand function, None if it changes nothing."""
    return AUDITED.get(f"{command.__module__}.{command.__qualname__}")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without a passwd entry)
        return "unknown"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _arguments(args: argparse.Namespace) -> dict[str, Any]:
    values = {
        key: _plain(value)
        for key, value in vars(args).items()
        if key not in _INTERNAL and not key.endswith("_command") and not callable(value)
    }
    params = getattr(args, "audit_params", None)
    if params is not None:
        values["params"] = _plain(params)
        values.pop("params_pairs", None)
    return values


def _target(args: argparse.Namespace) -> str | None:
    for key in _TARGET_ARGS:
        value = getattr(args, key, None)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    targets = getattr(args, "targets", None)
    chargers = getattr(targets, "chargers", None)
    if isinstance(chargers, list | tuple) and chargers:
        return ",".join(str(c) for c in chargers)[:200]
    return None


async def record(
    args: argparse.Namespace, action: str, status: int, result: Any, *, error: bool = False
) -> None:
    """Write the entry of a finished subcommand (a failure to write is said on stderr)."""
    from csms.domain.audit import NewAuditEntry, redact
    from csms.store import audit

    user = os_user()
    actor = getattr(args, "acting_as", None) or user
    entry = NewAuditEntry(
        source="cli",
        action=action,
        outcome="error" if error else ("ok" if status == 0 else "failed"),
        actor=actor,
        target=_target(args),
        params=redact(_arguments(args)),
        status=status,
        result=redact(result),
        client=f"cli:{user}@{socket.gethostname()}",
    )
    try:
        pool = await open_pool(common_settings())
        try:
            await audit.record(pool, entry)
        finally:
            await pool.close()
    except Exception as exc:  # the action is done: say so, do not hide its own status
        err(f"audit entry not recorded: {type(exc).__name__}: {exc}")


def audited(command: Command) -> Command:
    """``command``, writing its audit entry when it finishes if it is in :data:`AUDITED`
    (returned as is otherwise)."""
    action = action_of(command)
    if action is None:
        return command

    @functools.wraps(command)
    async def run(args: argparse.Namespace) -> int:
        try:
            status = await command(args)
        except Exception as exc:
            result = {"error": type(exc).__name__, "detail": str(exc)[:500]}
            await record(args, action, 1, result, error=True)
            raise
        await record(args, action, status, getattr(args, "audit_result", None))
        return status

    return run


# -- csms audit ---------------------------------------------------------------------------


async def cmd_audit(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from csms.domain.audit import parse_when
    from csms.domain.clock import utc_now
    from csms.errors import InvalidInput
    from csms.store import audit

    now = utc_now()
    try:
        terms = audit.AuditFilter(
            actor=args.filter_actor,
            target=args.target,
            action=args.action,
            since=None if args.since is None else parse_when(args.since, now, "--since"),
            until=None if args.until is None else parse_when(args.until, now, "--until"),
            outcome=args.outcome,
            source=args.source,
        )
    except InvalidInput as exc:
        err(str(exc))
        return 2
    pool = await open_pool(common_settings())
    try:
        entries = await audit.search(pool, terms, limit=args.limit)
    finally:
        await pool.close()
    if args.format == "json":
        print_json([dataclasses.asdict(e) for e in entries])
        return 0
    grid = Table(title=f"audit log: {len(entries)} entries, newest first")
    for column in ("id", "at", "actor", "role", "action", "target", "status", "outcome", "client"):
        grid.add_column(column, overflow="fold")
    for e in entries:
        grid.add_row(
            str(e.id),
            e.at.isoformat(timespec="seconds"),
            e.actor or "-",
            e.actor_role or "-",
            e.action,
            e.target or "-",
            "-" if e.status is None else str(e.status),
            e.outcome,
            e.client or "-",
        )
    Console(width=200).print(grid)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError("must be 1-100000")
    return value


def add_parsers(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "audit", help="search the audit log (who did what, when, with what outcome)"
    )
    parser.add_argument("--actor", dest="filter_actor", help="username (exact)")
    parser.add_argument("--target", help="a charger id, user id, ... the action acted on")
    parser.add_argument("--action", help="an action, or a prefix ending in '.' (cli.)")
    parser.add_argument("--since", help="15m, 1h, 7d ago, or an instant (2026-11-01T06:00Z)")
    parser.add_argument("--until", help="the same forms as --since (exclusive)")
    parser.add_argument("--outcome", choices=("ok", "refused", "failed", "error"))
    parser.add_argument("--source", choices=("api", "cli", "worker"))
    parser.add_argument("--limit", type=_positive, default=100, help="entries shown (default 100)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=cmd_audit)
