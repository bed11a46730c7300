"""Strict, fast JSON-schema validation of OCPP payloads.

The schemas are the ones the ``ocpp`` package ships; each version's :class:`SchemaSet`
compiles them once per process with fastjsonschema (16-26x faster than jsonschema, which the
``ocpp`` package uses). A schema failure becomes the OcppError that the OCPP-J specification
names for it.

Two things the schemas leave open are decided here, before any handler or write sees the
payload: every integer is an OCPP integer (32-bit signed; identifiers such as connectorId,
evseId or seqNo are not negative), and every dateTime is one this system can represent (RFC
3339, year 1 to 9999 also in UTC). A value outside is a PropertyConstraintViolation naming
the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC
from functools import cached_property
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp

from csms.errors import (
    FormatViolation,
    OccurrenceViolation,
    OcppError,
    PropertyViolation,
    TypeViolation,
)

OCPP_SCHEMAS = Path(ocpp.__file__).parent  # v16/schemas, v201/schemas

Validator = Callable[[Any], Any]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# integers that identify something (a connector, an EVSE, a message sequence, a request) and
# are never negative (a negative one would be refused by the database's checks, or address
# nothing)
NON_NEGATIVE = frozenset(
    {
        "connectorId", "evseId", "seqNo", "transactionId", "reservationId", "remoteStartId",
        "requestId", "eventId", "chargingProfileId", "variableMonitoringId",
    }
)  # fmt: skip
_EVSE_DEFINITIONS = frozenset({"EVSEType"})  # its "id" is an EVSE id

_OCCURRENCE_RULES = frozenset({"required", "minItems", "maxItems", "minProperties"})
_TYPE_RULES = frozenset({"type"})
_FORMAT_RULES = frozenset({"additionalProperties", "dependencies", "propertyNames"})


class SchemaSet:
    """The request and response schemas of one OCPP version.

    ``request_suffix``: 1.6 names a request schema ``Action.json``, 2.0.1
    ``ActionRequest.json``.
    """

    def __init__(self, directory: Path, request_suffix: str) -> None:
        self.directory = directory
        self.request_suffix = request_suffix
        self._validators: dict[tuple[str, bool], Validator] = {}

    def path(self, action: str, response: bool) -> Path:
        suffix = "Response" if response else self.request_suffix
        return self.directory / f"{action}{suffix}.json"

    @cached_property
    def actions(self) -> frozenset[str]:
        """Every action this version has a request schema for."""
        names = [p.stem for p in self.directory.glob("*.json")]
        suffix = self.request_suffix
        if suffix:
            return frozenset(n[: -len(suffix)] for n in names if n.endswith(suffix))
        return frozenset(n for n in names if not n.endswith("Response"))

    def validator(self, action: str, response: bool) -> Validator:
        """The compiled validator of one action's request or response schema."""
        key = (action, response)
        compiled = self._validators.get(key)
        if compiled is None:
            schema = json.loads(self.path(action, response).read_text(encoding="utf-8"))
            schema.pop("$id", None)  # 2.0.1 ids are URNs fastjsonschema would try to resolve
            bounded(schema)
            compiled = self._validators[key] = fastjsonschema.compile(
                schema, use_formats=True, formats={"date-time": representable_date_time}
            )
        return compiled

    def validate(self, action: str, payload: Any, *, response: bool = False) -> None:
        """Raise the matching OcppError if ``payload`` does not satisfy the schema."""
        try:
            self.validator(action, response)(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise error_for(exc) from None


def error_for(exc: fastjsonschema.JsonSchemaValueException) -> OcppError:
    """The OcppError the OCPP-J error table names for this schema failure."""
    where = exc.name or "data"
    detail: dict[str, object] = {"field": where, "rule": exc.rule or ""}
    if exc.rule in _OCCURRENCE_RULES:
        return OccurrenceViolation(exc.message, detail)
    if exc.rule in _TYPE_RULES:
        return TypeViolation(exc.message, detail)
    if exc.rule in _FORMAT_RULES:
        return FormatViolation(exc.message, detail)
    return PropertyViolation(exc.message, detail)


def bounded(schema: Any, name: str | None = None) -> None:
    """Give every integer of ``schema`` (in place) the OCPP integer range, and the
    identifiers a minimum of 0; tighter bounds a schema has are kept."""
    if isinstance(schema, list):
        for item in schema:
            bounded(item, name)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "integer":
        low = 0 if name in NON_NEGATIVE else INT32_MIN
        schema["minimum"] = max(schema.get("minimum", low), low)
        schema["maximum"] = min(schema.get("maximum", INT32_MAX), INT32_MAX)
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            for prop, sub in value.items():
                bounded(sub, prop)
        elif key == "definitions" and isinstance(value, dict):
            for definition, sub in value.items():
                if definition in _EVSE_DEFINITIONS and isinstance(sub, dict):
                    bounded(sub.get("properties", {}).get("id"), "evseId")
                bounded(sub)
        elif key == "items":
            bounded(value, name)
        elif isinstance(value, dict | list):
            bounded(value)


_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)$")


def representable_date_time(value: str) -> bool:
    """An RFC 3339 date-time (the ``date-time`` format) that converts to UTC within year
    1 to 9999 (what PostgreSQL and Python both hold)."""
    from csms.domain.clock import parse_timestamp

    if not _DATE_TIME.match(value):
        return False
    try:
        parse_timestamp(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


def whole(value: int | float | None) -> int | None:
    """An OCPP integer as a Python int: validation bounds it, but JSON Schema draft 6 (2.0.1)
    lets a charger write it as 1.0, which a database integer column refuses."""
    return None if value is None else int(value)
