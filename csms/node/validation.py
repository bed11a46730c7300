"""Strict, fast JSON-schema validation of OCPP payloads.

The schemas are the ones the ``ocpp`` package ships; they are compiled once per process with
fastjsonschema (16-26x faster than jsonschema, which the ``ocpp`` package uses). A schema
failure becomes the OcppError that the OCPP-J specification names for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
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

_OCPP_DIR = Path(ocpp.__file__).parent
_SCHEMA_DIRS = {
    "ocpp1.6": _OCPP_DIR / "v16" / "schemas",
    "ocpp2.0.1": _OCPP_DIR / "v201" / "schemas",
}

Validator = Callable[[Any], Any]

_OCCURRENCE_RULES = frozenset({"required", "minItems", "maxItems", "minProperties"})
_TYPE_RULES = frozenset({"type"})
_FORMAT_RULES = frozenset({"additionalProperties", "dependencies", "propertyNames"})


# 1.6 names a request schema ``Action.json``, 2.0.1 ``ActionRequest.json``.
_REQUEST_SUFFIX = {"ocpp1.6": "", "ocpp2.0.1": "Request"}


def schema_path(subprotocol: str, action: str, response: bool) -> Path:
    suffix = "Response" if response else _REQUEST_SUFFIX[subprotocol]
    return _SCHEMA_DIRS[subprotocol] / f"{action}{suffix}.json"


@cache
def known_actions(subprotocol: str) -> frozenset[str]:
    """Every action the ``ocpp`` package has a request schema for, in this version."""
    names = [p.stem for p in _SCHEMA_DIRS[subprotocol].glob("*.json")]
    suffix = _REQUEST_SUFFIX[subprotocol]
    if suffix:
        return frozenset(n[: -len(suffix)] for n in names if n.endswith(suffix))
    return frozenset(n for n in names if not n.endswith("Response"))


@cache
def validator(subprotocol: str, action: str, response: bool) -> Validator:
    """The compiled validator of one action's request or response schema."""
    schema = json.loads(schema_path(subprotocol, action, response).read_text(encoding="utf-8"))
    schema.pop("$id", None)  # 2.0.1 ids are URNs that fastjsonschema would try to resolve
    compiled: Validator = fastjsonschema.compile(schema, use_formats=True)
    return compiled


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


def validate(subprotocol: str, action: str, payload: Any, *, response: bool = False) -> None:
    """Raise the matching OcppError if ``payload`` does not satisfy the action's schema."""
    try:
        validator(subprotocol, action, response)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise error_for(exc) from None
