"""What a fleet run does (the CLI's flags), and the source address of each charger."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FleetProfile:
    """What the fleet does. Times in seconds."""

    url: str
    chargers: int
    processes: int = 1
    id_prefix: str = "FLEET-"
    first_index: int = 0
    password: str | None = None
    connect_rate: float = 1000.0  # new connections per second, whole fleet
    heartbeat: float = 60.0
    meter_interval: float = 10.0
    session_share: float = 0.5  # share of chargers that charge
    session_meter_values: int = 30  # a session: the start, N - 1 MeterValues, then the stop
    v201_share: float = 0.2
    samples: int = 8  # sampled values per meter value (1..8: energy first)
    duration: float = 30.0  # after the last charger connected
    id_token: str = "FLEET-TAG"
    spread_addresses: bool = True
    warmup: float = 5.0  # after the last connection, before latencies are recorded
    firmware_version: str = "1.0.0"  # what the chargers boot with (an update changes it)
    fail_download: float = 0.0  # share of firmware downloads that fail
    fail_install: float = 0.0  # share of firmware installs that fail
    bad_signature: bool = False  # every firmware signature check fails

    def charger_id(self, index: int) -> str:
        return f"{self.id_prefix}{self.first_index + index}"


def source_address(index: int) -> str:
    """A loopback source address per charger (127.0.0.0/8), so the ephemeral port range of
    one address is never the limit."""
    n = index + 1
    return f"127.{1 + (n >> 16) % 254}.{(n >> 8) & 0xFF}.{max(n & 0xFF, 1)}"
