"""What a handler gets: this charger's connection (``link``) and the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from csms.logs import ChargerLog
from csms.services import Services
from csms.services.link import ChargerLink

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Context:
    link: ChargerLink
    services: Services

    @property
    def charge_point_id(self) -> str:
        return self.link.charge_point_id

    @property
    def log(self) -> ChargerLog:
        return self.link.log


Handler = Callable[[Context, Payload], Awaitable[Payload]]
"""Translate a validated request into service calls and their outcome into the response."""
