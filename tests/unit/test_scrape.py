"""Who may read /metrics (csms.scrape)."""

from __future__ import annotations

from pydantic import SecretStr

from csms.scrape import scrape_refusal

TOKEN = SecretStr("s" * 24)


def test_without_a_token_metrics_are_open_in_dev_and_off_in_production() -> None:
    assert scrape_refusal(None, None, dev=True) is None
    assert scrape_refusal(None, None, dev=False) == (
        404,
        "metrics are disabled: set CSMS_METRICS_TOKEN",
    )


def test_with_a_token_the_bearer_must_match() -> None:
    assert scrape_refusal(f"Bearer {'s' * 24}", TOKEN, dev=False) is None
    assert scrape_refusal(f"bearer {'s' * 24}", TOKEN, dev=True) is None
    for wrong in (None, "", "Bearer", f"Basic {'s' * 24}", "Bearer " + "s" * 23):
        refusal = scrape_refusal(wrong, TOKEN, dev=True)
        assert refusal is not None and refusal[0] == 401
