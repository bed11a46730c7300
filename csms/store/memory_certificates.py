"""The certificate and password-rotation ports in memory (``csms.store.memory``'s
``MemoryStores`` holds them): the rules of ``csms.store.certificates`` in plain Python."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from csms.domain.certificates import CertificateFacts, IssuedCertificate
from csms.domain.credentials import SENDING, PasswordRotation
from csms.errors import AlreadyExists

if TYPE_CHECKING:
    from csms.store.memory import _Data

ACCEPTED = "Accepted"


def _current(certificate: IssuedCertificate) -> bool:
    return certificate.superseded_at is None and certificate.delivery_status == ACCEPTED


class MemoryCertificates:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def add_issued(
        self,
        charge_point_id: str,
        certificate_type: str,
        certificate: CertificateFacts,
        *,
        issued_at: datetime,
    ) -> IssuedCertificate:
        self._data.registered(charge_point_id)
        for other in self._data.issued.values():
            if (other.issuer, other.serial_number) == (
                certificate.issuer,
                certificate.serial_number,
            ) or other.fingerprint_sha256 == certificate.fingerprint_sha256:
                raise AlreadyExists(
                    f"certificate {certificate.serial_number} of {certificate.issuer} was "
                    "issued before"
                )
        issued = IssuedCertificate(
            id=max(self._data.issued, default=0) + 1,
            charge_point_id=charge_point_id,
            certificate_type=certificate_type,
            serial_number=certificate.serial_number,
            common_name=certificate.common_name,
            organization=certificate.organization,
            issuer=certificate.issuer,
            not_before=certificate.not_before,
            not_after=certificate.not_after,
            fingerprint_sha256=certificate.fingerprint_sha256,
            pem=certificate.pem,
            issued_at=issued_at,
            delivery_status=None,
            delivered_at=None,
            superseded_at=None,
            renewal_requested_at=None,
            renewal_attempts=0,
            renewal_error=None,
        )
        self._data.issued[issued.id] = issued
        return issued

    async def record_delivery(self, certificate_id: int, status: str, at: datetime) -> None:
        issued = self._data.issued.get(certificate_id)
        if issued is None:
            return
        self._data.issued[certificate_id] = dataclasses.replace(
            issued, delivery_status=status, delivered_at=at
        )
        if status != ACCEPTED:
            return
        for other in list(self._data.issued.values()):
            if (
                other.charge_point_id == issued.charge_point_id
                and other.certificate_type == issued.certificate_type
                and other.id < certificate_id
                and _current(other)
            ):
                self._data.issued[other.id] = dataclasses.replace(other, superseded_at=at)

    async def get_issued(self, certificate_id: int) -> IssuedCertificate | None:
        return self._data.issued.get(certificate_id)

    async def list_issued(
        self,
        *,
        charge_point_id: str | None = None,
        current_only: bool = False,
        expiring_before: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[IssuedCertificate]:
        rows = [
            c
            for c in self._data.issued.values()
            if (charge_point_id is None or c.charge_point_id == charge_point_id)
            and (not current_only or _current(c))
            and (expiring_before is None or c.not_after < expiring_before)
            and (before_id is None or c.id < before_id)
        ]
        return sorted(rows, key=lambda c: c.id, reverse=True)[:limit]

    async def due_for_renewal(
        self, *, expiring_before: datetime, attempted_before: datetime, limit: int = 500
    ) -> list[IssuedCertificate]:
        rows = [
            c
            for c in self._data.issued.values()
            if _current(c)
            and c.not_after < expiring_before
            and (c.renewal_requested_at is None or c.renewal_requested_at <= attempted_before)
        ]
        return sorted(rows, key=lambda c: (c.not_after, c.id))[:limit]

    async def record_renewal(self, certificate_id: int, at: datetime, error: str | None) -> None:
        issued = self._data.issued.get(certificate_id)
        if issued is not None:
            self._data.issued[certificate_id] = dataclasses.replace(
                issued,
                renewal_requested_at=at,
                renewal_attempts=issued.renewal_attempts + 1,
                renewal_error=error,
            )


class MemoryPasswordRotations:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def begin(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        self._data.registered(charge_point_id)
        self._data.rotations[charge_point_id] = PasswordRotation(
            charge_point_id, password_hash, SENDING, at, None
        )

    async def get(self, charge_point_id: str) -> PasswordRotation | None:
        return self._data.rotations.get(charge_point_id)

    def _holds(self, charge_point_id: str, password_hash: str) -> PasswordRotation | None:
        rotation = self._data.rotations.get(charge_point_id)
        return rotation if rotation and rotation.password_hash == password_hash else None

    async def answered(
        self, charge_point_id: str, password_hash: str, status: str, at: datetime
    ) -> bool:
        rotation = self._holds(charge_point_id, password_hash)
        if rotation is None:
            return False
        self._data.rotations[charge_point_id] = dataclasses.replace(
            rotation, status=status, answered_at=at
        )
        return True

    async def cancel(self, charge_point_id: str, password_hash: str) -> bool:
        if self._holds(charge_point_id, password_hash) is None:
            return False
        del self._data.rotations[charge_point_id]
        return True

    async def promote(self, charge_point_id: str, password_hash: str) -> bool:
        charger = self._data.chargers.get(charge_point_id)
        if self._holds(charge_point_id, password_hash) is None or charger is None:
            return False
        del self._data.rotations[charge_point_id]
        self._data.chargers[charge_point_id] = dataclasses.replace(
            charger, password_hash=password_hash, auth_mode="basic"
        )
        return True
