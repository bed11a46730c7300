"""The offline queue of transaction messages.

Transaction messages (1.6 StartTransaction, StopTransaction and MeterValues of a
transaction; 2.0.1 TransactionEvent) are never lost: while the station is offline, or
while older ones still wait, they are queued and later replayed in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from simulators.transaction import Transaction

Kind = Literal["start", "update", "stop"]


@dataclass
class TransactionMessage:
    """A transaction message, kept with the transaction it belongs to.

    The payload is finished just before sending (see ``VersionAdapter.finalize``) so that a
    1.6 transaction id learned during replay reaches the messages queued after the start.
    """

    action: str
    payload: dict[str, Any]
    transaction: Transaction
    kind: Kind
    delivered: bool = field(default=False, compare=False)
    response: dict[str, Any] | None = field(default=None, compare=False)


class OfflineQueue:
    """First in, first out; the head stays in place until it was delivered."""

    def __init__(self) -> None:
        self._items: deque[TransactionMessage] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[TransactionMessage]:
        return iter(self._items)

    def append(self, message: TransactionMessage) -> None:
        """Queue ``message`` behind the others."""
        self._items.append(message)

    def peek(self) -> TransactionMessage | None:
        """The oldest message, left in the queue."""
        return self._items[0] if self._items else None

    def pop(self) -> TransactionMessage:
        """Remove and return the oldest message."""
        return self._items.popleft()
