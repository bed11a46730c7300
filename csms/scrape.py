"""Who may read ``GET /metrics`` (the backoffice's and the nodes'): Prometheus with the
scrape token ``CSMS_METRICS_TOKEN`` as a bearer token. Without a token the metrics are
public in dev (a laptop) and not served at all in production (docs/topics/security.md)."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

BEARER_CHALLENGE = 'Bearer realm="metrics"'


def scrape_refusal(
    authorization: str | None, token: SecretStr | None, *, dev: bool
) -> tuple[int, str] | None:
    """None when the scrape may read the metrics, else (HTTP status, reason)."""
    if token is None:
        return None if dev else (404, "metrics are disabled: set CSMS_METRICS_TOKEN")
    scheme, _, given = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
        return None
    return 401, "a bearer scrape token is required"
