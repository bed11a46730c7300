"""How a version-neutral command becomes one OCPP CALL of a given version.

Each version package has ``commands.py`` with ``COMMANDS: Mapping[str, CommandAdapter]``,
keyed by the neutral command name (docs/reference/commands.md). A command a version cannot
express is absent from that version's table; the raw passthrough covers anything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from csms.node.context import Session

Params = dict[str, Any]
Payload = dict[str, Any]
Build = Callable[[Params], Payload]
Persist = Callable[[Session, Payload, Payload], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CommandAdapter:
    """``build`` turns the neutral params into the request payload of ``action`` (raising
    ``csms.errors.InvalidInput`` on bad params); ``persist``, when set, stores what the
    charger's answer changes (configuration read or written, availability, ...)."""

    action: str
    build: Build
    persist: Persist | None = None
