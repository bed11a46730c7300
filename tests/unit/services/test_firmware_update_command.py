"""The update a campaign sends each charger: 1.6 UpdateFirmware (6.55: location,
retrieveDate; no install time), 1.6 SignedUpdateFirmware and 2.0.1 UpdateFirmware with the
signature and signing certificate (L01.FR.11), retrieveDateTime / installDateTime (2.24)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from csms.domain.firmware_campaigns import Artifact, Campaign, CampaignOptions
from csms.services.firmware import FirmwareOrchestrator
from csms.services.hooks import Hooks
from csms.services.ports import FirmwareStore, JobQueue

NOW = datetime(2027, 1, 10, 1, 0, tzinfo=UTC)


def artifact(signed: bool) -> Artifact:
    return Artifact(
        id=7,
        version="2.3.1",
        vendor="ACME",
        model="AC22",
        file_name="fw.bin",
        size_bytes=10,
        sha256="0" * 64,
        signature="c2ln" if signed else None,
        signing_certificate="-----BEGIN CERTIFICATE-----\n" if signed else None,
        storage="large_object",
        description="",
        created_by=None,
        created_at=NOW,
    )


def campaign(signed: bool, **options: Any) -> Campaign:
    return Campaign(
        id=12,
        name="",
        artifact_id=7,
        target_version="2.3.1",
        signed=signed,
        status="running",
        selector={"model": "AC22"},
        options=CampaignOptions(**options),
        current_wave=0,
        halted_reason=None,
        created_by=None,
        created_at=NOW,
        updated_at=NOW,
        finished_at=None,
    )


def orchestrator() -> FirmwareOrchestrator:
    def sign(a: Artifact, cp: str, retrieve_at: datetime) -> str:
        return f"http://csms/firmware/{a.id}/{a.file_name}?cp={cp}&exp={retrieve_at:%H%M}"

    return FirmwareOrchestrator(
        cast(FirmwareStore, None),
        cast(JobQueue, None),
        cast(Any, None),
        sign,
        clock=lambda: NOW,
        hooks=Hooks(),
    )


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_unsigned(protocol: str) -> None:
    command, params = orchestrator().update_command(
        campaign(False), artifact(False), "CP-1", 99, protocol
    )
    assert command == "update_firmware"
    assert params == {
        "location": "http://csms/firmware/7/fw.bin?cp=CP-1&exp=0100",
        "retrieve_date": "2027-01-10T01:00:00.000Z",
        "request_id": 99,
    }


def test_scheduled_install_only_where_the_version_has_one() -> None:
    later = NOW + timedelta(hours=2)
    scheduled = campaign(False, retrieve_at=NOW + timedelta(hours=1), install_at=later)
    _, v16 = orchestrator().update_command(scheduled, artifact(False), "CP-1", 1, "ocpp1.6")
    _, v201 = orchestrator().update_command(scheduled, artifact(False), "CP-1", 1, "ocpp2.0.1")
    assert "install_date" not in v16  # 1.6 UpdateFirmware.req has no install time
    assert v201["install_date"] == "2027-01-10T03:00:00.000Z"
    assert v16["retrieve_date"] == v201["retrieve_date"] == "2027-01-10T02:00:00.000Z"
    assert v16["location"].endswith("exp=0200")  # the URL lasts from the retrieve time


def test_signed() -> None:
    command, params = orchestrator().update_command(
        campaign(True, install_at=NOW + timedelta(hours=2)), artifact(True), "CP-1", 5, None
    )
    assert command == "signed_update_firmware"
    assert params["signature"] == "c2ln"
    assert params["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert params["install_date"] == "2027-01-10T03:00:00.000Z"
