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
