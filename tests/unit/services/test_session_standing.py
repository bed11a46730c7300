"""Token standing at Authorize, in the service layer over the in-memory stores: with
billing on, an Accepted token whose account is blocked or closed answers Blocked and one of
a prepaid account without credit NoCredit (2.0.1 C01.FR.07: the status says why it is
refused; 1.6 has no NoCredit: Blocked, 7.2 AuthorizationStatus); stopping never looks at
money; with billing off nothing changes."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.accounts import Standing
from csms.domain.chargers import Charger
from csms.domain.id_tokens import Authorization, IdToken, TokenStatus
from csms.domain.transactions import NamedBy, Phase, SessionEvent, TokenRef
from csms.logs import ChargerLog
from csms.node import v16, v201
from csms.node.v16.convert import id_tag_info
from csms.node.v201.convert import id_token_info
from csms.services import Services
from csms.services.link import ChargerLink
from csms.store.memory import MemoryStores

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TAG = TokenRef("TAG-1", "ISO14443")


def services(*, billing: bool, standing: Standing | None, status: str = "Accepted") -> Services:
    memory = MemoryStores(clock=lambda: NOW)
    memory.tokens.add(IdToken("TAG-1", "ISO14443", status, None, "GROUP-1", False))
    memory.tokens.bill_to("TAG-1", standing)
    return Services(memory, clock=lambda: NOW, billing=billing)


def prepaid(available: str, hold: str = "0", status: str = "open") -> Standing:
    return Standing(3, "prepaid", status, "EUR", Decimal(hold), Decimal(available))


@pytest.mark.parametrize(
    ("standing", "status"),
    [
        (None, TokenStatus.ACCEPTED),  # bills to no account: settlement reviews it
        (prepaid("25.00", hold="20.00"), TokenStatus.ACCEPTED),
        (prepaid("19.99", hold="20.00"), TokenStatus.NO_CREDIT),
        (prepaid("0"), TokenStatus.NO_CREDIT),
        (prepaid("50", status="blocked"), TokenStatus.BLOCKED),
        (prepaid("50", status="closed"), TokenStatus.BLOCKED),
        (Standing(3, "postpaid", "open", "EUR", Decimal(0), Decimal(0)), TokenStatus.ACCEPTED),
        (Standing(3, "postpaid", "blocked", "EUR", Decimal(0), Decimal(0)), TokenStatus.BLOCKED),
    ],
)
async def test_authorize_judges_the_account(standing: Standing | None, status: TokenStatus) -> None:
    decision = await services(billing=True, standing=standing).sessions.authorize(TAG)
    assert decision.status is status
    assert decision.parent_id_token == "GROUP-1"  # the group is still said


async def test_a_start_is_judged_too_but_a_stop_is_not() -> None:
    sessions = services(billing=True, standing=prepaid("0")).sessions
    assert (await sessions.authorize(TAG, starting=True)).status is TokenStatus.NO_CREDIT
    # a token presented to stop (1.6 StopTransaction idTag, 2.0.1 Ended) never waits on money
    assert (await sessions.authorize(TAG, to_charge=False)).status is TokenStatus.ACCEPTED


async def test_a_token_refused_for_itself_keeps_its_own_status() -> None:
    blocked_token = services(billing=True, standing=prepaid("0"), status="Blocked")
    assert (await blocked_token.sessions.authorize(TAG)).status is TokenStatus.BLOCKED
    unknown = TokenRef("TAG-2", "ISO14443")
    assert (await blocked_token.sessions.authorize(unknown)).status is TokenStatus.UNKNOWN


async def test_billing_off_does_not_look_at_accounts() -> None:
    off = services(billing=False, standing=prepaid("0", status="blocked"))
    assert (await off.sessions.authorize(TAG)).status is TokenStatus.ACCEPTED


async def test_no_authorization_tokens_are_accepted_without_a_lookup() -> None:
    """C02.FR.01/02: a start button."""
    sessions = services(billing=True, standing=prepaid("0")).sessions
    button = TokenRef("", "NoAuthorization")
    assert (await sessions.authorize(button)).status is TokenStatus.ACCEPTED


def test_no_credit_in_each_version() -> None:
    """2.0.1 says NoCredit (AuthorizationStatusEnumType); 1.6 has no such status (7.2
    AuthorizationStatus) and says Blocked. Both answers are valid by the schemas."""
    decision = _decision(TokenStatus.NO_CREDIT)
    info16 = id_tag_info(decision)
    assert info16 == {"status": "Blocked", "parentIdTag": "GROUP-1"}
    v16.SCHEMAS.validate("Authorize", {"idTagInfo": info16}, response=True)
    info201 = id_token_info(decision)
    assert info201["status"] == "NoCredit"
    v201.SCHEMAS.validate("Authorize", {"idTokenInfo": info201}, response=True)


async def test_a_1_6_start_without_credit_is_recorded_blocked_and_replayed_the_same() -> None:
    """1.6 StartTransaction.conf idTagInfo: the session is recorded (the charger may have
    started offline) with the decision; a replay answers the same."""
    svc = services(billing=True, standing=prepaid("0"))
    memory = svc.stores
    assert isinstance(memory, MemoryStores)
    memory.chargers._data.chargers["CP-1"] = _charger("CP-1")
    link = ChargerLink("CP-1", "ocpp1.6", ChargerLog(logging.getLogger("t"), "CP-1"))
    event = SessionEvent(
        protocol="ocpp1.6",
        phase=Phase.STARTED,
        named_by=NamedBy.CSMS,
        at=NOW,
        token=TokenRef("TAG-1", "Central"),
        connector_id=1,
        evse_id=0,
        meter_start_wh=100,
    )
    first = await svc.sessions.start(link, event)
    assert first.authorization is not None
    assert id_tag_info(first.authorization)["status"] == "Blocked"
    assert first.session is not None
    stored = await memory.sessions.get("CP-1", first.session.transaction_id)
    assert stored is not None and stored.authorization_status == "NoCredit"
    again = await svc.sessions.start(link, event)
    assert again.authorization is not None and not again.fresh
    assert again.authorization.status is TokenStatus.NO_CREDIT


def _decision(status: TokenStatus) -> Authorization:
    return Authorization(status, None, "GROUP-1")


def _charger(charge_point_id: str) -> Charger:
    values: dict[str, Any] = {f.name: None for f in dataclasses.fields(Charger)}
    values.update(
        charge_point_id=charge_point_id,
        auth_mode="none",
        boot_policy="accept",
        description="",
        created_at=NOW,
    )
    return Charger(**values)
