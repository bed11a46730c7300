"""The backoffice refuses unsafe settings outside dev, and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.app import create_app
from csms.errors import ConfigurationError
from csms.settings import DEFAULT_JWT_SECRET, BackofficeSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "reference" / "settings.md"
PRODUCTION = {
    "env": "production",
    "database_url": "postgresql://db/csms",
    "redis_url": "redis://redis:6379/0",
    "firmware_url_secret": "f" * 32,
    "data_key": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",  # base64 of 32 bytes
}
GOOD_SECRET = "x" * 32


def test_every_backoffice_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [
        name for name in BackofficeSettings.model_fields if f"`CSMS_{name.upper()}`" not in text
    ]
    assert missing == []


def test_dev_mode_accepts_the_default_key() -> None:
    settings = BackofficeSettings()
    assert settings.default_jwt_secret
    create_app(settings)


@pytest.mark.parametrize("secret", [DEFAULT_JWT_SECRET, "short", "y" * 31])
def test_production_refuses_a_default_or_short_key(secret: str) -> None:
    settings = BackofficeSettings(**PRODUCTION, jwt_secret=secret)
    with pytest.raises(ConfigurationError, match="CSMS_JWT_SECRET"):
        create_app(settings)


def test_production_accepts_a_real_key() -> None:
    create_app(BackofficeSettings(**PRODUCTION, jwt_secret=GOOD_SECRET))


def test_production_needs_explicit_servers() -> None:
    with pytest.raises(ConfigurationError, match="CSMS_DATABASE_URL"):
        create_app(BackofficeSettings(env="production", jwt_secret=GOOD_SECRET))


@pytest.mark.parametrize("password", [None, "short"])
def test_bootstrap_admin_needs_a_real_password(password: str | None) -> None:
    settings = BackofficeSettings(bootstrap_admin="root", bootstrap_admin_password=password)
    with pytest.raises(ConfigurationError, match="CSMS_BOOTSTRAP_ADMIN_PASSWORD"):
        settings.check_safe()


def test_secrets_are_not_shown() -> None:
    settings = BackofficeSettings(jwt_secret=GOOD_SECRET, bootstrap_admin_password="p" * 12)
    assert GOOD_SECRET not in repr(settings) and "p" * 12 not in repr(settings)


def test_backoffice_port_does_not_collide_with_the_node_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CSMS_PORT", "9100")
    monkeypatch.setenv("CSMS_API_PORT", "8100")
    assert BackofficeSettings().api_port == 8100


@pytest.mark.parametrize("secret", [None, "short"])
def test_production_refuses_a_default_or_short_firmware_url_secret(secret: str | None) -> None:
    given = {} if secret is None else {"firmware_url_secret": secret}
    settings = BackofficeSettings(**(PRODUCTION | given), jwt_secret=GOOD_SECRET)
    if secret is None:
        settings = BackofficeSettings(
            **{k: v for k, v in PRODUCTION.items() if k != "firmware_url_secret"},
            jwt_secret=GOOD_SECRET,
        )
    with pytest.raises(ConfigurationError, match="CSMS_FIRMWARE_URL_SECRET"):
        create_app(settings)
