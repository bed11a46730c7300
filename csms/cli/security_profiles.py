"""``csms charger security-profile CP [--set N]``: a charger's recorded security profile,
and changing it (an upgrade over OCPP, or a downgrade of the record after the charger was
reset by other means). docs/topics/security.md#security-profiles-and-tls."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import TYPE_CHECKING

from csms.cli.support import common_settings, err, fmt, out, redis_session, services_session

if TYPE_CHECKING:
    from csms.domain.security_profiles import SecurityState

WAIT_POLL = 0.5


def show(state: SecurityState) -> None:
    from csms.domain.security_profiles import DESCRIPTIONS

    out(f"charger          {state.charge_point_id}")
    out(f"minimum profile  {state.minimum} ({DESCRIPTIONS[state.minimum]})")
    last = (
        "-"
        if state.last_profile is None
        else f"{state.last_profile} ({DESCRIPTIONS[state.last_profile]})"
    )
    out(f"last connection  {last} at {fmt(state.last_connected_at)}")
    upgrade = state.upgrade
    if upgrade is None:
        out("upgrade          none")
        return
    out(f"upgrade          to {upgrade.target}: {upgrade.state} (id {upgrade.id})")
    out(f"  started        {fmt(upgrade.started_at)}, deadline {fmt(upgrade.deadline)}")
    if upgrade.finished_at is not None:
        out(f"  finished       {fmt(upgrade.finished_at)}")
    out(f"  detail         {upgrade.detail}")


async def cmd_security_profile(args: argparse.Namespace) -> int:
    from csms.cluster.bus import CommandClient
    from csms.domain.security_profiles import PENDING
    from csms.errors import CommandError, InvalidInput
    from csms.services.security_profiles import UPGRADING, UpgradeRequest

    settings = common_settings()
    async with services_session(settings) as services:
        profiles = services.security_profiles
        if args.set is None:
            show(await profiles.state(args.charge_point_id))
            return 0
        request = UpgradeRequest(
            target=args.set,
            csms_url=args.url or settings.tls_public_url,
            timeout=args.timeout or settings.security_upgrade_timeout,
            command_timeout=args.command_timeout,
            configuration_slot=args.slot,
        )
        async with redis_session(settings) as (redis, keys):
            client = CommandClient(redis, keys)
            try:
                change = await profiles.set_profile(
                    args.charge_point_id, request, commands=client, downgrade=args.downgrade
                )
            except InvalidInput as exc:
                err(str(exc))
                return 2
            except CommandError as exc:
                err(f"{exc.code}: {exc.detail}")
                show(await profiles.state(args.charge_point_id))
                return 1
            finally:
                await client.close()
        out(f"{args.charge_point_id}: {change.outcome}")
        state = change.state
        if change.outcome == UPGRADING and args.wait:
            deadline = time.monotonic() + request.timeout + args.command_timeout
            while state.upgrade is not None and state.upgrade.state == PENDING:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(WAIT_POLL)
                state = await profiles.state(args.charge_point_id)
        show(state)
        if state.upgrade is not None and change.outcome == UPGRADING and args.wait:
            return 0 if state.upgrade.state == "completed" else 1
        return 0


def add_charger_parsers(charger: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``security-profile`` under ``csms charger``."""
    parser = charger.add_parser(
        "security-profile",
        help="show or change a charger's security profile (0-3; upgrades follow OCPP A05)",
    )
    parser.add_argument("charge_point_id")
    parser.add_argument(
        "--set",
        type=int,
        choices=[0, 1, 2, 3],
        help="the profile the charger must use from now on (higher: upgrade over OCPP)",
    )
    parser.add_argument(
        "--downgrade",
        action="store_true",
        help="lower the recorded minimum (after resetting the charger by other means; "
        "never sent over OCPP, A00.FR.005)",
    )
    parser.add_argument("--url", help="wss:// URL for 2.0.1 (default CSMS_TLS_PUBLIC_URL)")
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds the charger has to come back before the rollback "
        "(default CSMS_SECURITY_UPGRADE_TIMEOUT)",
    )
    parser.add_argument(
        "--command-timeout", type=float, default=30.0, help="seconds for each command"
    )
    parser.add_argument("--slot", type=int, help="2.0.1 network profile slot (default: next free)")
    parser.add_argument(
        "--wait", action="store_true", help="wait until the upgrade completes or is rolled back"
    )
    parser.set_defaults(func=cmd_security_profile)
