"""Payment settings: the card processor is off unless configured, and production refuses a
card processor without its secrets, or over plain HTTP; secrets are never shown."""

from __future__ import annotations

from typing import Any

import pytest

from csms.domain.payments import RetryPolicy
from csms.errors import ConfigurationError
from csms.payments import retry_policy
from csms.settings import BackofficeSettings, PaymentSettings, WorkerSettings

PRODUCTION: dict[str, Any] = {
    "env": "production",
    "database_url": "postgresql://db/csms",
    "redis_url": "redis://redis:6379/0",
    "jwt_secret": "j" * 40,
    "firmware_url_secret": "f" * 40,  # the worker also signs firmware URLs
    "data_key": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",  # base64 of 32 bytes
}
KEY = "sk_live_" + "k" * 24
WEBHOOK = "whsec_" + "w" * 24


def test_no_card_processor_unless_configured() -> None:
    assert not PaymentSettings().card_enabled
    assert PaymentSettings(card_api_url="https://api.example.com").card_enabled


@pytest.mark.parametrize("settings", [BackofficeSettings, WorkerSettings])
@pytest.mark.parametrize(
    ("card", "match"),
    [
        ({"card_webhook_secret": WEBHOOK}, "CSMS_CARD_API_KEY"),
        ({"card_api_key": KEY}, "CSMS_CARD_WEBHOOK_SECRET"),
        ({"card_api_key": KEY, "card_webhook_secret": " , "}, "CSMS_CARD_WEBHOOK_SECRET"),
        ({"card_api_key": "", "card_webhook_secret": WEBHOOK}, "CSMS_CARD_API_KEY"),
    ],
)
def test_production_refuses_a_card_processor_without_its_secrets(
    settings: type[PaymentSettings], card: dict[str, Any], match: str
) -> None:
    configured = settings(**PRODUCTION, card_api_url="https://api.example.com", **card)
    with pytest.raises(ConfigurationError, match=match):
        configured.check_safe()


def test_production_wants_https_and_accepts_a_full_configuration() -> None:
    card: dict[str, Any] = {"card_api_key": KEY, "card_webhook_secret": WEBHOOK}
    with pytest.raises(ConfigurationError, match="https"):
        WorkerSettings(**PRODUCTION, card_api_url="http://api.example.com", **card).check_safe()
    WorkerSettings(**PRODUCTION, card_api_url="https://api.example.com", **card).check_safe()
    WorkerSettings(**PRODUCTION).check_safe()  # no card processor: nothing to check
    # dev mode lets a local fake run without secrets
    PaymentSettings(card_api_url="http://127.0.0.1:12111").check_safe()


def test_secrets_are_not_shown() -> None:
    settings = BackofficeSettings(card_api_key=KEY, card_webhook_secret=WEBHOOK)
    assert KEY not in repr(settings) and WEBHOOK not in repr(settings)


def test_the_retry_policy_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMS_PAYMENT_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("CSMS_PAYMENT_RETRY_DELAY", "60")
    monkeypatch.setenv("CSMS_CARD_WEBHOOK_TOLERANCE", "120")
    settings = WorkerSettings()
    assert retry_policy(settings) == RetryPolicy(
        max_attempts=5, first_delay=60, max_delay=259_200, check_after=600, expire_after=86_400
    )
    assert settings.card_webhook_tolerance == 120
