"""What a handler gets: this charger's connection (``link``) and the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from csms.logs import ChargerLog
from csms.services import Services
from csms.services.link import ChargerLink

Payload = dict[str, Any]


class Outbound(Protocol):
    """The connection's side a handler may use: CALLs of our own to the charger."""

    def after_answer(self, work: Callable[[], Awaitable[None]]) -> None:
        """Start ``work`` once the answer being built has been sent."""
        ...

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float, *, checked: bool = False
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Context:
    link: ChargerLink
    services: Services
    outbound: Outbound | None = None  # set by the connection serving the charger
    call_timeout: float = 30.0  # for the CALLs handlers send (California Pricing)

    def after_answer(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` once the answer is sent (nothing without a connection)."""
        if self.outbound is not None:
            self.outbound.after_answer(work)

    @property
    def charge_point_id(self) -> str:
        return self.link.charge_point_id

    @property
    def log(self) -> ChargerLog:
        return self.link.log


Handler = Callable[[Context, Payload], Awaitable[Payload]]
"""Translate a validated request into service calls and their outcome into the response."""
