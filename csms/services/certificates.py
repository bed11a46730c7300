"""Chargers' certificates, version neutral: signing CSRs (A02/A03), the certificates issued
and their renewal ahead of expiry, and the root certificates installed on a charger
(M03-M05 in 2.0.1; the 1.6 security whitepaper's InstallCertificate, DeleteCertificate and
GetInstalledCertificateIds). docs/topics/certificates.md is the operator's view.

What differs between versions is data in :mod:`csms.domain.certificates` (type names, how
to list, how to trigger a renewal); the command adapters of the node build each version's
messages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography import x509

from csms.domain import certificates as certs
from csms.domain.certificates import (
    CertificateFacts,
    CsrFacts,
    HashData,
    InstalledCertificate,
    IssuedCertificate,
)
from csms.domain.clock import Clock, format_timestamp
from csms.errors import ChargerNotConnected, CommandError, InvalidInput, NotFound
from csms.services.hooks import CertificateIssued, CertificateRenewalFailed, Hooks
from csms.services.ports import (
    CertificateAuthority,
    CertificateStore,
    ChargerCommands,
    ChargerStore,
)
from csms.services.reports import ReportService

log = logging.getLogger(__name__)

ACCEPTED = "Accepted"
RENEWAL_FAILED = "CertificateRenewalFailed"  # the charger event of a failed renewal


@dataclass(frozen=True, slots=True)
class CertificateOptions:
    """``CSMS_CERT_ORGANIZATION``, ``CSMS_CERT_RENEW_BEFORE_DAYS``,
    ``CSMS_CERT_RENEW_RETRY_INTERVAL``."""

    organization: str | None = None
    renew_before_days: float = 30.0
    renew_retry_interval: float = 86_400.0


@dataclass(frozen=True, slots=True)
class SigningDecision:
    """The answer to a SignCertificate: Accepted with the checked CSR, or Rejected and why."""

    accepted: bool
    reason: str | None = None
    csr: CsrFacts | None = None
    reason_code: str | None = None  # a short code (2.0.1 statusInfo.reasonCode)


@dataclass(frozen=True, slots=True)
class Issued:
    certificate: IssuedCertificate
    chain: str  # PEM, the charger's certificate first


@dataclass(frozen=True, slots=True)
class CertificateAnswer:
    """A charger's answer to InstallCertificate / DeleteCertificate."""

    status: str  # Accepted, Rejected, Failed, NotFound
    reason: str | None
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RenewalOutcome:
    charge_point_id: str
    ok: bool  # the charger accepted the trigger: a CSR should follow
    detail: str


