"""The simulator's security (simulators.security): CSRs on a trigger, CertificateSigned
checked before it is kept, root certificates installed, listed and deleted by hash data, new
passwords taken (2.0.1 A01-A03, M03-M05; 1.6 security whitepaper, same use cases); the
security profile: 1.6 SecurityProfile (security whitepaper A05) and 2.0.1 network connection
profiles (A05)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sim_fake_context import FakeContext

from simulators.config import StationConfig
from simulators.security import Endpoint, StationSecurity

TRIGGERS = [
    ("1.6", "ExtendedTriggerMessage", "SignChargePointCertificate"),
    ("2.0.1", "TriggerMessage", "SignChargingStationCertificate"),
]


def _ca(name: str = "Test CA") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _sign(
    csr_pem: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    common_name: str | None = None,
    days: int = 30,
) -> str:
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    subject = (
        csr.subject
        if common_name is None
        else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2))
        .not_valid_after(now + timedelta(days=days))
        .sign(ca[1], hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM).decode()


@pytest.mark.parametrize(("version", "action", "requested"), TRIGGERS)
async def test_a02_fr_02_03_trigger_sends_a_csr_for_a_new_key(
    version: str, action: str, requested: str
) -> None:
    ctx = FakeContext(version, organization="ACME Charging")

    answer = ctx.adapter.routes[action](ctx, {"requestedMessage": requested})
    assert ctx.sent == []  # A02.FR.02: after the trigger's answer
    await ctx.run_after()

    assert answer == {"status": "Accepted"}
    [(sent, payload)] = ctx.sent
    assert sent == "SignCertificate"
    csr = x509.load_pem_x509_csr(payload["csr"].encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "ACME Charging"
    )
    assert ctx.state.security.pending_key is not None
    if version == "2.0.1":
        assert payload["certificateType"] == "ChargingStationCertificate"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a02_fr_06_certificate_signed_kept_only_when_valid(version: str) -> None:
    ctx = FakeContext(version)
    route = ctx.adapter.routes["CertificateSigned"]
    ca = _ca()
    csr = ctx.state.security.new_csr("CP-1", None)

    other_key_csr = FakeContext(version).state.security.new_csr("CP-1", None)
    # A02.FR.07: another key, another CN, expired: Rejected and nothing kept
    assert route(ctx, {"certificateChain": _sign(other_key_csr, ca)}) == {"status": "Rejected"}
    wrong_cn = _sign(csr, ca, common_name="CP-2")
    assert route(ctx, {"certificateChain": wrong_cn}) == {"status": "Rejected"}
    assert route(ctx, {"certificateChain": _sign(csr, ca, days=-1)}) == {"status": "Rejected"}
    assert ctx.state.security.certificate is None

    good = _sign(csr, ca)
    assert route(ctx, {"certificateChain": good}) == {"status": "Accepted"}
    assert ctx.state.security.certificate == x509.load_pem_x509_certificate(good.encode())


async def test_a02_fr_06_chain_must_reach_an_installed_csms_root() -> None:
    ctx = FakeContext("2.0.1")
    routes = ctx.adapter.routes
    trusted, stranger = _ca("Trusted"), _ca("Stranger")
    root_pem = trusted[0].public_bytes(Encoding.PEM).decode()
    install = {"certificateType": "CSMSRootCertificate", "certificate": root_pem}
    assert routes["InstallCertificate"](ctx, install) == {"status": "Accepted"}

    csr = ctx.state.security.new_csr("CP-1", None)
    by_stranger = _sign(csr, stranger)
    assert routes["CertificateSigned"](ctx, {"certificateChain": by_stranger}) == {
        "status": "Rejected"
    }
    assert routes["CertificateSigned"](ctx, {"certificateChain": _sign(csr, trusted)}) == {
        "status": "Accepted"
    }


@pytest.mark.parametrize(
    ("version", "root_type"),
    [("1.6", "CentralSystemRootCertificate"), ("2.0.1", "CSMSRootCertificate")],
)
def test_m03_m05_install_list_delete(version: str, root_type: str) -> None:
    ctx = FakeContext(version)
    routes = ctx.adapter.routes
    root = _ca()[0]
    pem = root.public_bytes(Encoding.PEM).decode()

    asked = {"certificateType": root_type if version == "1.6" else [root_type]}
    before = routes["GetInstalledCertificateIds"](ctx, asked)
    installed = routes["InstallCertificate"](
        ctx, {"certificateType": root_type, "certificate": pem}
    )
    listing = routes["GetInstalledCertificateIds"](ctx, asked)

    assert before == {"status": "NotFound"}
    assert installed == {"status": "Accepted"}
    entries = (
        listing["certificateHashData"]
        if version == "1.6"
        else [c["certificateHashData"] for c in listing["certificateHashDataChain"]]
    )
    [data] = entries
    assert data["serialNumber"] == format(root.serial_number, "x")
    assert routes["DeleteCertificate"](ctx, {"certificateHashData": data}) == {"status": "Accepted"}
    assert routes["DeleteCertificate"](ctx, {"certificateHashData": data}) == {"status": "NotFound"}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a01_new_password_taken_then_reconnect(version: str) -> None:
    ctx = FakeContext(version)
    password = "0123456789abcdef0123456789abcdef01234567"

    if version == "1.6":
        answer = ctx.adapter.routes["ChangeConfiguration"](
            ctx, {"key": "AuthorizationKey", "value": password}
        )
        assert answer == {"status": "Accepted"}
    else:
        item = {
            "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"},
            "attributeValue": password,
        }
        answer = ctx.adapter.routes["SetVariables"](ctx, {"setVariableData": [item]})
        assert answer["setVariableResult"][0]["attributeStatus"] == "Accepted"
    await ctx.run_after()

    assert ctx.events == [("change_password", password)]
    assert password not in json.dumps(ctx.state.configuration)  # write-only


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a01_fr_04_refused_password_is_not_used(version: str) -> None:
    ctx = FakeContext(version, refuse_password_change=True)
    password = "0123456789abcdef0123456789abcdef01234567"

    if version == "1.6":
        answer = ctx.adapter.routes["ChangeConfiguration"](
            ctx, {"key": "AuthorizationKey", "value": password}
        )
        assert answer == {"status": "Rejected"}
    else:
        item = {
            "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"},
            "attributeValue": password,
        }
        answer = ctx.adapter.routes["SetVariables"](ctx, {"setVariableData": [item]})
        assert answer["setVariableResult"][0]["attributeStatus"] == "Rejected"
    await ctx.run_after()

    assert ctx.events == []


# -- security profiles ---------------------------------------------------------------------

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


def test_a01_a_new_password_keeps_the_upgraded_way_to_connect() -> None:
    """A station moved to profile 2 that takes a new password (A01) reconnects over wss://
    with it: going back to ws:// would be a downgrade the CSMS refuses."""
    station, configuration = security(secure_url=WSS)
    assert station.change_profile("2") == "Accepted"
    station.connected(Endpoint(WSS, 2))
    new = "q" * 20
    station.new_password(dataclasses.replace(station.config, password=new))
    assert station.config.password == new
    assert station.profile == 2
    assert station.connection_order() == [Endpoint(WSS, 2)]
