"""The console's security pieces without a server: cookie attributes, the CSRF token, the
Content-Security-Policy, the login page's redirect target."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from backoffice.console.login import _safe_next
from backoffice.console.web import content_security_policy
from backoffice.schemas.auth import TokenResponse
from backoffice.services.browser_sessions import clear_cookies, set_cookies
from backoffice.state import State
from csms.settings import BackofficeSettings

SECRET = "unit-console-jwt-secret-" + "s" * 40


def settings(**changes: object) -> BackofficeSettings:
    base: dict[str, object] = {"jwt_secret": SECRET}
    return BackofficeSettings(**{**base, **changes})  # type: ignore[arg-type]


def _cookies(state: State) -> dict[str, str]:
    access, _ = state.tokens.issue(7, "operator", 1)
    tokens = TokenResponse(
        access_token=access, expires_in=900, refresh_token="r" * 43, refresh_expires_in=86400
    )
    response = Response()
    claims = set_cookies(state, response, tokens)
    headers = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    cookies = {h.split("=", 1)[0]: h for h in headers}
    assert cookies["csms_csrf"].startswith(f"csms_csrf={state.tokens.csrf_token(claims.jti)};")
    return cookies


def test_cookies_in_production_are_secure_httponly_strict() -> None:
    production = settings(env="production", database_url="postgresql://x/y", redis_url="redis://x")
    cookies = _cookies(State(production))
    for name, header in cookies.items():
        lowered = header.lower()
        assert "; secure" in lowered and "samesite=strict" in lowered and "path=/" in lowered
        assert ("; httponly" in lowered) == (name != "csms_csrf")


def test_cookies_in_dev_are_not_secure() -> None:
    """Dev serves plain http on 127.0.0.1: a Secure cookie would never come back."""
    cookies = _cookies(State(settings(env="dev")))
    assert all("; secure" not in h.lower() for h in cookies.values())
    response = Response()
    clear_cookies(State(settings()), response)
    cleared = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    assert len(cleared) == 3 and all("max-age=0" in h.lower() for h in cleared)


def test_csrf_token_is_bound_to_the_token_and_the_key() -> None:
    codec = State(settings()).tokens
    other = State(settings(jwt_secret="another-console-jwt-secret-" + "t" * 40)).tokens
    assert codec.csrf_token("a") == codec.csrf_token("a")
    assert codec.csrf_token("a") != codec.csrf_token("b")
    assert codec.csrf_token("a") != other.csrf_token("a")
    assert len(codec.csrf_token("a")) == 64


def test_content_security_policy() -> None:
    policy = content_security_policy(settings())
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    tiled = content_security_policy(
        settings(console_tile_url="https://{s}.tiles.example.com/{z}/{x}/{y}.png")
    )
    assert "img-src 'self' data: https://*.tiles.example.com;" in tiled


def test_tile_url_cannot_inject_directives() -> None:
    with pytest.raises(ValueError):
        settings(console_tile_url="https://x.example.com; script-src *")


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/fleet", "/fleet"),
        ("/sessions/4?x=1", "/sessions/4?x=1"),
        ("//evil.example.com/", "/"),
        ("/\\evil.example.com", "/"),
        ("https://evil.example.com/", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_login_redirects_only_within_the_site(target: str | None, safe: str) -> None:
    assert _safe_next(target) == safe
