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

import copy
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
            compiled = self._validators[key] = with_fast_samples(schema, _compile)
        return compiled

    def validate(self, action: str, payload: Any, *, response: bool = False) -> None:
        """Raise the matching OcppError if ``payload`` does not satisfy the schema."""
        try:
            self.validator(action, response)(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise error_for(exc) from None


def _compile(schema: dict[str, Any]) -> Validator:
    return fastjsonschema.compile(
        schema, use_formats=True, formats={"date-time": representable_date_time}
    )


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


# -- sampled values, checked by hand ------------------------------------------------------------
#
# Most of a MeterValues' or TransactionEvent's validation time went to its sampled values (8
# per message on a three-phase charger, ~5 us each through fastjsonschema's generated code).
# A schema whose top-level array holds elements with a ``sampledValue`` array gets a second,
# lenient validator (the sampled values' items unchecked) and a direct check of each sampled
# value compiled from the same subschema. The check is conservative: it only says "valid"
# for what the subschema accepts (a keyword or value type it does not know makes it say
# "don't know"), and notes the defaults fastjsonschema fills, filled once the lenient
# validator has passed the rest (an invalid payload is left as the full validator leaves
# it). Anything it does not pass,
# and anything the lenient validator refuses, goes to the full validator, which raises the
# error it always raised; so the outcome (and the payload's filled defaults) is the full
# validator's.

Fills = list[tuple[dict[str, Any], str, Any]]  # (object, key, default) to fill in
Check = Callable[[Any, Fills], bool]
_IGNORED = frozenset({"description", "javaType", "$comment", "comment", "title", "default"})
_SCALAR_DEFAULTS = (str, int, float, bool)


def with_fast_samples(schema: dict[str, Any], compile_: Callable[[Any], Validator]) -> Validator:
    """``compile_(schema)``, or an equivalent validator that checks sampled values by hand
    (see above) when ``schema`` has them and the checker supports their subschema."""
    full = compile_(schema)
    split = _split_samples(schema)
    if split is None:
        return full
    lenient_schema, checks = split
    lenient = compile_(lenient_schema)

    def validate(payload: Any) -> Any:
        fills: Fills = []
        if type(payload) is dict and _samples_pass(payload, checks, fills):
            try:
                result = lenient(payload)
            except fastjsonschema.JsonSchemaValueException:
                pass  # the full validator names the error
            else:
                for obj, key, default in fills:
                    obj[key] = default
                return result
        return full(payload)

    return validate


def _samples_pass(
    payload: dict[str, Any], checks: tuple[tuple[str, Check], ...], fills: Fills
) -> bool:
    for outer_key, check in checks:
        outer = payload.get(outer_key)
        if outer is None:
            continue
        if type(outer) is not list:
            return False
        for element in outer:
            if type(element) is not dict:
                return False
            samples = element.get("sampledValue")
            if samples is None:
                continue
            if type(samples) is not list:
                return False
            for sample in samples:
                if not check(sample, fills):
                    return False
    return True


def _split_samples(
    schema: dict[str, Any],
) -> tuple[dict[str, Any], tuple[tuple[str, Check], ...]] | None:
    """(the schema without its sampled values' item checks, and per top-level property
    whose elements hold sampled values the check of one), or None."""
    lenient = copy.deepcopy(schema)
    definitions = lenient.get("definitions", {})
    checks: list[tuple[str, Check]] = []
    for key, prop in (lenient.get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get("type") != "array":
            continue
        element = _resolve(prop.get("items"), definitions)
        if not isinstance(element, dict):
            continue
        sampled = (element.get("properties") or {}).get("sampledValue")
        if not isinstance(sampled, dict) or sampled.get("type") != "array":
            continue
        items = sampled.get("items")
        if not isinstance(items, dict):
            return None
        check = _checker(items, schema.get("definitions", {}))
        if check is None:
            return None
        sampled["items"] = {}
        checks.append((key, check))
    if not checks:
        return None
    return lenient, tuple(checks)


def _resolve(schema: Any, definitions: dict[str, Any]) -> Any:
    """A ``#/definitions/`` reference resolved (its siblings ignored, as draft 4-7 say)."""
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/definitions/"):
            return None
        schema = definitions.get(ref.removeprefix("#/definitions/"))
    return schema


def _never(value: Any, fills: Fills) -> bool:
    return False


def _checker(schema: Any, definitions: dict[str, Any]) -> Check | None:
    """A check that is True only for values ``schema`` accepts (None: a keyword it does not
    know; the caller then falls back to the full validator)."""
    schema = _resolve(schema, definitions)
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    rules = {k: v for k, v in schema.items() if k not in _IGNORED and k != "type"}
    if kind == "object":
        return _object_checker(rules, definitions)
    rules.pop("additionalProperties", None)  # applies to objects only
    if kind == "string":
        return _string_checker(rules)
    if kind in ("number", "integer"):
        return _number_checker(rules, integer=kind == "integer")
    if kind == "boolean" and not rules:
        return lambda value, fills: type(value) is bool
    return None


def _string_checker(rules: dict[str, Any]) -> Check | None:
    if set(rules) - {"enum", "maxLength", "minLength"}:
        return None
    enum = rules.get("enum")
    if enum is not None and not all(isinstance(e, str) for e in enum):
        return None
    allowed = None if enum is None else frozenset(enum)
    longest = rules.get("maxLength")
    shortest = rules.get("minLength", 0)

    def check(value: Any, fills: Fills) -> bool:
        if type(value) is not str:
            return False
        if allowed is not None and value not in allowed:
            return False
        length = len(value)
        return length >= shortest and (longest is None or length <= longest)

    return check


def _number_checker(rules: dict[str, Any], *, integer: bool) -> Check | None:
    if set(rules) - {"minimum", "maximum"}:
        return None
    low, high = rules.get("minimum"), rules.get("maximum")
    kinds = (int,) if integer else (int, float)  # bool is neither (type(), not isinstance)

    def check(value: Any, fills: Fills) -> bool:
        if type(value) not in kinds:
            return False
        return (low is None or value >= low) and (high is None or value <= high)

    return check


def _object_checker(rules: dict[str, Any], definitions: dict[str, Any]) -> Check | None:
    if set(rules) - {"properties", "required", "additionalProperties"}:
        return None
    closed = rules.get("additionalProperties", True)
    if not isinstance(closed, bool):
        return None
    closed = not closed
    required = tuple(rules.get("required", ()))
    checks: dict[str, Check] = {}
    defaults: list[tuple[str, Any]] = []
    for name, sub in (rules.get("properties") or {}).items():
        checks[name] = _checker(sub, definitions) or _never
        if isinstance(sub, dict) and "default" in sub:  # fastjsonschema fills these
            if not isinstance(sub["default"], _SCALAR_DEFAULTS):
                return None
            defaults.append((name, sub["default"]))

    def check(value: Any, fills: Fills) -> bool:
        if type(value) is not dict:
            return False
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            one = checks.get(name)
            if one is None:
                if closed:
                    return False
            elif not one(item, fills):
                return False
        for name, default in defaults:
            if name not in value:
                fills.append((value, name, default))
        return True

    return check