class CertificateService:
    """Signs, records and renews chargers' certificates; manages the roots they trust."""

    def __init__(
        self,
        store: CertificateStore,
        chargers: ChargerStore,
        reports: ReportService,
        *,
        authority: CertificateAuthority | None,
        clock: Clock,
        hooks: Hooks,
        options: CertificateOptions | None = None,
    ) -> None:
        self._store = store
        self._chargers = chargers
        self._reports = reports
        self._authority = authority
        self._clock = clock
        self._hooks = hooks
        self.options = CertificateOptions() if options is None else options

    # -- SignCertificate (A02/A03) -----------------------------------------------------------

    async def review(
        self, charge_point_id: str, csr_pem: str, certificate_type: str
    ) -> SigningDecision:
        """Whether a SignCertificate is Accepted (A02.FR.11/A03.FR.11: able to process it)
        or Rejected (A02.FR.12/A03.FR.12), kept as a charger event either way."""
        decision = self._decide(charge_point_id, csr_pem, certificate_type)
        await self._reports.notification(
            charge_point_id,
            "SignCertificate",
            {"certificateType": certificate_type, "csr": csr_pem, "reason": decision.reason},
            kind="Accepted" if decision.accepted else "Rejected",
        )
        if not decision.accepted:
            log.warning(
                "SignCertificate rejected: %s",
                decision.reason,
                extra={"charge_point_id": charge_point_id},
            )
        return decision

    def _decide(self, charge_point_id: str, csr_pem: str, certificate_type: str) -> SigningDecision:
        if self._authority is None:
            return SigningDecision(
                False, "no certificate authority is configured", reason_code="NoAuthority"
            )
        if certificate_type != certs.CHARGING_STATION_CERTIFICATE:
            return SigningDecision(
                False,
                f"{certificate_type} is signed by the ISO 15118 PKI, not by this authority",
                reason_code="UnsupportedCertType",
            )
        try:
            csr = certs.check_csr(csr_pem, charge_point_id, self.options.organization)
        except InvalidInput as exc:
            return SigningDecision(False, str(exc), reason_code="InvalidCSR")
        return SigningDecision(True, csr=csr)

    async def issue(
        self, charge_point_id: str, csr_pem: str, certificate_type: str, csr: CsrFacts
    ) -> Issued:
        """Have the authority sign an accepted CSR; what it returns is checked (the CSR's
        key, the charger's CN, valid now, a chain that links) and recorded. Raises on any
        failure (the charger then gets no CertificateSigned and retries, A02.FR.17)."""
        if self._authority is None:
            raise InvalidInput("no certificate authority is configured")
        chain = await self._authority.sign(csr_pem, charge_point_id)
        leaf = certs.check_issued(chain, csr, charge_point_id, self._clock())
        issued = await self._store.add_issued(
            charge_point_id, certificate_type, leaf, issued_at=self._clock()
        )
        log.info(
            "certificate %s issued, valid until %s",
            issued.serial_number,
            format_timestamp(issued.not_after),
            extra={"charge_point_id": charge_point_id},
        )
        return Issued(issued, chain)

    async def delivered(self, issued: IssuedCertificate, status: str) -> None:
        """The charger's answer to CertificateSigned. Accepted: it is the charger's
        certificate now (the older ones are superseded); anything else is a failure."""
        await self._store.record_delivery(issued.id, status, self._clock())
        await self._reports.notification(
            issued.charge_point_id,
            "CertificateSigned",
            {"serialNumber": issued.serial_number, "status": status},
            kind=status,
        )
        if status == ACCEPTED:
            await self._hooks.emit(CertificateIssued(issued.charge_point_id, issued))
        else:
            await self._failed(issued, f"the charger answered CertificateSigned with {status}")

    async def issued(
        self,
        *,
        charge_point_id: str | None = None,
        current_only: bool = False,
        expiring_within_days: float | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[IssuedCertificate]:
        """Certificates the authority issued, newest first."""
        expiring_before = (
            None
            if expiring_within_days is None
            else self._clock() + timedelta(days=expiring_within_days)
        )
        return await self._store.list_issued(
            charge_point_id=charge_point_id,
            current_only=current_only,
            expiring_before=expiring_before,
            before_id=before_id,
            limit=limit,
        )

    # -- renewal ------------------------------------------------------------------------------

    async def request_renewal(
        self,
        charge_point_id: str,
        commands: ChargerCommands,
        *,
        timeout: float = 30.0,
        certificate: IssuedCertificate | None = None,
    ) -> RenewalOutcome:
        """Ask the charger for a new CSR now (2.0.1 TriggerMessage
        SignChargingStationCertificate, 1.6 ExtendedTriggerMessage SignChargePointCertificate;
        A02). ``certificate``: the one being renewed, whose attempt is recorded."""
        try:
            protocol = await self._protocol(charge_point_id)
            command, message = certs.RENEWAL_TRIGGERS[protocol]
            result = await commands.send(
                charge_point_id, command, {"message": message}, timeout=timeout
            )
            status = str(result.get("response", {}).get("status"))
            error = None if status == ACCEPTED else f"the charger answered {message}: {status}"
        except (CommandError, NotFound) as exc:
            error = f"{exc.code if isinstance(exc, CommandError) else 'not_found'}: {exc}"
        if certificate is not None:
            await self._store.record_renewal(certificate.id, self._clock(), error)
            if error is not None:
                await self._failed(certificate, error)
        if error is None:
            return RenewalOutcome(charge_point_id, True, "renewal asked: a CSR should follow")
        return RenewalOutcome(charge_point_id, False, error)

    async def renew_due(
        self, commands: ChargerCommands, *, timeout: float = 30.0, limit: int = 500
    ) -> list[RenewalOutcome]:
        """The worker's sweep: every current certificate expiring within
        ``renew_before_days`` whose renewal was not asked for within
        ``renew_retry_interval`` is renewed. One asked for before whose charger accepted,
        yet still current, did not renew: that is a failure (then it is asked again)."""
        now = self._clock()
        due = await self._store.due_for_renewal(
            expiring_before=now + timedelta(days=self.options.renew_before_days),
            attempted_before=now - timedelta(seconds=self.options.renew_retry_interval),
            limit=limit,
        )
        outcomes = []
        for certificate in due:
            if certificate.renewal_requested_at is not None and certificate.renewal_error is None:
                asked = format_timestamp(certificate.renewal_requested_at)
                await self._failed(certificate, f"no new certificate since the renewal at {asked}")
            outcomes.append(
                await self.request_renewal(
                    certificate.charge_point_id, commands, timeout=timeout, certificate=certificate
                )
            )
        return outcomes

    async def _failed(self, certificate: IssuedCertificate, reason: str) -> None:
        """A renewal failed: a charger event and a hook event (issue 15 makes it an alarm)."""
        log.warning(
            "certificate %s (expires %s): renewal failed: %s",
            certificate.serial_number,
            format_timestamp(certificate.not_after),
            reason,
            extra={"charge_point_id": certificate.charge_point_id},
        )
        await self._reports.notification(
            certificate.charge_point_id,
            RENEWAL_FAILED,
            {
                "serialNumber": certificate.serial_number,
                "notAfter": format_timestamp(certificate.not_after),
                "reason": reason,
            },
            kind=certificate.serial_number,
        )
        await self._hooks.emit(
            CertificateRenewalFailed(certificate.charge_point_id, certificate, reason)
        )

    # -- root certificates on the charger (M03-M05, whitepaper A/B/C use cases) -------------

    async def installed(
        self,
        charge_point_id: str,
        commands: ChargerCommands,
        *,
        certificate_types: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> list[InstalledCertificate]:
        """What the charger says it has installed (GetInstalledCertificateIds), of the given
        types or of every type its version lists."""
        protocol = await self._protocol(charge_point_id)
        if certificate_types:
            listed = {certs.canonical_type(t) for t in certs.LISTED_TYPES[protocol]}
            unknown = [t for t in certificate_types if certs.canonical_type(t) not in listed]
            if unknown:
                raise InvalidInput(
                    f"certificate type {', '.join(unknown)} is not listed by {protocol} "
                    f"chargers (they list {', '.join(certs.LISTED_TYPES[protocol])})"
                )
        found: list[InstalledCertificate] = []
        for types in certs.list_calls(protocol, certificate_types):
            params = {"certificate_type": list(types)} if types else {}
            result = await commands.send(
                charge_point_id, "get_installed_certificate_ids", params, timeout=timeout
            )
            sent = result.get("request", {}).get("certificateType") or []
            found += certs.installed_certificates(
                result.get("response", {}), [sent] if isinstance(sent, str) else sent
            )
        return found

    async def install(
        self,
        charge_point_id: str,
        commands: ChargerCommands,
        certificate_type: str,
        pem: str,
        *,
        timeout: float = 30.0,
    ) -> CertificateAnswer:
        """InstallCertificate of a root (CA) certificate."""
        protocol = await self._protocol(charge_point_id)
        roots = {certs.canonical_type(t) for t in certs.ROOT_TYPES[protocol]}
        if certs.canonical_type(certificate_type) not in roots:
            raise InvalidInput(
                f"certificate_type must be one of {', '.join(certs.ROOT_TYPES[protocol])} "
                f"for {protocol} chargers"
            )
        chain = certs.load_chain(pem)
        if len(chain) != 1:
            raise InvalidInput("certificate: one certificate per InstallCertificate")
        if not _is_ca(chain[0]):
            raise InvalidInput("certificate: not a CA certificate (basicConstraints CA:TRUE)")
        result = await commands.send(
            charge_point_id,
            "install_certificate",
            {"certificate_type": certificate_type, "certificate": certs.pem_of(chain[0])},
            timeout=timeout,
        )
        return _answer(result)

    async def delete(
        self,
        charge_point_id: str,
        commands: ChargerCommands,
        hash_data: HashData,
        *,
        timeout: float = 30.0,
    ) -> CertificateAnswer:
        """DeleteCertificate of the certificate ``hash_data`` names."""
        await self._protocol(charge_point_id)
        result = await commands.send(
            charge_point_id,
            "delete_certificate",
            {"certificate_hash_data": hash_data.ocpp()},
            timeout=timeout,
        )
        return _answer(result)

    async def find_installed(
        self,
        charge_point_id: str,
        commands: ChargerCommands,
        serial_number: str,
        *,
        timeout: float = 30.0,
    ) -> HashData:
        """The hash data of the installed certificate with this serial number (NotFound;
        InvalidInput when several issuers used it: delete by PEM or hash data then)."""
        key = serial_number.lower().lstrip("0") or "0"
        matches = [
            c.hash_data
            for c in await self.installed(charge_point_id, commands, timeout=timeout)
            if (c.hash_data.serial_number.lower().lstrip("0") or "0") == key
        ]
        if not matches:
            raise NotFound(f"{charge_point_id} has no installed certificate {serial_number}")
        if len({(m.issuer_name_hash, m.issuer_key_hash) for m in matches}) > 1:
            raise InvalidInput(
                f"serial number {serial_number} is used by several issuers: delete by PEM or "
                "certificate_hash_data"
            )
        return matches[0]

    async def _protocol(self, charge_point_id: str) -> str:
        charger = await self._chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        protocol = charger.connected_protocol
        if protocol not in certs.ROOT_TYPES:
            raise ChargerNotConnected(f"{charge_point_id} is not connected")
        return protocol


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _answer(result: dict[str, Any]) -> CertificateAnswer:
    response = result.get("response", {})
    info = response.get("statusInfo") or {}
    reason = info.get("additionalInfo") or info.get("reasonCode")
    return CertificateAnswer(str(response.get("status")), reason, result.get("request", {}))


__all__ = [
    "CertificateAnswer",
    "CertificateFacts",
    "CertificateOptions",
    "CertificateService",
    "Issued",
    "RenewalOutcome",
    "SigningDecision",
]
