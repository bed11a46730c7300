"""Certificates issued to chargers and Basic-auth passwords being rotated (the
``CertificateStore`` and ``PasswordRotationStore`` ports)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from csms.domain.certificates import CertificateFacts, IssuedCertificate
from csms.domain.credentials import SENDING, PasswordRotation
from csms.errors import AlreadyExists, NotFound
from csms.store.executor import Executor

_COLUMNS = """id, charge_point_id, certificate_type, serial_number, common_name, organization,
    issuer, not_before, not_after, fingerprint_sha256, pem, issued_at, delivery_status,
    delivered_at, superseded_at, renewal_requested_at, renewal_attempts, renewal_error"""
_CURRENT = "superseded_at IS NULL AND delivery_status = 'Accepted'"


def _issued(record: asyncpg.Record) -> IssuedCertificate:
    return IssuedCertificate(**dict(record))


async def add_issued(
    db: Executor,
    charge_point_id: str,
    certificate_type: str,
    certificate: CertificateFacts,
    *,
    issued_at: datetime,
) -> IssuedCertificate:
    try:
        record = await db.fetchrow(
            f"""INSERT INTO charger_certificates (charge_point_id, certificate_type,
                    serial_number, common_name, organization, issuer, not_before, not_after,
                    fingerprint_sha256, pem, issued_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {_COLUMNS}""",
            charge_point_id,
            certificate_type,
            certificate.serial_number,
            certificate.common_name,
            certificate.organization,
            certificate.issuer,
            certificate.not_before,
            certificate.not_after,
            certificate.fingerprint_sha256,
            certificate.pem,
            issued_at,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(
            f"certificate {certificate.serial_number} of {certificate.issuer} was issued before"
        ) from None
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"charger {charge_point_id} not found") from None
    assert record is not None
    return _issued(record)


async def record_delivery(
    pool: asyncpg.Pool, certificate_id: int, status: str, at: datetime
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        record = await connection.fetchrow(
            """UPDATE charger_certificates SET delivery_status = $2, delivered_at = $3
               WHERE id = $1 RETURNING charge_point_id, certificate_type""",
            certificate_id,
            status,
            at,
        )
        if record is None or status != "Accepted":
            return
        await connection.execute(
            f"""UPDATE charger_certificates SET superseded_at = $4
                WHERE charge_point_id = $1 AND certificate_type = $2 AND id < $3
                  AND {_CURRENT}""",
            record["charge_point_id"],
            record["certificate_type"],
            certificate_id,
            at,
        )


async def get_issued(db: Executor, certificate_id: int) -> IssuedCertificate | None:
    record = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM charger_certificates WHERE id = $1", certificate_id
    )
    return _issued(record) if record else None


async def list_issued(
    db: Executor,
    *,
    charge_point_id: str | None = None,
    current_only: bool = False,
    expiring_before: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[IssuedCertificate]:
    records = await db.fetch(
        f"""SELECT {_COLUMNS} FROM charger_certificates
            WHERE ($1::text IS NULL OR charge_point_id = $1)
              AND (NOT $2 OR ({_CURRENT}))
              AND ($3::timestamptz IS NULL OR not_after < $3)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $5""",
        charge_point_id,
        current_only,
        expiring_before,
        before_id,
        limit,
    )
    return [_issued(r) for r in records]


async def due_for_renewal(
    db: Executor, *, expiring_before: datetime, attempted_before: datetime, limit: int = 500
) -> list[IssuedCertificate]:
    records = await db.fetch(
        f"""SELECT {_COLUMNS} FROM charger_certificates
            WHERE {_CURRENT} AND not_after < $1
              AND (renewal_requested_at IS NULL OR renewal_requested_at <= $2)
            ORDER BY not_after, id LIMIT $3""",
        expiring_before,
        attempted_before,
        limit,
    )
    return [_issued(r) for r in records]


async def record_renewal(
    db: Executor, certificate_id: int, at: datetime, error: str | None
) -> None:
    await db.execute(
        """UPDATE charger_certificates SET renewal_requested_at = $2,
               renewal_attempts = renewal_attempts + 1, renewal_error = $3
           WHERE id = $1""",
        certificate_id,
        at,
        error,
    )


# -- password rotations -----------------------------------------------------------------------


async def begin_rotation(
    db: Executor, charge_point_id: str, password_hash: str, at: datetime
) -> None:
    try:
        await db.execute(
            """INSERT INTO charger_password_rotations
                   (charge_point_id, password_hash, status, requested_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (charge_point_id) DO UPDATE SET password_hash = $2, status = $3,
                   requested_at = $4, answered_at = NULL""",
            charge_point_id,
            password_hash,
            SENDING,
            at,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"charger {charge_point_id} not found") from None


async def get_rotation(db: Executor, charge_point_id: str) -> PasswordRotation | None:
    record = await db.fetchrow(
        """SELECT charge_point_id, password_hash, status, requested_at, answered_at
           FROM charger_password_rotations WHERE charge_point_id = $1""",
        charge_point_id,
    )
    return PasswordRotation(**dict(record)) if record else None


async def rotation_answered(
    db: Executor, charge_point_id: str, password_hash: str, status: str, at: datetime
) -> bool:
    result = await db.execute(
        """UPDATE charger_password_rotations SET status = $3, answered_at = $4
           WHERE charge_point_id = $1 AND password_hash = $2""",
        charge_point_id,
        password_hash,
        status,
        at,
    )
    return result != "UPDATE 0"


async def cancel_rotation(db: Executor, charge_point_id: str, password_hash: str) -> bool:
    result = await db.execute(
        """DELETE FROM charger_password_rotations
           WHERE charge_point_id = $1 AND password_hash = $2""",
        charge_point_id,
        password_hash,
    )
    return result != "DELETE 0"


async def promote_rotation(db: Executor, charge_point_id: str, password_hash: str) -> bool:
    """One statement: the rotation row goes and the charger's hash changes, or neither."""
    result = await db.fetchval(
        """WITH ended AS (
               DELETE FROM charger_password_rotations
               WHERE charge_point_id = $1 AND password_hash = $2
               RETURNING charge_point_id, password_hash)
           UPDATE chargers SET password_hash = ended.password_hash, auth_mode = 'basic',
               updated_at = now()
           FROM ended WHERE chargers.charge_point_id = ended.charge_point_id
           RETURNING true""",
        charge_point_id,
        password_hash,
    )
    return bool(result)


class PostgresCertificates:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_issued(
        self,
        charge_point_id: str,
        certificate_type: str,
        certificate: CertificateFacts,
        *,
        issued_at: datetime,
    ) -> IssuedCertificate:
        return await add_issued(
            self._pool, charge_point_id, certificate_type, certificate, issued_at=issued_at
        )

    async def record_delivery(self, certificate_id: int, status: str, at: datetime) -> None:
        await record_delivery(self._pool, certificate_id, status, at)

    async def get_issued(self, certificate_id: int) -> IssuedCertificate | None:
        return await get_issued(self._pool, certificate_id)

    async def list_issued(
        self,
        *,
        charge_point_id: str | None = None,
        current_only: bool = False,
        expiring_before: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[IssuedCertificate]:
        return await list_issued(
            self._pool,
            charge_point_id=charge_point_id,
            current_only=current_only,
            expiring_before=expiring_before,
            before_id=before_id,
            limit=limit,
        )

    async def due_for_renewal(
        self, *, expiring_before: datetime, attempted_before: datetime, limit: int = 500
    ) -> list[IssuedCertificate]:
        return await due_for_renewal(
            self._pool,
            expiring_before=expiring_before,
            attempted_before=attempted_before,
            limit=limit,
        )

    async def record_renewal(self, certificate_id: int, at: datetime, error: str | None) -> None:
        await record_renewal(self._pool, certificate_id, at, error)


class PostgresPasswordRotations:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def begin(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        await begin_rotation(self._pool, charge_point_id, password_hash, at)

    async def get(self, charge_point_id: str) -> PasswordRotation | None:
        return await get_rotation(self._pool, charge_point_id)

    async def answered(
        self, charge_point_id: str, password_hash: str, status: str, at: datetime
    ) -> bool:
        return await rotation_answered(self._pool, charge_point_id, password_hash, status, at)

    async def cancel(self, charge_point_id: str, password_hash: str) -> bool:
        return await cancel_rotation(self._pool, charge_point_id, password_hash)

    async def promote(self, charge_point_id: str, password_hash: str) -> bool:
        return await promote_rotation(self._pool, charge_point_id, password_hash)
