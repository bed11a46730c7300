"""Rules for charge point identities."""

from __future__ import annotations

# OCPP identityType: at most 48 characters. ':' would break HTTP Basic auth (the id is the
# username) and '/' the URL path.
MAX_CHARGE_POINT_ID = 48


def valid_charge_point_id(charge_point_id: str) -> bool:
    """1-48 printable characters, none of ':', '/' or space."""
    return (
        0 < len(charge_point_id) <= MAX_CHARGE_POINT_ID
        and charge_point_id.isprintable()
        and not any(c in charge_point_id for c in ":/ ")
    )
