"""Security profiles (OCPP 2.0.1 part 2 A00 and A05, the 1.6 security whitepaper).

A connection proves a profile: 0 no authentication, 1 HTTP Basic without TLS, 2 TLS with
HTTP Basic, 3 TLS with a client certificate. Each charger has a recorded minimum that only
goes up: a connection at a higher profile raises it (A05.FR.07 for 2.0.1, A05.FR.09 in the
1.6 whitepaper: once a charger connected with a profile, the CSMS does not let it connect
with a lower one), so whoever connects the weak way later (a leaked password over ws://)
is refused before it can displace the secure connection. Lowering the minimum is an
operator's decision made outside OCPP (A00.FR.005).

Pure: no I/O. Both stores apply :func:`admit`, so the rule lives here once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NO_AUTHENTICATION = 0
BASIC = 1
TLS_BASIC = 2
TLS_CLIENT_CERTIFICATE = 3
PROFILES = (NO_AUTHENTICATION, BASIC, TLS_BASIC, TLS_CLIENT_CERTIFICATE)
DESCRIPTIONS = {
    NO_AUTHENTICATION: "no authentication",
    BASIC: "HTTP Basic without TLS",
    TLS_BASIC: "TLS with HTTP Basic",
    TLS_CLIENT_CERTIFICATE: "TLS with a client certificate",
}

# the states of an upgrade (A05)
PENDING = "pending"  # commands accepted; waiting for the charger to come back
COMPLETED = "completed"  # it connected with the target profile (or higher)
FAILED = "failed"  # the charger refused a step: nothing changed on it
ROLLED_BACK = "rolled_back"  # it did not come back in time: the old profile stays
UPGRADE_STATES = (PENDING, COMPLETED, FAILED, ROLLED_BACK)


def connection_profile(*, tls: bool, certificate: bool, basic: bool) -> int:
    """The profile a connection proves: a verified client certificate (over TLS) is 3,
    a checked Basic password 2 over TLS and 1 without, nothing 0."""
    if tls and certificate:
        return TLS_CLIENT_CERTIFICATE
    if basic:
        return TLS_BASIC if tls else BASIC
    return NO_AUTHENTICATION


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The last upgrade an operator asked for."""

    id: str
    target: int
    state: str
    started_at: datetime
    deadline: datetime
    detail: str = ""
    restore: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What a rollback sets back on the charger (2.0.1: the NetworkConfigurationPriority it
    had), and the protocol the upgrade used."""
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SecurityState:
    """What the CSMS records about a charger's security profile."""

    charge_point_id: str
    minimum: int = NO_AUTHENTICATION
    last_profile: int | None = None
    last_connected_at: datetime | None = None
    upgrade: Upgrade | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to a connection that proved ``profile``."""

    admitted: bool
    minimum: int  # the charger's minimum after this connection
    completed: Upgrade | None = None  # the pending upgrade this connection completed


def admit(state: SecurityState, profile: int, at: datetime) -> tuple[SecurityState, Admission]:
    """A connection at ``profile``: refused below the minimum (the state is unchanged);
    admitted otherwise, raising the minimum to ``profile`` and completing a pending upgrade
    whose target it reaches."""
    if profile < state.minimum:
        return state, Admission(False, state.minimum)
    upgrade, completed = state.upgrade, None
    if upgrade is not None and upgrade.state == PENDING and profile >= upgrade.target:
        upgrade = completed = dataclasses.replace(
            upgrade,
            state=COMPLETED,
            finished_at=at,
            detail=f"connected with security profile {profile}",
        )
    new = dataclasses.replace(
        state,
        minimum=max(state.minimum, profile),
        last_profile=profile,
        last_connected_at=at,
        upgrade=upgrade,
    )
    return new, Admission(True, new.minimum, completed)
