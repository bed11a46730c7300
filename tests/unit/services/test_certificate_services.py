"""CertificateService and PasswordService over the memory stores, with a fake command bus
and the built-in authority in memory: what each outcome records and emits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from csms.authority import BuiltinAuthority, create_authority
from csms.domain.chargers import Presence
from csms.domain.credentials import ACCEPTED, UNANSWERED
from csms.errors import ChargerCallError, CommandTimeout, InvalidInput
from csms.passwords import hash_password, verify_password
from csms.services import CertificateOptions, Services
from csms.services.hooks import CertificateIssued, CertificateRenewalFailed, Hooks
from csms.services.ports import CertificateAuthority
from csms.store.memory import MemoryStores

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD_PASSWORD = "old-password-0123456789"
OLD_HASH = hash_password(OLD_PASSWORD)


class FakeCommands:
    """The command bus: answers per command (a response payload, or an error to raise)."""

    def __init__(self, protocol: str, answers: dict[str, Any]) -> None:
        self.protocol = protocol
        self.answers = answers
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        params = params or {}
        self.sent.append((charge_point_id, command, params))
        answer = self.answers[command]
        if isinstance(answer, Exception):
            raise answer
        request: dict[str, Any] = {}
        if "certificate_type" in params:
            types = params["certificate_type"]
            request["certificateType"] = types[0] if self.protocol == "ocpp1.6" else types
        return {"action": command, "request": request, "response": answer, "protocol": "x"}


@pytest.fixture
def authority(tmp_path: Path) -> BuiltinAuthority:
    created = create_authority(tmp_path, common_name="Unit CA", organization="ACME")
    return BuiltinAuthority.from_files(
        created.certificate_file, created.key_file, organization="ACME", clock=lambda: NOW
    )


class World:
    def __init__(self, authority: CertificateAuthority | None) -> None:
        self.now = NOW  # what the services' clock reads
        self.stores = MemoryStores(clock=lambda: self.now)
        self.hooks = Hooks()
        self.events: list[object] = []
        self.hooks.subscribe(CertificateIssued, self.events.append)
        self.hooks.subscribe(CertificateRenewalFailed, self.events.append)
        self.services = Services(
            self.stores,
            clock=lambda: self.now,
            hooks=self.hooks,
            authority=authority,
            certificates=CertificateOptions(
                organization="ACME", renew_before_days=30, renew_retry_interval=3600
            ),
        )

    async def charger(self, charge_point_id: str, protocol: str | None) -> str:
        await self.stores.chargers.add(
            charge_point_id,
            password_hash=OLD_HASH,
            boot_policy="accept",
            ocpp_version=None,
            description="",
        )
        if protocol is not None:
            await self.stores.chargers.record_presence(
                Presence(charge_point_id, protocol, "node-1", 1, NOW)
            )
        return charge_point_id

    async def charger_events(self, charge_point_id: str, action: str) -> list[str | None]:
        found = await self.stores.reports.list_notifications(charge_point_id, actions=[action])
        return [n.kind for n in reversed(found)]


def make_csr(charge_point_id: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ACME"),
    ]
    built = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    return built.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM).decode()


# -- signing ----------------------------------------------------------------------------------


async def test_review_issue_deliver(authority: BuiltinAuthority) -> None:
    world = World(authority)
    cp = await world.charger("CP-1", "ocpp2.0.1")
    service = world.services.certificates
    csr = make_csr(cp)

    decision = await service.review(cp, csr, "ChargingStationCertificate")
    assert decision.accepted and decision.csr is not None
    issued = await service.issue(cp, csr, "ChargingStationCertificate", decision.csr)
    assert issued.certificate.delivery_status is None
    await service.delivered(issued.certificate, "Accepted")

    [current] = await service.issued(charge_point_id=cp, current_only=True)
    assert current.serial_number == issued.certificate.serial_number
    assert current.not_after == NOW + timedelta(days=365)
    assert [type(e) for e in world.events] == [CertificateIssued]
    assert await world.charger_events(cp, "SignCertificate") == ["Accepted"]
    assert await world.charger_events(cp, "CertificateSigned") == ["Accepted"]


async def test_a_refused_certificate_is_a_failed_update(authority: BuiltinAuthority) -> None:
    world = World(authority)
    cp = await world.charger("CP-1", "ocpp1.6")
    service = world.services.certificates
    csr = make_csr(cp)
    decision = await service.review(cp, csr, "ChargingStationCertificate")
    assert decision.csr is not None
    issued = await service.issue(cp, csr, "ChargingStationCertificate", decision.csr)

    await service.delivered(issued.certificate, "Rejected")  # A02.FR.07 on the station

    assert await service.issued(charge_point_id=cp, current_only=True) == []
    [failed] = world.events
    assert isinstance(failed, CertificateRenewalFailed)
    assert "CertificateSigned with Rejected" in failed.reason


async def test_rejections() -> None:
    without = World(None)
    cp = await without.charger("CP-1", "ocpp2.0.1")
    decision = await without.services.certificates.review(
        cp, make_csr(cp), "ChargingStationCertificate"
    )
    assert (decision.accepted, decision.reason_code) == (False, "NoAuthority")


async def test_an_external_authority_is_checked(authority: BuiltinAuthority) -> None:
    """What a (misbehaving) external authority returns never reaches the charger unchecked."""

    class WrongKey:
        async def sign(self, csr_pem: str, charge_point_id: str) -> str:
            return await authority.sign(make_csr(charge_point_id), charge_point_id)

    world = World(WrongKey())
    cp = await world.charger("CP-1", "ocpp2.0.1")
    csr = make_csr(cp)
    decision = await world.services.certificates.review(cp, csr, "ChargingStationCertificate")
    assert decision.csr is not None
    with pytest.raises(InvalidInput, match="CSR's public key"):
        await world.services.certificates.issue(cp, csr, "ChargingStationCertificate", decision.csr)
    assert await world.services.certificates.issued(charge_point_id=cp) == []


# -- renewal ----------------------------------------------------------------------------------


async def current_certificate(world: World, cp: str) -> None:
    service = world.services.certificates
    csr = make_csr(cp)
    decision = await service.review(cp, csr, "ChargingStationCertificate")
    assert decision.csr is not None
    issued = await service.issue(cp, csr, "ChargingStationCertificate", decision.csr)
    await service.delivered(issued.certificate, "Accepted")


@pytest.mark.parametrize(
    ("protocol", "command", "message"),
    [
        ("ocpp1.6", "extended_trigger_message", "SignChargePointCertificate"),
        ("ocpp2.0.1", "trigger_message", "SignChargingStationCertificate"),
    ],
)
async def test_renew_due_triggers_each_version_its_way(
    protocol: str, command: str, message: str, tmp_path: Path
) -> None:
    created = create_authority(tmp_path, common_name="Unit CA", organization="ACME")
    # signed 340 days ago: 25 days left, inside the 30 of CSMS_CERT_RENEW_BEFORE_DAYS
    old = BuiltinAuthority.from_files(
        created.certificate_file,
        created.key_file,
        organization="ACME",
        clock=lambda: NOW - timedelta(days=340),
    )
    world = World(old)
    world.now = NOW - timedelta(days=340)
    cp = await world.charger("CP-1", protocol)
    await current_certificate(world, cp)
    world.now = NOW
    commands = FakeCommands(protocol, {command: {"status": "Accepted"}})

    outcomes = await world.services.certificates.renew_due(commands)

    assert [o.ok for o in outcomes] == [True]
    assert commands.sent == [(cp, command, {"message": message})]
    [row] = await world.services.certificates.issued(charge_point_id=cp)
    assert (row.renewal_requested_at, row.renewal_attempts, row.renewal_error) == (NOW, 1, None)
    assert await world.services.certificates.renew_due(commands) == []  # not again before retry

    # a retry interval later the certificate is still current: that renewal failed
    world.now = NOW + timedelta(hours=2)
    again = await world.services.certificates.renew_due(commands)
    assert [o.ok for o in again] == [True]
    failures = [e for e in world.events if isinstance(e, CertificateRenewalFailed)]
    assert [f.reason.startswith("no new certificate since") for f in failures] == [True]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"status": "Rejected"}, "answered SignChargingStationCertificate: Rejected"),
        ({"status": "NotImplemented"}, "NotImplemented"),
        (CommandTimeout("no answer"), "timeout"),
    ],
)
async def test_a_refused_trigger_is_a_failed_renewal(
    answer: Any, words: str, authority: BuiltinAuthority
) -> None:
    world = World(authority)
    cp = await world.charger("CP-1", "ocpp2.0.1")
    await current_certificate(world, cp)
    [certificate] = await world.services.certificates.issued(charge_point_id=cp)
    commands = FakeCommands("ocpp2.0.1", {"trigger_message": answer})

    outcome = await world.services.certificates.request_renewal(
        cp, commands, certificate=certificate
    )

    assert not outcome.ok and words in outcome.detail
    failures = [e for e in world.events if isinstance(e, CertificateRenewalFailed)]
    assert len(failures) == 1 and words in failures[0].reason
    assert await world.charger_events(cp, "CertificateRenewalFailed") == [certificate.serial_number]


async def test_an_offline_charger_cannot_be_renewed(authority: BuiltinAuthority) -> None:
    world = World(authority)
    cp = await world.charger("CP-1", None)
    outcome = await world.services.certificates.request_renewal(cp, FakeCommands("x", {}))
    assert not outcome.ok and "not_connected" in outcome.detail


# -- installed roots --------------------------------------------------------------------------


async def test_listing_asks_1_6_once_per_type_and_2_0_1_once() -> None:
    data = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a",
        "issuerKeyHash": "b",
        "serialNumber": "1",
    }
    world = World(None)
    v16 = await world.charger("CP-16", "ocpp1.6")
    v201 = await world.charger("CP-201", "ocpp2.0.1")
    answers = {
        "get_installed_certificate_ids": {"status": "Accepted", "certificateHashData": [data]}
    }
    commands = FakeCommands("ocpp1.6", answers)
    found = await world.services.certificates.installed(v16, commands)
    assert [c.certificate_type for c in found] == [
        "CentralSystemRootCertificate",
        "ManufacturerRootCertificate",
    ]
    assert [p for _, _, p in commands.sent] == [
        {"certificate_type": ["CentralSystemRootCertificate"]},
        {"certificate_type": ["ManufacturerRootCertificate"]},
    ]
    commands = FakeCommands("ocpp2.0.1", {"get_installed_certificate_ids": {"status": "NotFound"}})
    assert await world.services.certificates.installed(v201, commands) == []
    assert [p for _, _, p in commands.sent] == [{}]
    with pytest.raises(InvalidInput, match="V2GRootCertificate"):
        await world.services.certificates.installed(
            v16, commands, certificate_types=["V2GRootCertificate"]
        )


# -- password rotation (A01) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "key"),
    [("ocpp1.6", "AuthorizationKey"), ("ocpp2.0.1", "SecurityCtrlr.BasicAuthPassword")],
)
async def test_rotation_accepted_then_confirmed(protocol: str, key: str) -> None:
    world = World(None)
    cp = await world.charger("CP-1", protocol)
    response = (
        {"status": "Accepted"}
        if protocol == "ocpp1.6"
        else {"setVariableResult": [{"attributeStatus": "Accepted"}]}
    )
    commands = FakeCommands(protocol, {"set_configuration": response})

    outcome = await world.services.passwords.rotate(cp, commands)

    [(_, command, params)] = commands.sent
    assert (command, params["key"], outcome.status) == ("set_configuration", key, "accepted")
    new_password = params["value"]
    rotation = await world.stores.passwords.get(cp)
    assert rotation is not None and rotation.status == ACCEPTED
    assert verify_password(rotation.password_hash, new_password)
    assert new_password not in outcome.detail
    # the old password is still the charger's until the new one is used
    assert await world.services.passwords.accept_new(cp, OLD_PASSWORD) is None
    assert await world.services.passwords.accept_new(cp, "wrong-password-000000") is None
    assert await world.services.passwords.accept_new(cp, new_password) == rotation.password_hash
    charger = await world.stores.chargers.get(cp)
    assert charger is not None and charger.password_hash == rotation.password_hash
    assert await world.stores.passwords.get(cp) is None
    assert await world.charger_events(cp, "PasswordRotation") == ["accepted", "confirmed"]


@pytest.mark.parametrize(
    ("answer", "status", "kept"),
    [
        ({"status": "Rejected"}, "rejected", False),
        ({"status": "NotSupported"}, "rejected", False),
        (ChargerCallError("NotImplemented"), "rejected", False),
        (CommandTimeout("no answer"), "unanswered", True),
        ({"status": "RebootRequired"}, "accepted", True),
    ],
)
async def test_rotation_outcomes(answer: Any, status: str, kept: bool) -> None:
    world = World(None)
    cp = await world.charger("CP-1", "ocpp1.6")
    outcome = await world.services.passwords.rotate(
        cp, FakeCommands("ocpp1.6", {"set_configuration": answer})
    )
    assert outcome.status == status
    rotation = await world.stores.passwords.get(cp)
    assert (rotation is not None) == kept
    if rotation is not None and status == "unanswered":
        assert rotation.status == UNANSWERED
    charger = await world.stores.chargers.get(cp)
    assert charger is not None and charger.password_hash == OLD_HASH  # A01.FR.04


async def test_rotation_needs_a_connected_charger_with_a_password() -> None:
    from csms.errors import ChargerNotConnected

    world = World(None)
    offline = await world.charger("CP-1", None)
    with pytest.raises(ChargerNotConnected):
        await world.services.passwords.rotate(offline, FakeCommands("x", {}))
    assert await world.stores.passwords.get(offline) is None
    await world.stores.chargers.add(
        "CP-2", password_hash=None, boot_policy="accept", ocpp_version=None, description=""
    )
    with pytest.raises(InvalidInput, match="no password"):
        await world.services.passwords.rotate("CP-2", FakeCommands("x", {}))
