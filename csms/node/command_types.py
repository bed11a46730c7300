"""How a version-neutral command becomes one OCPP CALL of a given version.

Each version package has ``commands.py`` with a table of :class:`CommandAdapter` keyed by
the neutral command name (docs/reference/commands.md). A command a version cannot express is
absent from that version's table; the raw passthrough covers anything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from csms.domain.commands import ParamReader
from csms.errors import InvalidInput, OcppError
from csms.node.validation import SchemaSet
from csms.services.reports import ReportService

Params = dict[str, Any]
Payload = dict[str, Any]
Builder = Callable[[ParamReader], Payload]
# what the charger's answer changes: (reports, charge point id, request, response)
Persist = Callable[[ReportService, str, Payload, Payload], Awaitable[None]]
Entry = tuple[str, str, Builder, Persist | None]  # command, action, builder, persist


@dataclass(frozen=True, slots=True)
class CommandAdapter:
    """``build`` turns the neutral params into the request payload of ``action``, checked
    against the version's schema (the one validation a command gets); ``persist``, when
    set, stores what the charger's answer changes (configuration, availability, ...)."""

    command: str
    action: str
    builder: Builder
    schemas: SchemaSet
    persist: Persist | None = None

    def build(self, params: Params, now: datetime) -> Payload:
        """The request payload; InvalidInput naming the command and what to fix."""
        payload = self.builder(ParamReader(self.command, params, now=now))
        try:
            self.schemas.validate(self.action, payload)
        except OcppError as exc:
            raise InvalidInput(
                f"{self.command}: invalid {self.action} ({exc.description})"
            ) from None
        return payload


def command_table(schemas: SchemaSet, entries: Iterable[Entry]) -> Mapping[str, CommandAdapter]:
    """Neutral command name -> adapter, read-only."""
    return MappingProxyType(
        {
            command: CommandAdapter(command, action, builder, schemas, persist)
            for command, action, builder, persist in entries
        }
    )


def with_optional(payload: Payload, **optional: Any) -> Payload:
    """``payload`` plus the optional fields that are not None."""
    payload.update({k: v for k, v in optional.items() if v is not None})
    return payload
