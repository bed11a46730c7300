"""The mutable state of a simulated station, shared by the station and its handlers."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulators.security import SecurityStore
from simulators.transaction import Transaction

if TYPE_CHECKING:
    from simulators.upload import Upload

#: how many ended transactions the station remembers (late cost messages refer to them)
ENDED_KEPT = 32


@dataclass
class StationState:
    """What the station remembers between messages.

    ``configuration`` holds 1.6 configuration keys, or 2.0.1 variables keyed
    ``"Component.Variable"``; keys in ``readonly`` cannot be changed by the CSMS.
    ``transactions`` holds the active transaction per connector (1.6) / EVSE (2.0.1),
    ``claimed`` the connectors where a remotely started one is about to begin,
    ``reservations`` the reserved connector per reservation id and
    ``energy_register_wh`` each connector's meter register outside transactions,
    ``ended_transactions`` the last transactions that ended, newest last, ``security``
    its keys and certificates.
    """

    configuration: dict[str, str] = field(default_factory=dict)
    readonly: set[str] = field(default_factory=set)
    connector_status: dict[int, str] = field(default_factory=dict)
    transactions: dict[int, Transaction] = field(default_factory=dict)
    claimed: set[int] = field(default_factory=set)
    reservations: dict[int, int] = field(default_factory=dict)
    energy_register_wh: dict[int, float] = field(default_factory=dict)
    local_list_version: int = 0
    firmware_status: str = "Idle"
    heartbeat_interval: int | None = None
    ended_transactions: deque[Transaction] = field(default_factory=lambda: deque(maxlen=ENDED_KEPT))
    #: values accepted with RebootRequired, in effect after the next reboot
    after_reboot: dict[str, str] = field(default_factory=dict)
    #: diagnostics / log uploads made, oldest first
    uploads: list[Upload] = field(default_factory=list)
    security: SecurityStore = field(default_factory=SecurityStore)

    def connector_free(self, connector_id: int) -> bool:
        """No transaction is active or about to start on ``connector_id``."""
        return connector_id not in self.transactions and connector_id not in self.claimed

    def find_transaction(self, transaction_id: int | str) -> Transaction | None:
        """The active transaction with this id, if any."""
        for tx in self.transactions.values():
            if tx.transaction_id == transaction_id:
                return tx
        return None

    def find_known_transaction(self, transaction_id: int | str) -> Transaction | None:
        """The active or recently ended transaction with this id, if any."""
        active = self.find_transaction(transaction_id)
        if active is not None:
            return active
        for tx in reversed(self.ended_transactions):
            if tx.transaction_id == transaction_id:
                return tx
        return None
