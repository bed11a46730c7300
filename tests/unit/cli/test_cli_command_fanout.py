"""One command to many chargers (csms/cli/command_fanout.py) and which registered chargers a
filter selects (csms/cli/command_targets.py), with a fake command client. No servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from csms.cli.command_fanout import Outcome, send_many, summary
from csms.cli.command_targets import ChargerFacts, ChargerFilter, select
from csms.errors import (
    ChargerCallError,
    ChargerNotConnected,
    CommandError,
    CommandRejected,
    CommandTimeout,
    NodeUnavailable,
)


class FakeClient:
    """Answers from a table; holds every send until ``release`` once ``bound`` are in
    flight, so a test sees how many run at once."""

    def __init__(self, answers: dict[str, dict[str, Any] | CommandError], bound: int) -> None:
        self.answers = answers
        self.bound = bound
        self.in_flight = 0
        self.most = 0
        self.full = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: list[tuple[str, str, dict[str, Any], float]] = []

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any],
        *,
        timeout: float,
        by: str | None = None,
    ) -> dict[str, Any]:
        self.sent.append((charge_point_id, command, params, timeout))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.in_flight == self.bound:
            self.full.set()
        await self.release.wait()
        self.in_flight -= 1
        answer = self.answers[charge_point_id]
        if isinstance(answer, CommandError):
            raise answer
        return answer


def accepted() -> dict[str, Any]:
    return {"action": "Reset", "request": {}, "response": {"status": "Accepted"}}


async def test_outcomes_in_order_at_most_concurrency_at_once() -> None:
    answers: dict[str, dict[str, Any] | CommandError] = {
        "A": accepted(),
        "B": ChargerNotConnected("B is not connected"),
        "C": CommandTimeout("no answer from charger C in time"),
        "D": {"action": "GetLocalListVersion", "request": {}, "response": {"listVersion": 3}},
        "E": ChargerCallError("charger answered NotSupported: " + "x" * 100),
        "F": CommandRejected("reset: unknown param tipe"),
        "G": NodeUnavailable("node n1 is failing; its circuit breaker is open"),
        "H": {"action": "Reset", "request": {}, "response": {"status": "Rejected"}},
    }
    client = FakeClient(answers, bound=3)
    done: list[tuple[int, int]] = []
    sending = asyncio.ensure_future(
        send_many(
            client,  # type: ignore[arg-type]
            list(answers),
            "reset",
            {"type": "soft"},
            timeout=7.0,
            concurrency=3,
            progress=lambda n, total: done.append((n, total)),
        )
    )
    await client.full.wait()
    assert not done  # three in flight, none finished, the rest not started
    assert [s[0] for s in client.sent] == ["A", "B", "C"]
    client.release.set()
    outcomes = await sending
    assert client.most == 3
    assert all(s[1:] == ("reset", {"type": "soft"}, 7.0) for s in client.sent)
    assert [(o.charge_point_id, o.outcome) for o in outcomes] == [
        ("A", "ok"),
        ("B", "not_connected"),
        ("C", "timeout"),
        ("D", "ok"),
        ("E", "call_error"),
        ("F", "rejected"),
        ("G", "node_unavailable"),
        ("H", "ok"),
    ]
    assert outcomes[0].detail == "Accepted"
    assert outcomes[3].detail == '{"listVersion":3}'
    assert outcomes[7].detail == "Rejected"  # the charger answered: its status is the detail
    assert len(outcomes[4].detail) == 60 and outcomes[4].detail.endswith("...")
    assert done[-1] == (8, 8) and [n for n, _ in done] == list(range(1, 9))
    counts = "3 ok, 1 call_error, 1 node_unavailable, 1 not_connected, 1 rejected, 1 timeout"
    assert summary(outcomes) == f"8 chargers: {counts}"


def test_summary_of_one_and_none() -> None:
    assert summary([Outcome("A", "ok", "Accepted")]) == "1 charger: 1 ok"
    assert summary([]) == "0 chargers"


@dataclass(frozen=True)
class Facts:
    charge_point_id: str
    connected_protocol: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None


FLEET = [
    Facts("A", "ocpp1.6", "Acme", "AC-22", "1.2.3"),
    Facts("B", None, "Acme", "AC-22", "1.2.4"),
    Facts("C", "ocpp2.0.1", "Acme", "DC-50", "2.0.0"),
    Facts("D", "ocpp2.0.1", "Other", "AC-11", "1.2.3"),
    Facts("E"),  # registered, never booted
]


async def selected(chosen: ChargerFilter, pages: Sequence[Sequence[ChargerFacts]]) -> list[str]:
    async def each() -> AsyncIterator[Sequence[ChargerFacts]]:
        for page in pages:
            yield page

    return await select(each(), chosen)


async def test_filters_select_among_registered_chargers() -> None:
    pages = [FLEET[:2], FLEET[2:4], FLEET[4:]]
    assert await selected(ChargerFilter(), pages) == ["A", "B", "C", "D", "E"]  # --all
    assert await selected(ChargerFilter(connected=True), pages) == ["A", "C", "D"]
    assert await selected(ChargerFilter(protocol="2.0.1"), pages) == ["C", "D"]
    assert await selected(ChargerFilter(protocol="1.6"), pages) == ["A"]
    assert await selected(ChargerFilter(vendor="Acme"), pages) == ["A", "B", "C"]
    assert await selected(ChargerFilter(vendor="acme"), pages) == []  # case-sensitive
    assert await selected(ChargerFilter(model="AC-*"), pages) == ["A", "B", "D"]
    assert await selected(ChargerFilter(firmware="1.2.[34]"), pages) == ["A", "B", "D"]
    assert await selected(
        ChargerFilter(connected=True, vendor="Acme", firmware="1.2.*"), pages
    ) == ["A"]
