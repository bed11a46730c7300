"""JSON-schema validation with the schemas shipped in the ``ocpp`` package.

Each schema is compiled once with ``fastjsonschema`` and cached. A failed validation raises
:class:`SchemaViolation` whose ``kind`` names the class of OCPP error it is; each version
maps kinds to its own CALLERROR codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

import fastjsonschema

from simulators.errors import SimulatorError

Validator = Callable[[Any], Any]

FORMAT = "format"
OCCURRENCE = "occurrence"
TYPE = "type"
PROPERTY = "property"

_KIND_BY_RULE = {
    "type": TYPE,
    "maxLength": TYPE,
    "minLength": TYPE,
    "required": OCCURRENCE,
    "minItems": OCCURRENCE,
    "maxItems": OCCURRENCE,
    "enum": PROPERTY,
    "minimum": PROPERTY,
    "maximum": PROPERTY,
    "exclusiveMinimum": PROPERTY,
    "exclusiveMaximum": PROPERTY,
    "multipleOf": PROPERTY,
    "pattern": PROPERTY,
    "format": PROPERTY,
}


class SchemaViolation(SimulatorError):
    """A payload that does not conform to its JSON schema."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class UnknownSchema(SimulatorError):
    """No schema exists for this action in this version."""


@cache
def _compile(directory: str, name: str) -> Validator:
    resource = files("ocpp").joinpath(directory, "schemas", f"{name}.json")
    try:
        text = resource.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UnknownSchema(f"{directory}/{name}") from exc
    validator: Validator = fastjsonschema.compile(json.loads(text))
    return validator


class SchemaSet:
    """The request and response schemas of one OCPP version.

    ``directory`` is the folder inside the ``ocpp`` package (``v16``, ``v201``);
    ``request_suffix`` is what request schema names append to the action ("" or "Request").
    """

    def __init__(self, directory: str, request_suffix: str) -> None:
        self.directory = directory
        self.request_suffix = request_suffix

    def _validator(self, action: str, response: bool) -> Validator:
        suffix = "Response" if response else self.request_suffix
        return _compile(self.directory, action + suffix)

    def knows(self, action: str) -> bool:
        """Whether ``action`` exists in this version."""
        try:
            self._validator(action, response=False)
        except UnknownSchema:
            return False
        return True

    def validate(self, action: str, payload: Any, *, response: bool = False) -> None:
        """Raise :class:`SchemaViolation` (or :class:`UnknownSchema`) if ``payload`` is invalid."""
        validator = self._validator(action, response)
        try:
            validator(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            kind = _KIND_BY_RULE.get(exc.rule or "", FORMAT)
            raise SchemaViolation(kind, str(exc.message)) from exc
