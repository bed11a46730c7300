"""A deterministic model of the energy meter and the EV battery during a session."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.config import MeterProfile
from simulators.transaction import Transaction

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"
SOC = "SoC"

_PHASES = ("L1", "L2", "L3")


@dataclass(frozen=True)
class Reading:
    """One measured quantity, before it is shaped into a version's sampledValue."""

    measurand: str
    value: float
    unit: str
    location: str = "Outlet"
    phase: str | None = None


def soc_percent(profile: MeterProfile, tx: Transaction) -> float:
    """The EV's state of charge given the energy delivered so far in ``tx``."""
    delivered = max(0.0, tx.meter_wh - tx.meter_start_wh)
    soc = profile.initial_soc_percent + 100.0 * delivered / profile.battery_wh
    return min(100.0, round(soc, 1))


def advance(profile: MeterProfile, tx: Transaction, seconds: float) -> None:
    """Let ``seconds`` of charging at the profile's power go by (until the battery is full)."""
    if soc_percent(profile, tx) >= 100.0:
        return
    tx.meter_wh += profile.power_w * seconds / 3600.0


def energy_reading(tx: Transaction) -> Reading:
    """The energy register alone (for transaction begin/end values)."""
    return Reading(ENERGY, round(tx.meter_wh, 1), "Wh")


def readings(profile: MeterProfile, tx: Transaction) -> list[Reading]:
    """A realistic periodic sample: energy, power, current per phase, voltage, SoC."""
    charging = soc_percent(profile, tx) < 100.0
    current = profile.current_a if charging else 0.0
    power = profile.power_w if charging else 0.0
    values = [energy_reading(tx), Reading(POWER, round(power, 1), "W")]
    values += [Reading(CURRENT, current, "A", phase=phase) for phase in _PHASES[: profile.phases]]
    values.append(Reading(VOLTAGE, profile.voltage_v, "V", phase="L1-N"))
    values.append(Reading(SOC, soc_percent(profile, tx), "Percent", location="EV"))
    return values


def decimal_string(value: float) -> str:
    """``value`` as a plain decimal string with at most 3 decimals: 1234.5 -> "1234.5"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
