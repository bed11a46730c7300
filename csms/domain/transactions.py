"""Session arithmetic: energy from meter start and stop, never negative."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

FLAG_METER_STOP_BELOW_START = "meter_stop_below_start"
FLAG_NO_METER_READING = "no_meter_reading"


@dataclass(frozen=True, slots=True)
class Energy:
    energy_wh: Decimal | None
    flags: tuple[str, ...]


def session_energy(meter_start_wh: Decimal | None, meter_stop_wh: Decimal | None) -> Energy:
    """Energy delivered; a stop reading below the start reading is flagged and counts 0."""
    if meter_start_wh is None or meter_stop_wh is None:
        return Energy(None, (FLAG_NO_METER_READING,))
    if meter_stop_wh < meter_start_wh:
        return Energy(Decimal(0), (FLAG_METER_STOP_BELOW_START,))
    return Energy(meter_stop_wh - meter_start_wh, ())
