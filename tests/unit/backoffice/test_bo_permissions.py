"""Every route has exactly one permission check, and docs/api.md shows them all."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from backoffice.app import create_app
from backoffice.deps import AnyUser, Public
from backoffice.permissions import Role, api_routes, markdown_table, route_permissions, route_table
from csms.settings import BackofficeSettings

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(BackofficeSettings())


def test_every_route_has_exactly_one_permission_check(app: FastAPI) -> None:
    routes = api_routes(app)
    assert len(routes) >= 25
    unchecked = [r.path for r in routes if len(route_permissions(r)) != 1]
    assert unchecked == []


def test_only_probes_and_login_are_public(app: FastAPI) -> None:
    public = {(method, path) for method, path, roles in route_table(app) if roles is None}
    assert public == {
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/ready"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/payments/webhooks/{provider}"),  # the provider's signature
        ("POST", "/api/v1/auth/session"),  # the console's login
        ("POST", "/api/v1/auth/session/refresh"),  # the refresh cookie and the CSRF token
    }


def test_users_are_for_admins_only(app: FastAPI) -> None:
    for _method, path, roles in route_table(app):
        if path.startswith("/api/v1/users") and not path.startswith("/api/v1/users/me"):
            assert roles == (Role.ADMIN,), path


def test_tariffs_and_sites_are_for_staff_drivers_read_only_what_applies_to_them(
    app: FastAPI,
) -> None:
    staff = (Role.ADMIN, Role.OPERATOR, Role.MONITOR)
    writers = (Role.ADMIN, Role.OPERATOR)
    for_drivers = {
        "/api/v1/chargers/{charge_point_id}/tariff",
        "/api/v1/transactions/{transaction_pk}/cost",
    }
    seen = set()
    for method, path, roles in route_table(app):
        if path in for_drivers:
            assert (method, roles) == ("GET", (*staff, Role.DRIVER)), path
        elif path.startswith(("/api/v1/tariff", "/api/v1/sites")) or path.endswith("/site"):
            assert roles == (staff if method == "GET" else writers), (method, path)
        else:
            continue
        seen.add(path)
    assert len(seen) == 15  # with the site's alarm maintenance


def test_monitors_and_drivers_change_nothing_but_their_own_session(app: FastAPI) -> None:
    # a driver starts and stops charging with their own token (the monitor reads only)
    charging = {"/api/v1/me/sessions", "/api/v1/me/sessions/{transaction_pk}/stop"}
    # a driver tops up their own account (by card)
    own = {
        "/api/v1/auth/logout",
        "/api/v1/auth/session",  # DELETE: the console's logout
        "/api/v1/users/me/password",
        "/api/v1/accounts/{account_id}/topups",
    }
    # a monitor acknowledges alarms (issue 15), and changes nothing else
    acknowledge = "/api/v1/alarms/{alarm_id}/ack"
    for method, path, roles in route_table(app):
        if method != "GET" and path in charging:
            assert roles == (Role.ADMIN, Role.OPERATOR, Role.DRIVER), (method, path)
        elif path == acknowledge:
            assert roles == (Role.ADMIN, Role.OPERATOR, Role.MONITOR), (method, path)
        elif method != "GET" and roles is not None and path not in own:
            assert Role.MONITOR not in roles and Role.DRIVER not in roles, (method, path)


def test_payments_are_staffs_drivers_see_and_pay_their_own(app: FastAPI) -> None:
    staff = (Role.ADMIN, Role.OPERATOR, Role.MONITOR)
    writers = (Role.ADMIN, Role.OPERATOR)
    expected = {
        ("GET", "/api/v1/payments"): (*staff, Role.DRIVER),
        ("GET", "/api/v1/payments/{payment_id}"): (*staff, Role.DRIVER),
        ("POST", "/api/v1/payments/{payment_id}/refund"): writers,
        ("POST", "/api/v1/payments/{payment_id}/write-off"): writers,
        ("POST", "/api/v1/accounts/{account_id}/topups"): (*writers, Role.DRIVER),
        ("POST", "/api/v1/payments/webhooks/{provider}"): None,
    }
    found = {
        (method, path): roles
        for method, path, roles in route_table(app)
        if (method, path) in expected
    }
    assert found == expected


def test_a_route_without_a_check_is_caught() -> None:
    app = FastAPI()

    @app.get("/open")
    async def open_route() -> None: ...

    with pytest.raises(LookupError, match="/open"):
        route_table(app)


def test_a_route_with_two_checks_is_caught() -> None:
    app = FastAPI()

    @app.get("/twice")
    async def twice(_: Public, user: AnyUser) -> None: ...

    with pytest.raises(LookupError, match="/twice"):
        route_table(app)


def test_docs_show_the_role_table(app: FastAPI) -> None:
    assert markdown_table(app) in API_DOC.read_text(encoding="utf-8"), (
        "docs/api.md's role table is out of date; paste "
        "`python -c 'from backoffice.app import create_app; from backoffice.permissions import "
        "markdown_table; from csms.settings import BackofficeSettings; "
        "print(markdown_table(create_app(BackofficeSettings())))'`"
    )
