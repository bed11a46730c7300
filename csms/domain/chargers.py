"""Chargers as the CSMS records them: registration, identity, presence, connector states.

Plain records shared by the services, the store and the backoffice; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

ACCEPTED = "Accepted"
PENDING = "Pending"
REJECTED = "Rejected"
# The operator's boot policy -> the registration status a BootNotification gets.
BOOT_POLICIES = {"accept": ACCEPTED, "pending": PENDING, "reject": REJECTED}

# What a charger says about itself at boot, by neutral field name.
IDENTITY_FIELDS = (
    "vendor", "model", "serial_number", "firmware_version", "iccid", "imsi", "meter_type",
    "meter_serial_number",
)  # fmt: skip
Identity = dict[str, str | None]
NO_ERROR = "NoError"  # a connector status without an error code


@dataclass(frozen=True, slots=True)
class Charger:
    charge_point_id: str
    password_hash: str | None
    auth_mode: str
    boot_policy: str
    ocpp_version: str | None
    description: str
    registration_status: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    connected_protocol: str | None
    connected_node: str | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    last_seen_at: datetime | None
    firmware_status: str | None
    diagnostics_status: str | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        """Everything but the password hash."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.pop("password_hash")
        return data


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """The state of one connector (``evse_id`` 0 for 1.6 connectors, whose number is the
    ``connector_id``)."""

    evse_id: int
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    status_at: datetime


@dataclass(frozen=True, slots=True)
class Boot:
    """One BootNotification to record."""

    charge_point_id: str
    at: datetime
    identity: Identity


@dataclass(frozen=True, slots=True)
class Presence:
    """A connection (``protocol`` set) or a disconnection (``protocol`` None) of the
    connection ``node_id``/``epoch``."""

    charge_point_id: str
    protocol: str | None
    node_id: str
    epoch: int
    at: datetime


def registration_status(boot_policy: str) -> str:
    """The status a boot gets under ``boot_policy`` (an unknown policy rejects)."""
    return BOOT_POLICIES.get(boot_policy, REJECTED)
