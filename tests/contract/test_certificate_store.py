"""CertificateStore (certificates issued to chargers) and PasswordRotationStore (Basic-auth
passwords being rotated), on PostgreSQL and in memory."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from contract_helpers import REFUSED, Backend, at, fields_of, unique

from csms.domain.certificates import CertificateFacts, IssuedCertificate
from csms.domain.credentials import ACCEPTED, SENDING, UNANSWERED
from csms.errors import AlreadyExists

STATION = "ChargingStationCertificate"


def facts(
    serial: str | None = None, *, expires: float = 365, issuer: str = "CN=Test CA"
) -> CertificateFacts:
    return CertificateFacts(
        serial_number=serial or secrets.token_hex(16),
        common_name="CP",
        organization="ACME",
        issuer=issuer,
        not_before=at(0),
        not_after=at(0) + timedelta(days=expires),
        fingerprint_sha256=secrets.token_hex(32),
        pem="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
    )


async def test_an_issued_certificate_is_recorded(backend: Backend) -> None:
    cp = await backend.add_charger()
    certificate = facts()
    issued = await backend.stores.certificates.add_issued(cp, STATION, certificate, issued_at=at(1))
    assert fields_of(issued, ignore=("id",)) == {
        "charge_point_id": cp,
        "certificate_type": STATION,
        "serial_number": certificate.serial_number,
        "common_name": "CP",
        "organization": "ACME",
        "issuer": "CN=Test CA",
        "not_before": certificate.not_before,
        "not_after": certificate.not_after,
        "fingerprint_sha256": certificate.fingerprint_sha256,
        "pem": certificate.pem,
        "issued_at": at(1),
        "delivery_status": None,
        "delivered_at": None,
        "superseded_at": None,
        "renewal_requested_at": None,
        "renewal_attempts": 0,
        "renewal_error": None,
    }
    assert await backend.stores.certificates.get_issued(issued.id) == issued


async def test_a_serial_is_issued_once_per_issuer(backend: Backend) -> None:
    cp = await backend.add_charger()
    serial = secrets.token_hex(16)
    await backend.stores.certificates.add_issued(cp, STATION, facts(serial), issued_at=at(1))
    with pytest.raises(AlreadyExists):
        await backend.stores.certificates.add_issued(cp, STATION, facts(serial), issued_at=at(2))
    other = facts(serial, issuer="CN=Other CA")  # RFC 5280: unique per issuer only
    await backend.stores.certificates.add_issued(cp, STATION, other, issued_at=at(3))


async def test_a_certificate_of_an_unknown_charger_is_refused(backend: Backend) -> None:
    with pytest.raises(REFUSED):
        await backend.stores.certificates.add_issued(
            unique("NOPE"), STATION, facts(), issued_at=at(1)
        )


async def test_accepted_delivery_supersedes_the_older_ones(backend: Backend) -> None:
    store = backend.stores.certificates
    cp = await backend.add_charger()
    first = await store.add_issued(cp, STATION, facts(), issued_at=at(1))
    await store.record_delivery(first.id, "Accepted", at(2))
    refused = await store.add_issued(cp, STATION, facts(), issued_at=at(3))
    await store.record_delivery(refused.id, "Rejected", at(4))
    # a refused one supersedes nothing: the first is still current
    assert [c.id for c in await store.list_issued(charge_point_id=cp, current_only=True)] == [
        first.id
    ]
    second = await store.add_issued(cp, STATION, facts(), issued_at=at(5))
    await store.record_delivery(second.id, "Accepted", at(6))
    rows = {c.id: c for c in await store.list_issued(charge_point_id=cp)}
    assert list(rows) == [second.id, refused.id, first.id]  # newest first
    assert rows[first.id].superseded_at == at(6)
    assert rows[refused.id].superseded_at is None  # never current: nothing to supersede
    assert (rows[second.id].delivery_status, rows[second.id].delivered_at) == ("Accepted", at(6))
    assert [c.id for c in await store.list_issued(charge_point_id=cp, current_only=True)] == [
        second.id
    ]


async def test_due_for_renewal_and_attempts(backend: Backend) -> None:
    store = backend.stores.certificates
    cp = await backend.add_charger()
    soon = await store.add_issued(cp, STATION, facts(expires=10), issued_at=at(1))
    later = await store.add_issued(
        await backend.add_charger(), STATION, facts(expires=100), issued_at=at(1)
    )
    undelivered = await store.add_issued(
        await backend.add_charger(), STATION, facts(expires=5), issued_at=at(1)
    )
    for certificate in (soon, later):
        await store.record_delivery(certificate.id, "Accepted", at(2))
    horizon = at(0) + timedelta(days=50)

    def ours(rows: list[IssuedCertificate]) -> list[int]:
        return [c.id for c in rows if c.id in (soon.id, later.id, undelivered.id)]

    due = await store.due_for_renewal(expiring_before=horizon, attempted_before=at(100))
    assert ours(due) == [soon.id]  # only current ones, expiring before the horizon
    await store.record_renewal(soon.id, at(100), None)
    assert ours(await store.due_for_renewal(expiring_before=horizon, attempted_before=at(99))) == []
    await store.record_renewal(soon.id, at(200), "not_connected: offline")
    again = await store.due_for_renewal(expiring_before=horizon, attempted_before=at(200))
    [row] = [c for c in again if c.id == soon.id]
    assert (row.renewal_attempts, row.renewal_requested_at, row.renewal_error) == (
        2,
        at(200),
        "not_connected: offline",
    )
    expiring = await store.list_issued(expiring_before=horizon, limit=10_000)
    assert soon.id in [c.id for c in expiring] and later.id not in [c.id for c in expiring]


async def test_removing_a_charger_removes_its_certificates(backend: Backend) -> None:
    cp = await backend.add_charger()
    issued = await backend.stores.certificates.add_issued(cp, STATION, facts(), issued_at=at(1))
    await backend.stores.chargers.remove(cp)
    assert await backend.stores.certificates.get_issued(issued.id) is None


# -- password rotations -----------------------------------------------------------------------


async def test_a_rotation_is_begun_answered_and_replaced(backend: Backend) -> None:
    store = backend.stores.passwords
    cp = await backend.add_charger()
    assert await store.get(cp) is None
    await store.begin(cp, "hash-1", at(1))
    rotation = await store.get(cp)
    assert rotation is not None
    assert fields_of(rotation) == {
        "charge_point_id": cp,
        "password_hash": "hash-1",
        "status": SENDING,
        "requested_at": at(1),
        "answered_at": None,
    }
    assert await store.answered(cp, "hash-1", ACCEPTED, at(2))
    assert not await store.answered(cp, "other-hash", UNANSWERED, at(3))
    rotation = await store.get(cp)
    assert rotation is not None and (rotation.status, rotation.answered_at) == (ACCEPTED, at(2))
    await store.begin(cp, "hash-2", at(4))  # a new rotation replaces the one under way
    rotation = await store.get(cp)
    assert rotation is not None
    assert (rotation.password_hash, rotation.status, rotation.answered_at) == (
        "hash-2",
        SENDING,
        None,
    )


async def test_cancel_only_the_rotation_named(backend: Backend) -> None:
    store = backend.stores.passwords
    cp = await backend.add_charger()
    await store.begin(cp, "hash-1", at(1))
    assert not await store.cancel(cp, "hash-0")
    assert await store.get(cp) is not None
    assert await store.cancel(cp, "hash-1")
    assert await store.get(cp) is None
    assert not await store.cancel(cp, "hash-1")


async def test_promote_makes_the_new_hash_the_password(backend: Backend) -> None:
    store = backend.stores.passwords
    cp = await backend.add_charger(password_hash="old-hash")
    await store.begin(cp, "new-hash", at(1))
    assert not await store.promote(cp, "some-other-hash")
    assert await store.promote(cp, "new-hash")
    charger = await backend.stores.chargers.get(cp)
    assert charger is not None
    assert (charger.password_hash, charger.auth_mode) == ("new-hash", "basic")
    assert await store.get(cp) is None
    assert not await store.promote(cp, "new-hash")  # once


async def test_a_rotation_of_an_unknown_charger_is_refused(backend: Backend) -> None:
    with pytest.raises(REFUSED):
        await backend.stores.passwords.begin(unique("NOPE"), "hash", at(1))
