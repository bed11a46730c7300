"""The simulated station's security profile (simulators.security): 1.6 SecurityProfile
(security whitepaper A05) and 2.0.1 network connection profiles (A05)."""

from __future__ import annotations

from typing import Any

from simulators.config import StationConfig
from simulators.security import Endpoint, StationSecurity

WS, WSS = "ws://csms/ocpp", "wss://csms/ocpp"


def security(version: str = "1.6", **config: Any) -> tuple[StationSecurity, dict[str, str]]:
    values: dict[str, Any] = {"url": WS, "charge_point_id": "CP-1", "password": "p" * 20}
    values.update(config)
    configuration: dict[str, str] = {}
    if version == "1.6":
        keys: dict[str, Any] = {"profile_key": "SecurityProfile", "priority_key": None}
    else:
        keys = {
            "profile_key": "SecurityCtrlr.SecurityProfile",
            "priority_key": "OCPPCommCtrlr.NetworkConfigurationPriority",
        }
    return StationSecurity(StationConfig(**values), configuration, **keys), configuration


def test_the_initial_profile_follows_the_configuration() -> None:
    assert security()[0].profile == 1
    assert security(password=None)[0].profile == 0
    assert security(url=WSS)[0].profile == 2
    assert security(url=WSS, client_cert_file="c", client_key_file="k")[0].profile == 3


def test_1_6_raises_only_with_the_prerequisites() -> None:
    """A05.FR.01: not lower or equal; A05.FR.03: a wss:// URL (CentralSystemRootCertificate);
    A05.FR.04: a certificate for 3; A05.FR.05: otherwise Accepted."""
    station, configuration = security()
    assert station.change_profile("1") == "Rejected"
    assert station.change_profile("2") == "Rejected"  # no secure_url
    station, configuration = security(secure_url=WSS)
    assert station.change_profile("3") == "Rejected"  # no client certificate
    assert station.change_profile("2") == "Accepted"
    assert station.connection_order() == [Endpoint(WSS, 2), Endpoint(WS, 1)]  # A05.FR.08
    station.connected(Endpoint(WSS, 2))
    assert configuration["SecurityProfile"] == "2"
    assert station.connection_order() == [Endpoint(WSS, 2)]


def test_1_6_falls_back_when_the_new_profile_does_not_connect() -> None:
    station, configuration = security(secure_url=WSS)
    assert station.change_profile("2") == "Accepted"
    station.connected(Endpoint(WS, 1))  # the new one failed: A05.FR.08
    assert configuration["SecurityProfile"] == "1"
    assert station.connection_order() == [Endpoint(WS, 1)]


def test_2_0_1_network_profiles_and_their_priority() -> None:
    station, configuration = security("2.0.1", client_cert_file="c", client_key_file="k")
    priority = "OCPPCommCtrlr.NetworkConfigurationPriority"
    assert configuration[priority] == "0"
    data = {"ocppCsmsUrl": WSS, "securityProfile": 3}
    assert station.set_network_profile(1, data) == "Accepted"
    assert station.set_network_profile(2, {**data, "securityProfile": 0}) == "Rejected"
    assert not station.accepts_priority("1,7")  # slot 7 not set
    assert station.accepts_priority("1,0")
    configuration[priority] = "1,0"
    assert station.connection_order() == [Endpoint(WSS, 3), Endpoint(WS, 1)]
    station.connected(Endpoint(WSS, 3))  # A05.FR.06: lower slots go
    assert configuration["SecurityCtrlr.SecurityProfile"] == "3"
    assert configuration[priority] == "1"


def test_2_0_1_refuses_a_slot_it_cannot_use() -> None:
    """A05.FR.03: profile 3 without a charging station certificate."""
    station, _ = security("2.0.1")
    assert station.set_network_profile(1, {"ocppCsmsUrl": WSS, "securityProfile": 3}) == "Accepted"
    assert not station.accepts_priority("1,0")
