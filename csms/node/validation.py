"""Strict, fast JSON-schema validation of OCPP payloads.

The schemas are the ones the ``ocpp`` package ships; each version's :class:`SchemaSet`
compiles them once per process with fastjsonschema (16-26x faster than jsonschema, which the
``ocpp`` package uses). A schema failure becomes the OcppError that the OCPP-J specification
names for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
            compiled = self._validators[key] = fastjsonschema.compile(schema, use_formats=True)
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
