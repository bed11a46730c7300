"""Settings parsing that operators rely on (docs/reference/settings.md)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from csms.settings import NodeSettings, WorkerSettings


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("0", None), ("15", 15.0)])
def test_ws_ping_interval_empty_or_zero_turns_pings_off(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: float | None
) -> None:
    monkeypatch.setenv("CSMS_WS_PING_INTERVAL", raw)
    assert NodeSettings().ws_ping_interval == expected


def test_ws_ping_interval_default_and_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSMS_WS_PING_INTERVAL", raising=False)
    assert NodeSettings().ws_ping_interval == 60.0
    for garbage in ("often", "nan", "-5", "inf"):
        monkeypatch.setenv("CSMS_WS_PING_INTERVAL", garbage)
        with pytest.raises(ValidationError):
            NodeSettings()


def test_a_worker_refuses_batches_bigger_than_half_its_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CSMS_JOB_CONCURRENCY", "8")
    monkeypatch.setenv("CSMS_JOB_BATCH_SIZE", "5")
    with pytest.raises(ValidationError, match="at least twice CSMS_JOB_BATCH_SIZE"):
        WorkerSettings()
    monkeypatch.setenv("CSMS_JOB_BATCH_SIZE", "4")
    assert WorkerSettings().job_batch_size == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tls_port": 9443}, "CSMS_TLS_PORT needs CSMS_TLS_CERT_FILE"),
        ({"tls_cert_file": "server.pem"}, "CSMS_TLS_CERT_FILE and CSMS_TLS_KEY_FILE go together"),
        ({"proxy_mode": "proxy-v2"}, "needs CSMS_TRUSTED_PROXIES"),
        ({"trusted_proxies": "10.0.0.0/8,lb"}, "'lb' is not an address or network"),
        ({"min_security_profile": 2}, "needs CSMS_TLS_PORT or a TLS-terminating proxy"),
        ({"tls_public_url": "ws://csms.example.com/ocpp"}, "tls_public_url"),
    ],
)
def test_tls_settings_that_cannot_work_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NodeSettings(**values)  # type: ignore[arg-type]


def test_a_short_metrics_token_is_refused_at_start() -> None:
    from csms.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="CSMS_METRICS_TOKEN"):
        NodeSettings(metrics_token="short").check_safe()  # type: ignore[arg-type]
    NodeSettings(metrics_token="long-enough-scrape-token").check_safe()  # type: ignore[arg-type]


def test_empty_metrics_token_and_public_url_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """compose.yaml passes ``${CSMS_METRICS_TOKEN:-}``: empty means not configured."""
    monkeypatch.setenv("CSMS_METRICS_TOKEN", "")
    monkeypatch.setenv("CSMS_TLS_PUBLIC_URL", "")
    settings = NodeSettings()
    assert settings.metrics_token is None and settings.tls_public_url is None
    settings.check_safe()
