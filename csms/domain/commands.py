"""The version-neutral commands an operator can send to any charger, and their params.

A command is a snake_case name plus a JSON object of params. The node that owns the charger
turns it into one OCPP CALL of the charger's version (``csms/node/v16/commands.py``,
``csms/node/v201/commands.py``); docs/reference/commands.md has the full table. A name a
version cannot express is missing from that version's table, and ``raw`` (implemented by the
node, not listed here) sends any OCPP action as is.

Pure: no I/O. :class:`ParamReader` reads params with errors that name the command and the
param, so an operator learns what to fix without knowing OCPP.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csms.errors import InvalidInput

RAW = "raw"  # not a neutral command: sends any OCPP action of the charger's version as is

# The 1.6 "connector" and the 2.0.1 "EVSE" are the same thing to an operator: the place a car
# plugs in. Commands that address one take `connector_id` and/or `evse_id` (see
# docs/reference/commands.md, "Addressing a connector").
_WHERE = ("connector_id", "evse_id")

# name: (description, accepted params)
_SPECS: dict[str, tuple[str, tuple[str, ...]]] = {
    # -- transactions ------------------------------------------------------------------------
    "remote_start": (
        "Start a transaction for an id token",
        ("id_token", "id_token_type", "remote_start_id", "charging_profile", *_WHERE),
    ),
    "remote_stop": ("Stop a transaction", ("transaction_id",)),
    "get_transaction_status": (
        "Ask whether a transaction is ongoing and has queued messages",
        ("transaction_id",),
    ),
    "cost_updated": (
        "Tell the charger the running cost of a transaction",
        ("total_cost", "transaction_id"),
    ),
    # -- charger control ---------------------------------------------------------------------
    "reset": ("Reboot the charger (or one EVSE)", ("type", "evse_id")),
    "unlock_connector": ("Release the cable lock of a connector", _WHERE),
    "change_availability": (
        "Make the charger or one connector operative or inoperative",
        ("operative", *_WHERE),
    ),
    "trigger_message": ("Ask the charger to send a message now", ("message", *_WHERE)),
    "extended_trigger_message": (
        "Ask the charger to send a message now, security whitepaper messages included",
        ("message", *_WHERE),
    ),
    "clear_cache": ("Empty the charger's authorization cache", ()),
    "data_transfer": ("Send a vendor-specific message", ("vendor_id", "message_id", "data")),
    "unblock_evse": (
        "Unblock an EVSE blocked by a failed unlock (OCPP 2.1 UnblockEvse; no 1.6 or 2.0.1 "
        "equivalent)",
        ("evse_id",),
    ),
    # -- configuration -----------------------------------------------------------------------
    "get_configuration": (
        "Read configuration keys (all of them when no keys are given)",
        ("keys",),
    ),
    "set_configuration": ("Change one configuration key", ("key", "value")),
    "get_variables": (
        "Read device model variables (2.0.1 GetVariableData list)",
        ("get_variable_data",),
    ),
    "set_variables": (
        "Write device model variables (2.0.1 SetVariableData list)",
        ("set_variable_data",),
    ),
    "get_base_report": (
        "Ask for a report of a predefined part of the device model",
        ("report_base", "request_id"),
    ),
    "get_report": (
        "Ask for a report of selected components and variables",
        ("request_id", "component_variable", "component_criteria"),
    ),
    "set_network_profile": (
        "Store connection data in a network profile slot",
        ("configuration_slot", "connection_data"),
    ),
    # -- local authorization list and reservations -------------------------------------------
    "send_local_list": (
        "Replace or update the charger's local authorization list",
        ("list_version", "update_type", "local_authorization_list"),
    ),
    "get_local_list_version": ("Read the version of the local authorization list", ()),
    "reserve_now": (
        "Reserve a connector (or the charger) for an id token",
        (
            "reservation_id",
            "expiry_date",
            "id_token",
            "id_token_type",
            "parent_id_token",
            "connector_type",
            *_WHERE,
        ),
    ),
    "cancel_reservation": ("Cancel a reservation", ("reservation_id",)),
    "customer_information": (
        "Ask for (and optionally clear) what the charger stores about a customer",
        (
            "request_id",
            "report",
            "clear",
            "customer_identifier",
            "id_token",
            "id_token_type",
            "customer_certificate",
        ),
    ),
    # -- smart charging ----------------------------------------------------------------------
    "set_charging_profile": ("Install a charging profile", ("charging_profile", *_WHERE)),
    "clear_charging_profile": (
        "Remove charging profiles by id or by criteria",
        ("charging_profile_id", "purpose", "stack_level", *_WHERE),
    ),
    "get_composite_schedule": (
        "Ask for the schedule that results from all profiles",
        ("duration", "charging_rate_unit", *_WHERE),
    ),
    "get_charging_profiles": (
        "Ask for the installed charging profiles",
        ("request_id", "charging_profile_criteria", *_WHERE),
    ),
    # -- firmware and logs -------------------------------------------------------------------
    "update_firmware": (
        "Download and install firmware",
        ("location", "retrieve_date", "install_date", "retries", "retry_interval", "request_id"),
    ),
    "signed_update_firmware": (
        "Download, verify and install signed firmware",
        (
            "location",
            "certificate",
            "signature",
            "retrieve_date",
            "install_date",
            "retries",
            "retry_interval",
            "request_id",
        ),
    ),
    "publish_firmware": (
        "Make a local controller publish firmware to its chargers",
        ("location", "checksum", "request_id", "retries", "retry_interval"),
    ),
    "unpublish_firmware": ("Stop publishing firmware", ("checksum",)),
    "get_log": (
        "Upload a diagnostics or security log",
        (
            "location",
            "log_type",
            "request_id",
            "oldest_timestamp",
            "latest_timestamp",
            "retries",
            "retry_interval",
        ),
    ),
    "get_diagnostics": (
        "Upload diagnostics (1.6 GetDiagnostics, which chargers without the security "
        "whitepaper understand)",
        (
            "location",
            "request_id",
            "oldest_timestamp",
            "latest_timestamp",
            "retries",
            "retry_interval",
        ),
    ),
    # -- display messages --------------------------------------------------------------------
    "set_display_message": ("Show a message on the charger's display", ("message",)),
    "get_display_messages": (
        "Ask for the display messages the charger has",
        ("request_id", "ids", "priority", "state"),
    ),
    "clear_display_message": ("Remove a display message", ("id",)),
    # -- monitoring --------------------------------------------------------------------------
    "set_variable_monitoring": ("Install variable monitors", ("set_monitoring_data",)),
    "clear_variable_monitoring": ("Remove variable monitors", ("ids",)),
    "set_monitoring_base": ("Activate a predefined set of monitors", ("monitoring_base",)),
    "set_monitoring_level": ("Report only events up to a severity", ("severity",)),
    "get_monitoring_report": (
        "Ask for a report of the installed monitors",
        ("request_id", "component_variable", "monitoring_criteria"),
    ),
    # -- certificates ------------------------------------------------------------------------
    "install_certificate": ("Install a root certificate", ("certificate_type", "certificate")),
    "delete_certificate": ("Delete an installed certificate", ("certificate_hash_data",)),
    "get_installed_certificate_ids": (
        "List the installed certificates of a type",
        ("certificate_type",),
    ),
    "certificate_signed": (
        "Deliver the certificate chain signed for the charger's CSR",
        ("certificate_chain", "certificate_type"),
    ),
}

COMMAND_NAMES: frozenset[str] = frozenset(_SPECS)
DESCRIPTIONS: dict[str, str] = {name: spec[0] for name, spec in _SPECS.items()}
PARAMS: dict[str, frozenset[str]] = {name: frozenset(spec[1]) for name, spec in _SPECS.items()}
"""The params each command accepts; any other key is refused (a typo is never ignored)."""

MAX_REQUEST_ID = 2**31 - 1  # requestId is a JSON integer; chargers store it as an int32


def new_request_id() -> int:
    """A random positive int32 for a requestId the operator did not give."""
    return secrets.randbelow(MAX_REQUEST_ID) + 1


class ParamReader:
    """Typed access to the params of one command.

    Absent and ``null`` are the same. Every error is an :class:`InvalidInput` that names the
    command and the param, e.g. ``remote_start: id_token is required``.
    """

    def __init__(self, command: str, params: Any, *, now: datetime | None = None) -> None:
        self.command = command
        self._now = now
        if not isinstance(params, Mapping):
            raise self.error("params must be a JSON object")
        accepted = PARAMS[command]
        unknown = sorted(str(name) for name in params if name not in accepted)
        if unknown:
            known = ", ".join(sorted(accepted)) or "none"
            raise self.error(f"unknown param {', '.join(unknown)} (accepted: {known})")
        self.params: Mapping[str, Any] = params
        self._accepted = accepted

    @property
    def now(self) -> datetime:
        """When the command is built (a default for dates the operator did not give)."""
        if self._now is None:
            raise LookupError(f"{self.command}: built without a clock")
        return self._now

    def error(self, message: str) -> InvalidInput:
        return InvalidInput(f"{self.command}: {message}")

    def has(self, name: str) -> bool:
        return self._get(name) is not None

    def _get(self, name: str) -> Any:
        if name not in self._accepted:  # a bug in an adapter, not an operator error
            raise LookupError(f"{self.command} does not declare the param {name!r}")
        return self.params.get(name)

    def _required(self, name: str) -> Any:
        value = self._get(name)
        if value is None:
            raise self.error(f"{name} is required")
        return value

    def _wrong(self, name: str, expected: str) -> InvalidInput:
        return self.error(f"{name} must be {expected}")

    # -- text --------------------------------------------------------------------------------

    def _text(self, name: str, value: Any) -> str:
        # Numbers are accepted as text: `csms command` decodes `--id-token 1234` as JSON.
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise self._wrong(name, "a string")

    def text(self, name: str) -> str:
        return self._text(name, self._required(name))

    def opt_text(self, name: str) -> str | None:
        value = self._get(name)
        return None if value is None else self._text(name, value)

    # -- numbers and booleans ----------------------------------------------------------------

    def _integer(self, name: str, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise self._wrong(name, "an integer")

    def setting(self, name: str) -> str:
        """A configuration value: text, or a number or boolean written as OCPP text."""
        value = self._required(name)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return self._text(name, value)

    def integer(self, name: str) -> int:
        return self._integer(name, self._required(name))

    def opt_integer(self, name: str) -> int | None:
        value = self._get(name)
        return None if value is None else self._integer(name, value)

    def number(self, name: str) -> int | float:
        value = self._required(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise self._wrong(name, "a number")

    def boolean(self, name: str, default: bool | None = None) -> bool:
        value = self._get(name)
        if value is None and default is not None:
            return default
        if value is None:
            raise self.error(f"{name} is required")
        if isinstance(value, bool):
            return value
        raise self._wrong(name, "true or false")

    # -- structures --------------------------------------------------------------------------

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._required(name)
        if isinstance(value, dict):
            return value
        raise self._wrong(name, "an object")

    def opt_mapping(self, name: str) -> dict[str, Any] | None:
        return self.mapping(name) if self.has(name) else None

    def items(self, name: str, *, allow_empty: bool = False) -> list[Any]:
        """A list (non-empty unless ``allow_empty``)."""
        value = self._required(name)
        if not isinstance(value, list):
            raise self._wrong(name, "a list")
        if not value and not allow_empty:
            raise self._wrong(name, "a non-empty list")
        return value

    def opt_items(self, name: str, *, allow_empty: bool = False) -> list[Any] | None:
        return self.items(name, allow_empty=allow_empty) if self.has(name) else None

    def texts(self, name: str) -> list[str]:
        """A non-empty list of strings (a single string is a list of one)."""
        value = self._required(name)
        values = [value] if isinstance(value, str) else self.items(name)
        return [self._text(name, v) for v in values]

    def value(self, name: str) -> Any:
        """The param as given (None when absent), for values passed through unchanged."""
        return self._get(name)

    def choice(self, name: str, choices: Mapping[str, str], default: str | None = None) -> str:
        """``choices[value]``: the OCPP spelling of one of the allowed values."""
        value = self._get(name)
        if value is None and default is not None:
            value = default
        if value is None:
            raise self.error(f"{name} is required")
        if isinstance(value, str) and value in choices:
            return choices[value]
        raise self._wrong(name, "one of " + ", ".join(sorted(choices)))

    def request_id(self) -> int:
        """``request_id`` when given, else a new random one."""
        given = self.opt_integer("request_id")
        return new_request_id() if given is None else given
