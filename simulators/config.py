"""Configuration of one simulated charging station."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MeterProfile:
    """The electrical behaviour of the simulated EV and charger (three-phase AC)."""

    voltage_v: float = 230.0
    current_a: float = 16.0
    phases: int = 3
    battery_wh: float = 60_000.0
    initial_soc_percent: float = 20.0

    @property
    def power_w(self) -> float:
        """Active power drawn while charging."""
        return self.voltage_v * self.current_a * self.phases


@dataclass(frozen=True)
class StationConfig:
    """Everything a :class:`~simulators.station.Station` needs to know about itself.

    ``url`` is the CSMS endpoint without the charge point id; the station appends
    ``/{charge_point_id}``. ``password`` enables HTTP Basic authentication (security
    profile 1) with the charge point id as user name. ``connectors`` is the number of
    connectors (1.6, ids 1..N) or EVSEs each with connector 1 (2.0.1).

    ``display_cost_and_price`` gives the station a display for tariffs and costs: in 1.6 the
    California Pricing extension (``CustomDisplayCostAndPrice=true`` and its configuration
    keys, ``DataTransfer`` vendor ``org.openchargealliance.costmsg``), in 2.0.1 the
    ``TariffCostCtrlr`` variables of functional block I, ``Currency`` = ``currency``.

    Firmware updates (:mod:`simulators.firmware`) fail on purpose with ``fail_firmware``
    (every download), ``fail_download`` / ``fail_install`` (probabilities per update) and
    ``bad_signature`` (every signature check).

    TLS (:mod:`simulators.security`): a ``wss://`` ``url`` is security profile 2 (with
    ``password``) or 3 (with ``client_cert_file``/``client_key_file``, the charging station
    certificate; no password is sent then). ``ca_file`` holds the CA that signed the CSMS
    certificate (the system's CAs without it). ``secure_url`` is the ``wss://`` URL a 1.6
    station moves to when the CSMS raises its ``SecurityProfile`` to 2 or 3.
    """

    url: str
    charge_point_id: str
    version: str = "1.6"
    password: str | None = field(default=None, repr=False)
    connectors: int = 1
    meter_interval: float = 60.0
    vendor: str = "SimVendor"
    model: str = "SimModel"
    serial_number: str | None = None
    firmware_version: str | None = "1.0.0"
    subprotocols: list[str] | None = None
    call_timeout: float = 10.0
    open_timeout: float = 10.0
    auto_replay: bool = True
    fail_firmware: bool = False
    fail_download: float = 0.0
    fail_install: float = 0.0
    bad_signature: bool = False
    display_cost_and_price: bool = False
    currency: str = "EUR"
    meter: MeterProfile = field(default_factory=MeterProfile)
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    secure_url: str | None = None

    def __post_init__(self) -> None:
        if self.version not in ("1.6", "2.0.1"):
            raise ValueError(f"unsupported OCPP version {self.version!r} (1.6 or 2.0.1)")
        if self.connectors < 1:
            raise ValueError("connectors must be at least 1")
        if not (0 <= self.fail_download <= 1 and 0 <= self.fail_install <= 1):
            raise ValueError("fail_download and fail_install are probabilities (0..1)")
        if self.meter_interval <= 0 or self.call_timeout <= 0:
            raise ValueError("meter_interval and call_timeout must be positive")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together")
        if self.secure_url is not None and not self.secure_url.startswith("wss://"):
            raise ValueError(f"secure_url must be a wss:// URL: {self.secure_url!r}")
        if not (len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper()):
            raise ValueError(f"currency must be an ISO 4217 code such as EUR: {self.currency!r}")
