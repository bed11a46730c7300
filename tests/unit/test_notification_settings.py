"""Notification settings: private webhook addresses by mode, SMTP ports and safety."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from csms.errors import ConfigurationError
from csms.secretbox import DEV_KEY, key_id
from csms.settings import WorkerSettings

PRODUCTION = {
    "env": "production",
    "database_url": "postgresql://db/csms",
    "redis_url": "redis://redis:6379/0",
    "firmware_url_secret": "f" * 40,
    "data_key": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",  # base64 of 32 bytes
}


def test_private_webhooks_allowed_in_dev_refused_in_production_by_default() -> None:
    assert WorkerSettings().webhooks_may_be_private
    assert not WorkerSettings(**PRODUCTION).webhooks_may_be_private
    assert WorkerSettings(**PRODUCTION, webhook_allow_private=True).webhooks_may_be_private
    assert not WorkerSettings(webhook_allow_private=False).webhooks_may_be_private


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_smtp_port_follows_tls(tls: str, port: int) -> None:
    assert WorkerSettings(smtp_tls=tls).smtp_port_or_default == port
    assert WorkerSettings(smtp_tls=tls, smtp_port=2525).smtp_port_or_default == 2525


def test_production_refuses_smtp_credentials_in_clear() -> None:
    settings = WorkerSettings(
        **PRODUCTION, smtp_host="mail", smtp_username="u", smtp_password="p", smtp_tls="none"
    )
    with pytest.raises(ConfigurationError, match="CSMS_SMTP_TLS"):
        settings.check_safe()
    WorkerSettings(**PRODUCTION, smtp_host="mail", smtp_username="u").check_safe()
    WorkerSettings(smtp_host="mail", smtp_username="u", smtp_tls="none").check_safe()  # dev


def test_empty_smtp_host_is_unset() -> None:
    assert WorkerSettings(smtp_host="  ").smtp_host is None


def test_production_needs_a_data_key_and_dev_seals_with_the_public_one() -> None:
    without = {k: v for k, v in PRODUCTION.items() if k != "data_key"}
    with pytest.raises(ConfigurationError, match="CSMS_DATA_KEY"):
        WorkerSettings(**without).check_safe()
    WorkerSettings(**PRODUCTION).check_safe()
    dev = WorkerSettings().secret_box
    assert dev.current == key_id(DEV_KEY)
    assert WorkerSettings(**PRODUCTION).secret_box.current != dev.current


@pytest.mark.parametrize("value", ["short", "a2V5"])
def test_a_malformed_data_key_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        WorkerSettings(data_key=value)
    assert "not a data key" in str(raised.value)
    assert f"'{value}'" not in str(raised.value) and f"input_value='{value}'" not in str(
        raised.value
    )


def test_an_empty_data_key_is_unset() -> None:
    assert WorkerSettings(data_key=" ", data_key_previous="").data_key is None
