"""Charger certificates and the CA that signs them (docs/topics/certificates.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from csms.domain.certificates import CertificateFacts, IssuedCertificate


class CertificateStore(Protocol):
    """Certificates the CSMS's authority issued to chargers."""

    async def add_issued(
        self,
        charge_point_id: str,
        certificate_type: str,
        certificate: CertificateFacts,
        *,
        issued_at: datetime,
    ) -> IssuedCertificate:
        """Record an issued certificate; AlreadyExists for an issuer and serial seen before.
        Durable."""
        ...

    async def record_delivery(self, certificate_id: int, status: str, at: datetime) -> None:
        """The charger's answer to CertificateSigned. Accepted supersedes (``at``) the
        older certificates of the same charger and type it had accepted."""
        ...

    async def get_issued(self, certificate_id: int) -> IssuedCertificate | None: ...

    async def list_issued(
        self,
        *,
        charge_point_id: str | None = None,
        current_only: bool = False,
        expiring_before: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[IssuedCertificate]:
        """Newest first (by id); ``current_only``: accepted and not superseded."""
        ...

    async def due_for_renewal(
        self, *, expiring_before: datetime, attempted_before: datetime, limit: int = 500
    ) -> list[IssuedCertificate]:
        """Current certificates that expire before ``expiring_before`` and were not asked
        to be renewed since ``attempted_before``; soonest expiry first."""
        ...

    async def record_renewal(self, certificate_id: int, at: datetime, error: str | None) -> None:
        """A renewal was asked for (``error`` None) or could not be (its reason)."""
        ...


class CertificateAuthority(Protocol):
    """Signs chargers' certificates: the built-in one (``csms.authority``) or an external
    one plugged in with ``CSMS_CA_FACTORY`` (docs/topics/certificates.md)."""

    async def sign(self, csr_pem: str, charge_point_id: str) -> str:
        """The certificate chain for a checked CSR, PEM, the charger's certificate first
        (then intermediates, if any). Raise on failure: the charger gets no certificate
        and the failure is recorded."""
        ...
