"""A charging session as the station sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    """An OCPP date-time: UTC, millisecond precision, ``Z`` suffix."""
    moment = moment or utc_now()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Transaction:
    """One transaction on one connector (1.6) or EVSE (2.0.1).

    ``transaction_id`` is the CSMS-assigned integer in 1.6 (``None`` until the
    StartTransaction answer arrives, e.g. while it waits in the offline queue) and the
    station-generated UUID string in 2.0.1.
    """

    connector_id: int
    id_token: str
    transaction_id: int | str | None = None
    meter_wh: float = 0.0
    meter_start_wh: int = 0
    start_response: dict[str, Any] | None = None
    stop_response: dict[str, Any] | None = None
    id_token_type: str = "ISO14443"
    remote_start_id: int | None = None
    started_at: datetime = field(default_factory=utc_now)
    ended: bool = False
    next_seq_no: int = 0

    def take_seq_no(self) -> int:
        """The seqNo for the next 2.0.1 TransactionEvent (0 for Started, then +1 each)."""
        seq_no = self.next_seq_no
        self.next_seq_no += 1
        return seq_no
