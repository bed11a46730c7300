"""One charger's connection as the services see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from csms.domain.chargers import ACCEPTED
from csms.domain.price_display import DisplayCapability
from csms.domain.transactions import KnownSessions
from csms.logs import ChargerLog


@dataclass(slots=True)
class ChargerLink:
    """Who is connected, with which protocol, and what this connection has learnt.

    Everything here is bounded by the charger's hardware (its EVSEs) or kept small
    (``sessions``), not by its traffic.
    """

    charge_point_id: str
    protocol: str
    log: ChargerLog
    registration_status: str | None = None
    # sessions this connection has seen: periodic messages of them need no lookup
    sessions: KnownSessions = field(default_factory=KnownSessions)
    # EVSE id -> connector ids seen on it (2.0.1 messages may omit the connector)
    evse_connectors: dict[int, set[int]] = field(default_factory=dict)
    # what the charger said about its price display (None: not looked up yet)
    display: DisplayCapability | None = None

    @property
    def accepted(self) -> bool:
        return self.registration_status == ACCEPTED

    def remember_connector(self, evse_id: int, connector_id: int) -> None:
        """Note that ``evse_id`` has ``connector_id``."""
        if evse_id > 0 and connector_id > 0:
            self.evse_connectors.setdefault(evse_id, set()).add(connector_id)

    def only_connector(self, evse_id: int) -> int | None:
        """The connector of an EVSE that has exactly one known connector, else None."""
        connectors = self.evse_connectors.get(evse_id, ())
        return next(iter(connectors)) if len(connectors) == 1 else None
