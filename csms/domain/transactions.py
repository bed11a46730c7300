"""Charging sessions, version neutral: the record, the messages that change it, the rules.

Both OCPP versions describe a session with messages; the version adapters turn each one into
a :class:`SessionEvent` (1.6 StartTransaction -> STARTED, MeterValues of a transaction ->
UPDATED, StopTransaction -> ENDED; 2.0.1 TransactionEvent by its eventType). What differs is
data, not code:

- who names the session: the CSMS (1.6 answers StartTransaction with a transactionId it
  draws; a replay is recognised by :func:`start_key`) or the charger (2.0.1 transactionId;
  whichever message arrives first opens the session);
- whether a message has a sequence number that makes its replay a no-op (2.0.1 seqNo).

Pure: no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from csms.domain.id_tokens import Authorization
from csms.domain.meter_values import MeterSample

# HOT_PATH: the records built for every transaction message are plain slotted dataclasses,
# not frozen ones (a frozen __init__ costs ~1.4 us more per object, several per message);
# nothing mutates them.

FLAG_METER_STOP_BELOW_START = "meter_stop_below_start"
FLAG_NO_METER_READING = "no_meter_reading"
FLAG_UNAUTHORIZED = "unauthorized"  # the CSMS never accepted its token: review before billing
FLAG_METER_STOP_ESTIMATED = "meter_stop_estimated"  # closed by the CSMS: the last reading
# Flags an end decides; a charger's late stop after a close by the CSMS decides them anew.
ENDING_FLAGS = (
    FLAG_METER_STOP_BELOW_START, FLAG_NO_METER_READING, FLAG_UNAUTHORIZED,
    FLAG_METER_STOP_ESTIMATED,
)  # fmt: skip
ACCEPTED = "Accepted"

# Who ended a session (``Transaction.closed_by``), and why the CSMS closed one the charger
# abandoned (``close_reason``; docs/topics/sessions.md).
CLOSED_BY_CHARGER = "charger"
CLOSED_BY_CSMS = "csms"
CLOSE_SUPERSEDED = "superseded"  # a newer session started on its connector / EVSE
CLOSE_CONNECTOR_AVAILABLE = "connector_available"  # Available, no activity since
CLOSE_REBOOTED = "rebooted"  # the charger rebooted and did not end it within the grace
CLOSE_NOT_ONGOING = "not_ongoing"  # 2.0.1: not ongoing, nothing queued (E14)
# 1.6 StopTransaction reason and 2.0.1 stoppedReason when the charger gives none (1.6 section
# 7.45, 2.0.1 E06.FR.09 / E07.FR.04: ended by the driver at the charger).
DEFAULT_STOP_REASON = "Local"


@dataclass(frozen=True, slots=True)
class Energy:
    energy_wh: Decimal | None
    flags: tuple[str, ...]


def session_energy(meter_start_wh: Decimal | None, meter_stop_wh: Decimal | None) -> Energy:
    """Energy delivered; a stop reading below the start reading is flagged and counts 0."""
    if meter_start_wh is None or meter_stop_wh is None:
        return Energy(None, (FLAG_NO_METER_READING,))
    if meter_stop_wh < meter_start_wh:
        return Energy(Decimal(0), (FLAG_METER_STOP_BELOW_START,))
    return Energy(meter_stop_wh - meter_start_wh, ())


@dataclass(frozen=True, slots=True)
class Transaction:
    """A charging session as stored (the ``transactions`` table)."""

    id: int
    charge_point_id: str
    protocol: str
    transaction_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    id_token_type: str | None
    parent_id_token: str | None
    authorization_status: str | None
    remote_start_id: int | None
    reservation_id: int | None
    started_at: datetime
    ended_at: datetime | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    stop_reason: str | None
    stop_id_token: str | None
    charging_state: str | None
    last_seq_no: int | None
    last_trigger_reason: str | None
    offline: bool
    flags: list[str]
    closed_by: str | None = None
    close_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def authorized(self) -> bool:
        return self.authorization_status == ACCEPTED

    def same_place(self, evse_id: int, connector_id: int) -> bool:
        """Whether this session is on that EVSE (2.0.1: one session per EVSE) or, on EVSE
        0 (how 1.6 connectors are recorded), on that connector."""
        if evse_id > 0:
            return self.evse_id == evse_id
        return self.evse_id == 0 and self.connector_id == connector_id > 0

    @property
    def ref(self) -> SessionRef:
        return SessionRef(self.id, self.transaction_id, self.evse_id, self.connector_id)


@dataclass(slots=True)  # not frozen: see HOT_PATH
class SessionRef:
    """Enough of a session to address it: its row id and where it is."""

    pk: int
    transaction_id: str
    evse_id: int
    connector_id: int


class Phase(Enum):
    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


class NamedBy(Enum):
    """Who gives a session its transaction id."""

    CSMS = "csms"  # drawn when the start arrives (1.6)
    CHARGER = "charger"  # in every message; the first one opens the session (2.0.1)


@dataclass(slots=True)  # not frozen: see HOT_PATH
class TokenRef:
    """An id token as a charger presents it."""

    id_token: str
    type: str


@dataclass(slots=True)  # not frozen: see HOT_PATH
class SessionEvent:
    """One transaction message of either OCPP version; None means "says nothing"."""

    phase: Phase
    at: datetime
    named_by: NamedBy
    protocol: str
    transaction_id: str | None = None  # None only for a start named by the CSMS
    evse_id: int | None = None
    connector_id: int | None = None
    token: TokenRef | None = None
    # the token ends the authorization (1.6 StopTransaction idTag, 2.0.1 StopAuthorized)
    token_stops: bool = False
    samples: Sequence[MeterSample] = ()
    meter_start_wh: int | None = None
    meter_stop_wh: Decimal | None = None  # None: the last register reading is used
    stop_reason: str | None = None
    seq_no: int | None = None  # with it, a replay of the message changes nothing
    trigger_reason: str | None = None
    offline: bool = False
    charging_state: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    record: dict[str, Any] | None = None  # the message as received, kept with its seq_no

    @property
    def start_token(self) -> TokenRef | None:
        """The token that authorizes the session, if this message brings one."""
        return None if self.token is None or self.token_stops else self.token

    @property
    def stop_token(self) -> str | None:
        """Who ended the session, as recorded when it ends: a stop token, or the token an
        Ended message carries (an empty idToken is no one)."""
        if self.token is None or not (self.token_stops or self.phase is Phase.ENDED):
            return None
        return self.token.id_token or None


@dataclass(slots=True)  # not frozen: see HOT_PATH
class SessionChanges:
    """What one message changes on its session. The store applies each field by its rule
    (``csms/store/transactions.py``, ``_UPDATE_RULES``): first token wins, newest state wins,
    ..., and never on a session that has ended."""

    seq_no: int | None
    trigger_reason: str | None
    offline: bool
    started_at: datetime | None
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    authorization_status: str | None
    parent_id_token: str | None
    charging_state: str | None
    remote_start_id: int | None
    reservation_id: int | None
    stop_id_token: str | None


def changes_of(event: SessionEvent, authorization: Authorization | None) -> SessionChanges:
    """The changes ``event`` makes, with the decision on its token (if any). A stop token's
    decision is answered but not kept as the session's authorization."""
    start = event.start_token
    decided = authorization if start is not None else None
    return SessionChanges(
        seq_no=event.seq_no,
        trigger_reason=event.trigger_reason,
        offline=event.offline,
        started_at=event.at if event.phase is Phase.STARTED else None,
        evse_id=event.evse_id,
        connector_id=event.connector_id,
        id_token=start.id_token if start else None,
        id_token_type=start.type if start else None,
        authorization_status=decided.status.value if decided else None,
        parent_id_token=decided.parent_id_token if decided else None,
        charging_state=event.charging_state,
        remote_start_id=event.remote_start_id,
        reservation_id=event.reservation_id,
        stop_id_token=(event.token.id_token or None) if event.token and event.token_stops else None,
    )


