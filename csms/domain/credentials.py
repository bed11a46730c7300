"""A charger's Basic-auth password as OCPP sets it, and keeping it out of every record.

1.6 (security whitepaper A01, configuration key 7.2) keeps the password in the write-only
``AuthorizationKey`` key, set with ChangeConfiguration; 2.0.1 (A01, appendix 2.2.1) in the
write-only ``SecurityCtrlr.BasicAuthPassword`` variable, set with SetVariables. Both are
16-40 characters; the whitepaper asks for hexadecimal (A00.FR.205), which 2.0.1's
passwordString allows too, so one generator serves both.

Pure: no I/O.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# the key ``set_configuration`` writes, per protocol (2.0.1: Component.Variable)
PASSWORD_KEYS: dict[str, str] = {
    "ocpp1.6": "AuthorizationKey",
    "ocpp2.0.1": "SecurityCtrlr.BasicAuthPassword",
}
AUTHORIZATION_KEY_BYTES = 20  # the whitepaper's maximum: 40 hexadecimal digits
REDACTED = "***"

# Rotation states (charger_password_rotations.status)
SENDING = "sending"  # the new password is stored; the charger has not answered yet
ACCEPTED = "accepted"  # the charger took it; it has not connected with it yet
UNANSWERED = "unanswered"  # no answer (timeout, lost connection): it may or may not have it


def generate_authorization_key() -> str:
    """A random password of 40 hexadecimal digits (160 bits), valid in both versions."""
    return secrets.token_hex(AUTHORIZATION_KEY_BYTES)


def setting_accepted(response: dict[str, Any]) -> str:
    """The charger's verdict on one written setting, whichever version answered: the
    ChangeConfiguration ``status`` (1.6) or the first SetVariables ``attributeStatus``
    (2.0.1). Accepted, Rejected, NotSupported, RebootRequired, UnknownVariable, ..."""
    if "status" in response:
        return str(response["status"])
    results = response.get("setVariableResult") or [{}]
    return str(results[0].get("attributeStatus", "Rejected"))


def _is_password_variable(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    component, variable = data.get("component"), data.get("variable")
    return (
        isinstance(component, dict)
        and isinstance(variable, dict)
        and component.get("name") == "SecurityCtrlr"
        and variable.get("name") == "BasicAuthPassword"
    )


def redact(action: str | None, payload: Any) -> Any:
    """``payload`` with a password it sets masked (A01.FR.09: never in clear in logs or
    records): ChangeConfiguration of AuthorizationKey, SetVariables of BasicAuthPassword.
    Anything else is returned as is (the same object)."""
    if not isinstance(payload, dict):
        return payload
    if action == "ChangeConfiguration" and payload.get("key") == PASSWORD_KEYS["ocpp1.6"]:
        return {**payload, "value": REDACTED}
    if action == "SetVariables":
        data = payload.get("setVariableData")
        if isinstance(data, list) and any(_is_password_variable(d) for d in data):
            return {
                **payload,
                "setVariableData": [
                    {**d, "attributeValue": REDACTED} if _is_password_variable(d) else d
                    for d in data
                ],
            }
    return payload


@dataclass(frozen=True, slots=True)
class PasswordRotation:
    """A new password being set on a charger (``charger_password_rotations``): while it
    exists, the charger may connect with its current password or this one; its first
    connection with this one makes it the current password."""

    charge_point_id: str
    password_hash: str
    status: str  # SENDING, ACCEPTED, UNANSWERED
    requested_at: datetime
    answered_at: datetime | None
