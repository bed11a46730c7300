"""Version-neutral services the v16 and v201 handlers share: tokens, meter samples, stops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from csms.domain.id_tokens import Authorization, authorize
from csms.domain.meter_values import MeterSample
from csms.domain.transactions import session_energy
from csms.node.context import Session
from csms.store import chargers as charger_store
from csms.store import id_tokens as token_store
from csms.store import meter_values as meter_store
from csms.store import transactions as tx_store


async def authorize_token(
    session: Session, id_token: str, *, starting: bool = False, excluding_pk: int | None = None
) -> Authorization:
    """Look the token up and decide; ``starting`` adds the concurrent-session check."""
    token = await token_store.get_id_token(session.pool, id_token)
    others = 0
    if starting and token is not None and not token.allow_concurrent:
        others = await token_store.count_active_sessions(
            session.pool, id_token, excluding_pk=excluding_pk
        )
    return authorize(
        token, session.services.clock(), other_active_sessions=others, starting=starting
    )


async def store_samples(
    session: Session,
    *,
    evse_id: int,
    connector_id: int,
    transaction_pk: int | None,
    samples: Sequence[MeterSample],
) -> None:
    """Persist samples through the node's batch writer; returns once they are committed."""
    rows = meter_store.rows_for(
        session.charge_point_id, evse_id, connector_id, transaction_pk, samples
    )
    await session.services.meter_writer.write(rows)


async def end_transaction(
    session: Session,
    transaction: tx_store.Transaction,
    *,
    ended_at: datetime,
    meter_stop_wh: Decimal | None,
    stop_reason: str | None,
    stop_id_token: str | None,
) -> bool:
    """End a session with its energy; False if it had ended before (nothing changes)."""
    meter_start = transaction.meter_start_wh
    if meter_start is None or meter_stop_wh is None:
        first, last = await meter_store.register_readings_wh(session.pool, transaction.id)
        meter_start = meter_start if meter_start is not None else first
        meter_stop_wh = meter_stop_wh if meter_stop_wh is not None else last
    energy = session_energy(meter_start, meter_stop_wh)
    return await tx_store.finish(
        session.pool,
        transaction.id,
        ended_at=ended_at,
        meter_stop_wh=meter_stop_wh,
        energy_wh=energy.energy_wh,
        flags=energy.flags,
        stop_reason=stop_reason,
        stop_id_token=stop_id_token,
        meter_start_wh=meter_start,
    )


async def record_heartbeat(session: Session) -> datetime:
    """Note the heartbeat (batched with other chargers'); return the time to answer."""
    now = session.services.clock()
    writer = session.services.heartbeat_writer
    if writer is not None:
        writer.add([(session.charge_point_id, now)])
    else:
        await charger_store.record_heartbeat(session.pool, session.charge_point_id, now)
    return now


_TRANSACTION_PKS = "transaction_pks"
_TRANSACTION_PKS_KEPT = 8


def remember_transaction(session: Session, transaction_id: str, pk: int) -> None:
    """Cache the row id of a transaction of this connection (bounded, newest kept)."""
    cache: dict[str, int] = session.extra.setdefault(_TRANSACTION_PKS, {})
    cache.pop(transaction_id, None)
    cache[transaction_id] = pk
    if len(cache) > _TRANSACTION_PKS_KEPT:
        del cache[next(iter(cache))]


async def transaction_pk(session: Session, transaction_id: str) -> int | None:
    """The row id of this charger's transaction ``transaction_id`` (None: not this
    charger's), looked up once per connection: periodic meter values need no query."""
    cache: dict[str, int] = session.extra.get(_TRANSACTION_PKS, {})
    pk = cache.get(transaction_id)
    if pk is None:
        transaction = await tx_store.get(session.pool, session.charge_point_id, transaction_id)
        if transaction is None:
            return None
        pk = transaction.id
        remember_transaction(session, transaction_id, pk)
    return pk


async def register_boot(session: Session, identity: dict[str, str | None]) -> tuple[str, int]:
    """Decide the registration status from the operator's boot policy and persist the boot.

    Returns ``(status, interval)``: the heartbeat interval when Accepted, else the retry wait.
    """
    status = await session.services.batches.boot(
        charger_store.Boot(session.charge_point_id, session.services.clock(), identity)
    )
    session.registration_status = status
    settings = session.services.settings
    interval = settings.heartbeat_interval if status == "Accepted" else settings.boot_retry_interval
    session.log.info("boot %s (%s %s)", status, identity.get("vendor"), identity.get("model"))
    return status, interval
