"""``csms-sim``: run a simulated charging station against a CSMS.

Exit status 0 on success, 1 with a one-line error on stderr when the scenario fails,
2 for invalid arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from typing import Any

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from simulators.config import StationConfig
from simulators.errors import CallError, ConnectionLostError, SimulatorError
from simulators.scenarios import run_boot, run_idle, run_session
from simulators.station import Station

PASSWORD_ENV = "CSMS_SIM_PASSWORD"
SCENARIOS = ("session", "boot", "idle")
HTTP_HINTS = {
    401: "check --password",
    403: "check --password, --client-cert and that the charge point is allowed (a charger "
    "that used a higher security profile may not come back with a lower one)",
    404: "check --url and --id",
}


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _currency(text: str) -> str:
    if not (len(text) == 3 and text.isalpha() and text.isupper()):
        raise argparse.ArgumentTypeError(f"must be an ISO 4217 code such as EUR: {text}")
    return text


def _share(text: str) -> float:
    """``5%``, ``5`` (percent) -> 0.05."""
    try:
        value = float(text.strip().removesuffix("%")) / 100
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0% and 100%: {text}")
    return value


def _add_firmware_failures(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-download", type=_share, default=0.0, help="share of firmware downloads that fail"
    )
    parser.add_argument(
        "--fail-install", type=_share, default=0.0, help="share of firmware installs that fail"
    )
    parser.add_argument(
        "--bad-signature",
        action="store_true",
        help="every firmware signature check fails (InvalidSignature)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands: ``run``; ``fleet`` is to come)."""
    parser = argparse.ArgumentParser(prog="csms-sim", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one charging station through a scenario")
    run.add_argument("--url", required=True, help="CSMS endpoint, e.g. ws://127.0.0.1:9000/ocpp")
    run.add_argument("--id", required=True, dest="charge_point_id", help="charge point id")
    run.add_argument("--version", choices=("1.6", "2.0.1"), default="1.6", help="OCPP version")
    run.add_argument(
        "--password", help=f"HTTP Basic password (security profile 1); or set {PASSWORD_ENV}"
    )
    run.add_argument("--ca-file", help="CA that signed the CSMS certificate (wss:// URLs)")
    run.add_argument("--client-cert", help="charging station certificate, PEM (security profile 3)")
    run.add_argument("--client-key", help="its private key, PEM")
    run.add_argument(
        "--secure-url", help="wss:// URL to use when the CSMS raises the 1.6 SecurityProfile"
    )
    run.add_argument("--scenario", choices=SCENARIOS, default="session")
    run.add_argument("--connectors", type=_positive_int, default=1)
    run.add_argument("--meter-interval", type=_positive_float, default=5.0, help="seconds")
    run.add_argument("--meter-values", type=_non_negative_int, default=3)
    run.add_argument("--id-token", default="TAG-1")
    run.add_argument("--call-timeout", type=_positive_float, default=10.0, help="seconds")
    run.add_argument(
        "--display-cost",
        action="store_true",
        help="a display for tariffs and costs (1.6 California Pricing, 2.0.1 TariffCostCtrlr)",
    )
    run.add_argument(
        "--currency",
        type=_currency,
        default="EUR",
        help="ISO 4217 code (2.0.1 TariffCostCtrlr.Currency)",
    )
    run.add_argument(
        "--reboot-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a configuration key (1.6) or Component.Variable (2.0.1) whose change is answered "
        "RebootRequired and takes effect at the next reboot (repeatable)",
    )
    run.add_argument(
        "--log-upload",
        choices=("POST", "PUT"),
        default="POST",
        help="how diagnostics and logs are uploaded (POST: multipart/form-data)",
    )
    run.add_argument("--vendor", default="SimVendor", help="BootNotification vendor")
    run.add_argument("--model", default="SimModel", help="BootNotification model")
    run.add_argument("--firmware-version", default="1.0.0", help="the version it boots with")
    _add_firmware_failures(run)
    run.add_argument("--verbose", action="store_true", help="log every frame")
    _add_fleet(commands)
    return parser


def _add_fleet(commands: Any) -> None:
    fleet = commands.add_parser(
        "fleet", help="load generator: many chargers over several processes (docs/performance.md)"
    )
    fleet.add_argument("--url", required=True, help="CSMS endpoint, e.g. ws://127.0.0.1:9000/ocpp")
    fleet.add_argument("--chargers", type=_positive_int, required=True)
    fleet.add_argument("--processes", type=_positive_int, default=1)
    fleet.add_argument("--id-prefix", default="FLEET-", help="ids are PREFIX0, PREFIX1, ...")
    fleet.add_argument("--first-index", type=_non_negative_int, default=0)
    fleet.add_argument("--password", help=f"shared Basic-auth password; or set {PASSWORD_ENV}")
    fleet.add_argument("--connect-rate", type=_positive_float, default=1000.0, help="per second")
    fleet.add_argument("--heartbeat", type=_positive_float, default=60.0, help="seconds")
    fleet.add_argument("--meter-interval", type=_positive_float, default=10.0, help="seconds")
    fleet.add_argument("--session-share", type=float, default=0.5, help="0..1 of chargers charge")
    fleet.add_argument("--session-meter-values", type=_positive_int, default=30)
    fleet.add_argument("--v201-share", type=float, default=0.2, help="0..1 speak OCPP 2.0.1")
    fleet.add_argument(
        "--samples",
        type=int,
        choices=range(1, 9),
        default=8,
        metavar="1..8",
        help="sampled values per meter value, 1..8 (energy, power, 3 currents, 2 voltages, SoC)",
    )
    fleet.add_argument("--duration", type=_positive_float, default=30.0, help="seconds after ramp")
    fleet.add_argument("--id-token", default="FLEET-TAG")
    fleet.add_argument(
        "--warmup", type=float, default=5.0, help="seconds after the ramp before latencies count"
    )
    fleet.add_argument("--no-spread", action="store_true", help="all connections from 127.0.0.1")
    fleet.add_argument("--firmware-version", default="1.0.0", help="the version they boot with")
    _add_firmware_failures(fleet)


def _config(args: argparse.Namespace) -> StationConfig:
    return StationConfig(
        url=args.url,
        charge_point_id=args.charge_point_id,
        version=args.version,
        password=args.password or os.environ.get(PASSWORD_ENV) or None,
        connectors=args.connectors,
        meter_interval=args.meter_interval,
        call_timeout=args.call_timeout,
        display_cost_and_price=args.display_cost,
        currency=args.currency,
        reboot_keys=frozenset(args.reboot_key),
        log_upload_method=args.log_upload,
        vendor=args.vendor,
        model=args.model,
        firmware_version=args.firmware_version,
        fail_download=args.fail_download,
        fail_install=args.fail_install,
        bad_signature=args.bad_signature,
        ca_file=args.ca_file,
        client_cert_file=args.client_cert,
        client_key_file=args.client_key,
        secure_url=args.secure_url,
    )


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    station = Station(_config(args))
    if args.scenario == "boot":
        return await run_boot(station)
    if args.scenario == "session":
        return await run_session(station, args.id_token, args.meter_values)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    return await run_idle(station, stop)


def describe(exc: BaseException) -> str:
    """A one-line explanation of why a scenario failed."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return f"HTTP {status}: {HTTP_HINTS.get(status, 'the CSMS refused the WebSocket')}"
    if isinstance(exc, InvalidURI):
        return f"invalid --url: {exc}"
    if isinstance(exc, InvalidHandshake):
        return f"WebSocket handshake failed: {exc}"
    if isinstance(exc, CallError):
        return f"CSMS answered CALLERROR {exc}"
    if isinstance(exc, ConnectionLostError):
        return "connection closed by the CSMS"
    if isinstance(exc, TimeoutError):
        return "timed out waiting for the CSMS"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc} (check --ca-file, --client-cert)"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # Frames are logged by the station already; websockets' own records add nothing.
    logging.getLogger("simulators.wire").setLevel(logging.INFO)
    # What the station's display shows is printed even without --verbose.
    logging.getLogger("simulators.display").setLevel(logging.INFO)


def _fleet(args: argparse.Namespace) -> int:
    from simulators.fleet.runner import run_fleet
    from simulators.fleet.worker import FleetProfile

    profile = FleetProfile(
        url=args.url.rstrip("/"),
        chargers=args.chargers,
        processes=args.processes,
        id_prefix=args.id_prefix,
        first_index=args.first_index,
        password=args.password or os.environ.get(PASSWORD_ENV),
        connect_rate=args.connect_rate,
        heartbeat=args.heartbeat,
        meter_interval=args.meter_interval,
        session_share=args.session_share,
        session_meter_values=args.session_meter_values,
        v201_share=args.v201_share,
        samples=args.samples,
        duration=args.duration,
        id_token=args.id_token,
        spread_addresses=not args.no_spread,
        warmup=args.warmup,
        firmware_version=args.firmware_version,
        fail_download=args.fail_download,
        fail_install=args.fail_install,
        bad_signature=args.bad_signature,
    )
    summary = run_fleet(profile)
    sys.stdout.write(json.dumps(summary) + "\n")
    failed = summary["connect_failures"] + summary["call_errors"] + summary["timeouts"]
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``csms-sim``."""
    args = build_parser().parse_args(argv)
    if args.command == "fleet":
        _setup_logging(False)
        try:
            return _fleet(args)
        except KeyboardInterrupt:
            return 130
    _setup_logging(args.verbose)
    try:
        summary = asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except (SimulatorError, InvalidHandshake, InvalidURI, OSError, ValueError) as exc:
        sys.stderr.write(f"csms-sim: error: {describe(exc)}\n")
        return 1
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
