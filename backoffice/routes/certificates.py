"""Certificates: the roots installed on a charger (read live, installed, deleted), the
certificates the CSMS's authority issued (and their renewal), and Basic-auth password
rotation. docs/topics/certificates.md is the operator's guide."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path, Query

from backoffice.deps import Operator, PageDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from backoffice.schemas.certificates import (
    CertificateAnswerPublic,
    CertificateDelete,
    CertificateInstall,
    HashDataPublic,
    InstalledCertificatePublic,
    InstalledCertificates,
    IssuedCertificatePublic,
    ListedType,
    PasswordRotationPublic,
    RenewalPublic,
)
from backoffice.state import State
from csms.domain import certificates as certs
from csms.domain.certificates import HashData, IssuedCertificate
from csms.errors import InvalidInput
from csms.services.certificates import CertificateAnswer

router = APIRouter(prefix=f"{API}/chargers", tags=["certificates"])
fleet_router = APIRouter(prefix=f"{API}/certificates", tags=["certificates"])

SerialPath = Annotated[str, Path(pattern=r"^[0-9A-Fa-f]{1,40}$", description="hex")]


def _timeout(state: State) -> float:
    return state.settings.command_timeout


def _answer(
    charge_point_id: str, answer: CertificateAnswer, data: HashData | None
) -> CertificateAnswerPublic:
    return CertificateAnswerPublic(
        charge_point_id=charge_point_id,
        status=answer.status,
        reason=answer.reason,
        hash_data=None if data is None else HashDataPublic.of(data),
    )


def _issued(certificate: IssuedCertificate) -> IssuedCertificatePublic:
    fields = dataclasses.asdict(certificate)
    current = certificate.superseded_at is None and certificate.delivery_status == "Accepted"
    return IssuedCertificatePublic(**fields, current=current)


# -- on the charger (live) --------------------------------------------------------------------


@router.get("/{charge_point_id}/certificates", response_model=InstalledCertificates)
async def installed_certificates(
    _: Operator,
    state: StateDep,
    charge_point_id: ChargePointIdPath,
    certificate_type: Annotated[
        list[ListedType] | None, Query(description="Only these types (repeatable)")
    ] = None,
) -> InstalledCertificates:
    """The certificates the charger says are installed (GetInstalledCertificateIds of its
    version; 1.6 is asked once per type). 409 not connected, 504 no answer."""
    await existing(state.pool, charge_point_id)
    found = await state.services.certificates.installed(
        charge_point_id,
        state.commands,
        certificate_types=certificate_type or (),
        timeout=_timeout(state),
    )
    return InstalledCertificates(
        charge_point_id=charge_point_id,
        items=[
            InstalledCertificatePublic(
                certificate_type=c.certificate_type,
                hash_data=HashDataPublic.of(c.hash_data),
                child_certificates=[HashDataPublic.of(h) for h in c.children],
            )
            for c in found
        ],
    )


@router.post("/{charge_point_id}/certificates", response_model=CertificateAnswerPublic)
async def install_certificate(
    _: Operator, state: StateDep, charge_point_id: ChargePointIdPath, body: CertificateInstall
) -> CertificateAnswerPublic:
    """InstallCertificate of a root (CA) certificate; the answer is the charger's (a
    Rejected or Failed install is not an HTTP error). 422 not a CA certificate, or a type
    the charger's version does not have."""
    await existing(state.pool, charge_point_id)
    answer = await state.services.certificates.install(
        charge_point_id,
        state.commands,
        body.certificate_type,
        body.certificate,
        timeout=_timeout(state),
    )
    return _answer(charge_point_id, answer, _hash_data_if_root(body.certificate))


def _hash_data_if_root(pem: str) -> HashData | None:
    """The hash data of a self-signed certificate (an intermediate's needs its issuer)."""
    try:
        return certs.hash_data(pem)
    except InvalidInput:
        return None


@router.post("/{charge_point_id}/certificates/delete", response_model=CertificateAnswerPublic)
async def delete_certificate(
    _: Operator, state: StateDep, charge_point_id: ChargePointIdPath, body: CertificateDelete
) -> CertificateAnswerPublic:
    """DeleteCertificate of the certificate a PEM or hash data names."""
    await existing(state.pool, charge_point_id)
    if body.certificate is not None:
        data = certs.hash_data(body.certificate, algorithm=body.hash_algorithm)
    else:
        assert body.certificate_hash_data is not None
        data = body.certificate_hash_data.domain()
    answer = await state.services.certificates.delete(
        charge_point_id, state.commands, data, timeout=_timeout(state)
    )
    return _answer(charge_point_id, answer, data)


