"""The station's display: what it keeps and prints."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from sim_fake_csms import TIMEOUT

from simulators.display import Display, Text


def test_transaction_ids_are_compared_as_text() -> None:
    display = Display(logging.getLogger("test.display"))

    display.show_running_cost(100, Decimal("1.20"), state="Charging")
    display.show_final_cost("100", Decimal("2.40"), currency="USD")

    assert (display.running_cost("100"), display.final_cost(100)) == (
        Decimal("1.20"),
        Decimal("2.40"),
    )
    assert display.running_cost(101) is None and display.final_cost("x") is None
    assert display.lines == [
        "transaction 100: 1.20 so far (Charging)",
        "transaction 100: total 2.40 USD",
    ]


def test_lines_go_to_the_display_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.display")
    display = Display(logging.getLogger("test.display"))

    display.show_tariff([Text("0.25/kWh"), Text("0,25/kWh", "de")], id_token="TAG-1")

    assert display.price_text == "0.25/kWh"
    assert [r.getMessage() for r in caplog.records] == [
        "display: tariff for TAG-1: 0.25/kWh",
        "display: tariff for TAG-1 [de]: 0,25/kWh",
    ]


async def test_waiting_for_the_final_cost() -> None:
    display = Display(logging.getLogger("test.display"))

    waiting = asyncio.create_task(display.wait_final_cost(7, TIMEOUT))
    await asyncio.sleep(0)  # the waiter is registered
    display.show_final_cost(7, Decimal("9.99"))

    assert await waiting == Decimal("9.99")
    assert await display.wait_final_cost("7", TIMEOUT) == Decimal("9.99")  # known already
    assert await display.wait_final_cost(8, TIMEOUT / 100) is None  # never came
