"""``csms ca`` (the built-in certificate authority), ``csms charger certificates`` (roots
installed on a charger, certificates issued to it, renewal) and ``csms charger
rotate-password``. docs/topics/certificates.md is the guide, docs/reference/cli.md the
reference."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    out,
    print_json,
    redis_session,
    refused_is_usage,
    services_and_pool,
    table,
)

if TYPE_CHECKING:
    from csms.services import Services
    from csms.services.ports import ChargerCommands

DEFAULT_TIMEOUT = 30.0


@contextlib.asynccontextmanager
async def _session() -> AsyncIterator[tuple[Services, ChargerCommands]]:
    """The services and a command client (commands reach the charger wherever it is)."""
    from csms.cluster.bus import CommandClient

    settings = common_settings()
    async with (
        services_and_pool(settings) as (services, _),
        redis_session(settings) as (redis, keys),
    ):
        client = CommandClient(redis, keys)
        try:
            yield services, client
        finally:
            await client.close()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        from csms.errors import InvalidInput

        raise InvalidInput(f"{path}: {exc}") from None


# -- csms ca ----------------------------------------------------------------------------------


@refused_is_usage
async def cmd_ca_init(args: argparse.Namespace) -> int:
    from csms.authority import create_authority

    directory = args.dir or common_settings().data_dir / "ca"
    passphrase = os.environ.get(args.passphrase_env) if args.passphrase_env else None
    if args.passphrase_env and not passphrase:
        err(f"{args.passphrase_env} is not set")
        return 2
    created = create_authority(
        Path(directory),
        common_name=args.common_name,
        organization=args.organization,
        days=args.days,
        key_type=args.key,
        passphrase=passphrase,
        force=args.force,
    )
    facts = created.facts
    out(f"certificate authority {facts.issuer}")
    out(f"  certificate  {created.certificate_file}")
    out(f"  key          {created.key_file} (mode 0600{', encrypted' if passphrase else ''})")
    out(f"  valid until  {facts.not_after.isoformat(timespec='seconds')}")
    out(f"  sha-256      {facts.fingerprint_sha256}")
    out("Use it on the nodes (development and tests; production: your own CA):")
    out(f"  export CSMS_CA_CERT_FILE={created.certificate_file.resolve()}")
    out(f"  export CSMS_CA_KEY_FILE={created.key_file.resolve()}")
    if passphrase:
        out(f"  export CSMS_CA_KEY_PASSPHRASE=...   # the value of {args.passphrase_env}")
    if args.organization:
        out(f"  export CSMS_CERT_ORGANIZATION='{args.organization}'")
    return 0


@refused_is_usage
async def cmd_ca_show(args: argparse.Namespace) -> int:
    from csms.authority import load_authority
    from csms.settings import NodeSettings

    authority = load_authority(NodeSettings())
    if authority is None:
        err("no certificate authority configured (CSMS_CA_CERT_FILE / CSMS_CA_FACTORY)")
        return 1
    certificate = getattr(authority, "certificate", None)
    if certificate is None:
        out(f"external certificate authority: {authority!r}")
        return 0
    from csms.domain.certificates import facts

    shown = facts(certificate)
    table(
        ["subject", "serial_number", "not_after", "sha256"],
        [[shown.issuer, shown.serial_number, shown.not_after, shown.fingerprint_sha256]],
    )
    return 0


# -- csms charger certificates ----------------------------------------------------------------


@refused_is_usage
async def cmd_certificates_list(args: argparse.Namespace) -> int:
    async with _session() as (services, commands):
        found = await services.certificates.installed(
            args.charge_point_id,
            commands,
            certificate_types=args.type or (),
            timeout=args.timeout,
        )
    if args.json:
        print_json([dataclasses.asdict(c) for c in found])
        return 0
    if not found:
        out(f"{args.charge_point_id} reports no installed certificate")
        return 0
    table(
        ["type", "serial_number", "issuer_name_hash", "issuer_key_hash", "hash"],
        [
            [
                c.certificate_type,
                c.hash_data.serial_number,
                c.hash_data.issuer_name_hash[:16] + "...",
                c.hash_data.issuer_key_hash[:16] + "...",
                c.hash_data.hash_algorithm,
            ]
            for c in found
        ],
    )
    return 0


@refused_is_usage
async def cmd_certificates_install(args: argparse.Namespace) -> int:
    pem = _read(args.file)
    async with _session() as (services, commands):
        answer = await services.certificates.install(
            args.charge_point_id, commands, args.type, pem, timeout=args.timeout
        )
    return _show_answer("InstallCertificate", answer.status, answer.reason)


@refused_is_usage
async def cmd_certificates_delete(args: argparse.Namespace) -> int:
    from csms.domain import certificates as certs

    async with _session() as (services, commands):
        if args.file is not None:
            data = certs.hash_data(_read(args.file), algorithm=args.hash_algorithm)
        else:
            data = await services.certificates.find_installed(
                args.charge_point_id, commands, args.serial, timeout=args.timeout
            )
        answer = await services.certificates.delete(
            args.charge_point_id, commands, data, timeout=args.timeout
        )
    out(f"serial number {data.serial_number}")
    return _show_answer("DeleteCertificate", answer.status, answer.reason)


def _show_answer(action: str, status: str, reason: str | None) -> int:
    out(f"{action}: {status}" + (f" ({reason})" if reason else ""))
    return 0 if status == "Accepted" else 1


async def cmd_certificates_issued(args: argparse.Namespace) -> int:
    async with services_and_pool(common_settings()) as (services, _):
        if args.charge_point_id is not None:
            await services.chargers.get(args.charge_point_id)
        rows = await services.certificates.issued(
            charge_point_id=args.charge_point_id,
            current_only=args.current,
            expiring_within_days=args.expiring_within,
            limit=args.limit,
        )
    if args.json:
        print_json([dataclasses.asdict(c) for c in rows])
        return 0
    table(
        ["id", "charger", "serial_number", "not_after", "delivery", "superseded", "renewal"],
        [
            [
                c.id,
                c.charge_point_id,
                c.serial_number,
                c.not_after,
                c.delivery_status,
                c.superseded_at,
                c.renewal_error or c.renewal_requested_at,
            ]
            for c in rows
        ],
    )
    return 0


@refused_is_usage
async def cmd_certificates_renew(args: argparse.Namespace) -> int:
    async with _session() as (services, commands):
        current = await services.certificates.issued(
            charge_point_id=args.charge_point_id, current_only=True, limit=1
        )
        outcome = await services.certificates.request_renewal(
            args.charge_point_id,
            commands,
            timeout=args.timeout,
            certificate=current[0] if current else None,
        )
    (out if outcome.ok else err)(f"{args.charge_point_id}: {outcome.detail}")
    return 0 if outcome.ok else 1


# -- csms charger rotate-password -------------------------------------------------------------


@refused_is_usage
async def cmd_rotate_password(args: argparse.Namespace) -> int:
    async with _session() as (services, commands):
        outcome = await services.passwords.rotate(
            args.charge_point_id, commands, timeout=args.timeout
        )
    out(f"{args.charge_point_id}: {outcome.status}: {outcome.detail}")
    return 0 if outcome.status == "accepted" else 1


# -- parsers ----------------------------------------------------------------------------------


def _timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (default 30)"
    )


def add_charger_parsers(charger: Subparsers) -> None:
    """``csms charger certificates ...`` and ``csms charger rotate-password``."""
    certificates = charger.add_parser(
        "certificates", help="certificates on a charger and issued to it"
    ).add_subparsers(dest="certificates_command", required=True)

    ls = certificates.add_parser(
        "list", help="the certificates the charger has installed (asked live)"
    )
    ls.add_argument("charge_point_id")
    ls.add_argument(
        "--type",
        action="append",
        help="only this certificate type (repeatable), e.g. CSMSRootCertificate",
    )
    ls.add_argument("--json", action="store_true", help="print JSON")
    _timeout(ls)
    ls.set_defaults(func=cmd_certificates_list)

    install = certificates.add_parser("install", help="install a root (CA) certificate")
    install.add_argument("charge_point_id")
    install.add_argument(
        "--type",
        required=True,
        help="CSMSRootCertificate (1.6: CentralSystemRootCertificate), "
        "ManufacturerRootCertificate, V2GRootCertificate, MORootCertificate",
    )
    install.add_argument("--file", required=True, help="the certificate, PEM")
    _timeout(install)
    install.set_defaults(func=cmd_certificates_install)

    delete = certificates.add_parser("delete", help="delete an installed certificate")
    delete.add_argument("charge_point_id")
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--file",
        help="the certificate, PEM (its hash data is computed; append the issuer's "
        "certificate if it is not self-signed)",
    )
    which.add_argument(
        "--serial", help="serial number (hex) of an installed certificate, as listed"
    )
    delete.add_argument(
        "--hash-algorithm", choices=["SHA256", "SHA384", "SHA512"], default="SHA256"
    )
    _timeout(delete)
    delete.set_defaults(func=cmd_certificates_delete)

    issued = certificates.add_parser(
        "issued", help="certificates the CSMS's authority signed (all chargers, or one)"
    )
    issued.add_argument("charge_point_id", nargs="?")
    issued.add_argument("--current", action="store_true", help="only chargers' current ones")
    issued.add_argument(
        "--expiring-within", type=float, metavar="DAYS", help="only those expiring within"
    )
    issued.add_argument("--limit", type=int, default=100)
    issued.add_argument("--json", action="store_true", help="print JSON (with the PEM)")
    issued.set_defaults(func=cmd_certificates_issued)

    renew = certificates.add_parser(
        "renew", help="ask the charger for a new CSR now (its certificate follows)"
    )
    renew.add_argument("charge_point_id")
    _timeout(renew)
    renew.set_defaults(func=cmd_certificates_renew)

    rotate = charger.add_parser(
        "rotate-password",
        help="set a new generated Basic-auth password on the charger (never shown)",
    )
    rotate.add_argument("charge_point_id")
    _timeout(rotate)
    rotate.set_defaults(func=cmd_rotate_password)


def add_parsers(sub: Subparsers) -> None:
    """``csms ca ...``."""
    ca = sub.add_parser("ca", help="the built-in certificate authority").add_subparsers(
        dest="ca_command", required=True
    )
    init = ca.add_parser(
        "init", help="create a self-signed CA for development and tests (ca.pem, ca.key)"
    )
    init.add_argument("--dir", help="where to write it (default: CSMS_DATA_DIR/ca)")
    init.add_argument("--common-name", default="csms development CA")
    init.add_argument("--organization", help="O of the CA (and of chargers' certificates)")
    init.add_argument("--days", type=int, default=3650, help="validity (default 3650)")
    init.add_argument("--key", choices=["ec", "rsa"], default="ec", help="P-256 or RSA 3072")
    init.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="encrypt the key with the passphrase in this environment variable",
    )
    init.add_argument("--force", action="store_true", help="replace existing files")
    init.set_defaults(func=cmd_ca_init)
    show = ca.add_parser("show", help="the configured certificate authority")
    show.set_defaults(func=cmd_ca_show)