@router.delete(
    "/{charge_point_id}/certificates/{serial_number}", response_model=CertificateAnswerPublic
)
async def delete_certificate_by_serial(
    _: Operator, state: StateDep, charge_point_id: ChargePointIdPath, serial_number: SerialPath
) -> CertificateAnswerPublic:
    """DeleteCertificate of the installed certificate with this serial number (looked up
    with GetInstalledCertificateIds first). 404 none installed."""
    await existing(state.pool, charge_point_id)
    service, timeout = state.services.certificates, _timeout(state)
    data = await service.find_installed(
        charge_point_id, state.commands, serial_number, timeout=timeout
    )
    answer = await service.delete(charge_point_id, state.commands, data, timeout=timeout)
    return _answer(charge_point_id, answer, data)


# -- issued by the CSMS -----------------------------------------------------------------------


@router.get("/{charge_point_id}/certificates/issued", response_model=Page[IssuedCertificatePublic])
async def charger_issued_certificates(
    _: Reader, state: StateDep, charge_point_id: ChargePointIdPath, page: PageDep
) -> Page[IssuedCertificatePublic]:
    """Certificates the CSMS's authority signed for this charger, newest first."""
    await existing(state.pool, charge_point_id)
    return await _issued_page(state, page.limit, page.cursor, charge_point_id=charge_point_id)


@fleet_router.get("/issued", response_model=Page[IssuedCertificatePublic])
async def issued_certificates(
    _: Reader,
    state: StateDep,
    page: PageDep,
    current: Annotated[bool, Query(description="Only chargers' current certificates")] = False,
    expiring_within_days: Annotated[
        float | None, Query(gt=0, le=36500, description="Only those expiring within")
    ] = None,
) -> Page[IssuedCertificatePublic]:
    """Every certificate the CSMS's authority signed, newest first."""
    return await _issued_page(
        state,
        page.limit,
        page.cursor,
        current_only=current,
        expiring_within_days=expiring_within_days,
    )


async def _issued_page(
    state: State,
    limit: int,
    cursor: str | None,
    *,
    charge_point_id: str | None = None,
    current_only: bool = False,
    expiring_within_days: float | None = None,
) -> Page[IssuedCertificatePublic]:
    before = decode_cursor(cursor, int)
    rows = await state.services.certificates.issued(
        charge_point_id=charge_point_id,
        current_only=current_only,
        expiring_within_days=expiring_within_days,
        before_id=before,
        limit=limit + 1,
    )
    items, next_cursor = page_of(rows, limit, lambda c: c.id)
    return Page(items=[_issued(c) for c in items], next_cursor=next_cursor)


@router.post("/{charge_point_id}/certificates/renew", response_model=RenewalPublic)
async def renew_certificate(
    _: Operator, state: StateDep, charge_point_id: ChargePointIdPath
) -> RenewalPublic:
    """Ask the charger for a new CSR now (2.0.1 TriggerMessage SignChargingStationCertificate,
    1.6 ExtendedTriggerMessage SignChargePointCertificate); the certificate follows."""
    await existing(state.pool, charge_point_id)
    current = await state.services.certificates.issued(
        charge_point_id=charge_point_id, current_only=True, limit=1
    )
    outcome = await state.services.certificates.request_renewal(
        charge_point_id,
        state.commands,
        timeout=_timeout(state),
        certificate=current[0] if current else None,
    )
    return RenewalPublic(charge_point_id=charge_point_id, ok=outcome.ok, detail=outcome.detail)


# -- password rotation ------------------------------------------------------------------------


@router.post("/{charge_point_id}/password/rotate", response_model=PasswordRotationPublic)
async def rotate_password(
    _: Operator, state: StateDep, charge_point_id: ChargePointIdPath
) -> PasswordRotationPublic:
    """Set a new generated Basic-auth password on the charger (1.6 AuthorizationKey, 2.0.1
    SecurityCtrlr.BasicAuthPassword). The old one is accepted until the charger connects
    with the new one; neither is ever returned. 409 not connected, 422 a charger without a
    password."""
    await existing(state.pool, charge_point_id)
    outcome = await state.services.passwords.rotate(
        charge_point_id, state.commands, timeout=_timeout(state)
    )
    return PasswordRotationPublic(
        charge_point_id=charge_point_id,
        status=outcome.status,
        detail=outcome.detail,
    )