CONCURRENT_TX = "ConcurrentTx"


def token_starts(event: SessionEvent, session: Transaction | None) -> bool:
    """Whether the event's token is used to start ``session``: then a token that does not
    allow concurrent sessions and has another one gets ConcurrentTx.

    True for a start, for the first token a session gets, and for the start token of a
    session that got ConcurrentTx (so a replay answers the same, and the answer clears once
    the other session ends). Never for a stop token or when ending.
    """
    start = event.start_token
    if start is None or event.phase is Phase.ENDED:
        return False
    return (
        event.phase is Phase.STARTED
        or session is None
        or session.id_token is None
        or (session.id_token == start.id_token and session.authorization_status == CONCURRENT_TX)
    )


def start_key(connector_id: int, id_token: str, started_at: datetime, meter_start_wh: int) -> str:
    """What identifies a start the CSMS names across replays (1.6 StartTransaction has no
    transaction id until we answer)."""
    instant = started_at.astimezone(UTC).isoformat()  # the same instant, however written
    return f"{connector_id}|{id_token.lower()}|{instant}|{meter_start_wh}"


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session the CSMS names, as its start creates it."""

    protocol: str
    start_key: str
    evse_id: int
    connector_id: int
    id_token: str
    id_token_type: str
    started_at: datetime
    meter_start_wh: int
    reservation_id: int | None
    authorization_status: str
    parent_id_token: str | None


@dataclass(frozen=True, slots=True)
class Ending:
    """How a session ended: by the charger's stop, or closed by the CSMS (``close_reason``
    set) at its last known activity with its last register reading."""

    ended_at: datetime
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    flags: tuple[str, ...]
    stop_reason: str | None
    stop_id_token: str | None
    close_reason: str | None = None

    @property
    def closed_by(self) -> str:
        return CLOSED_BY_CHARGER if self.close_reason is None else CLOSED_BY_CSMS


def _flags(energy: Energy, authorized: bool) -> tuple[str, ...]:
    return energy.flags if authorized else (*energy.flags, FLAG_UNAUTHORIZED)


def ending(
    event: SessionEvent,
    meter_start_wh: Decimal | None,
    meter_stop_wh: Decimal | None,
    *,
    authorized: bool,
) -> Ending:
    """The charger ended the session with ``event``."""
    energy = session_energy(meter_start_wh, meter_stop_wh)
    return Ending(
        ended_at=event.at,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        energy_wh=energy.energy_wh,
        flags=_flags(energy, authorized),
        stop_reason=event.stop_reason or DEFAULT_STOP_REASON,
        stop_id_token=event.stop_token,
    )


def closing(
    session: Transaction,
    last_activity: datetime,
    meter_start_wh: Decimal | None,
    meter_stop_wh: Decimal | None,
    reason: str,
) -> Ending:
    """The CSMS closes a session the charger abandoned: it ended at its last known activity,
    its energy up to its last register reading (flagged as estimated)."""
    energy = session_energy(meter_start_wh, meter_stop_wh)
    return Ending(
        ended_at=max(last_activity, session.started_at),
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        energy_wh=energy.energy_wh,
        flags=(*_flags(energy, session.authorized), FLAG_METER_STOP_ESTIMATED),
        stop_reason=None,
        stop_id_token=None,
        close_reason=reason,
    )


def authorized_after(
    session: Transaction, event: SessionEvent, authorization: Authorization | None
) -> bool:
    """Whether ``session`` is authorized once ``event`` is applied (the first token's
    decision is kept: ``SessionChanges``)."""
    if session.authorization_status is not None:
        return session.authorized
    return event.start_token is not None and authorization is not None and authorization.accepted


@dataclass(slots=True)  # not frozen: see HOT_PATH
class EventRecord:
    """One sequenced message to record with what it changes (``payload`` as received)."""

    pk: int
    event_type: str
    occurred_at: datetime
    payload: dict[str, Any]
    changes: SessionChanges


class KnownSessions:
    """The sessions one connection has seen, newest kept: periodic messages of a known
    session need no lookup."""

    KEPT = 8

    def __init__(self) -> None:
        self._refs: OrderedDict[str, SessionRef] = OrderedDict()

    def get(self, transaction_id: str) -> SessionRef | None:
        return self._refs.get(transaction_id)

    def remember(self, ref: SessionRef) -> None:
        self._refs.pop(ref.transaction_id, None)
        self._refs[ref.transaction_id] = ref
        if len(self._refs) > self.KEPT:
            self._refs.popitem(last=False)
