"""Tariffs, sites and assignments through REST: CRUD, publishing and immutable versions,
refusals that name the field and store nothing, which tariff applies at a charger (group >
charger > site > default) and why, and the price display pushes they request."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.integration.backoffice.conftest import Account, NewAccount, every_item, register_charger
from tests.integration.backoffice.pricing import (
    TARIFF,
    assign,
    create_site,
    create_tariff,
    create_token,
    energy_tariff,
    tariff_id,
    unassign,
)


async def test_tariff_lifecycle_versions_are_immutable_once_published(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"].headers
    new_id = tariff_id()
    created = await client.post(
        "/api/v1/tariffs",
        json={"id": new_id, "description": "peak", "definition": energy_tariff("0.30")},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/api/v1/tariffs/{new_id}"
    v1 = created.json()
    assert (v1["tariff_id"], v1["version"], v1["status"]) == (new_id, 1, "draft")
    assert v1["currency"] == "EUR" and v1["display_text"] == "0.30 EUR/kWh"
    assert v1["created_by"] == accounts["operator"].username and v1["published_at"] is None

    again = await client.post(
        "/api/v1/tariffs",
        json={"id": new_id, "definition": energy_tariff("0.30")},
        headers=operator,
    )
    assert again.status_code == 409

    listed = await every_item(client, "/api/v1/tariffs", operator)
    (info,) = [t for t in listed if t["id"] == new_id]
    assert info["published_version"] is None and info["draft_version"] == 1

    # an edit before publishing changes the draft, still version 1
    edited = await client.put(
        f"/api/v1/tariffs/{new_id}", json={"definition": energy_tariff("0.31")}, headers=operator
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["status"]) == (1, "draft")
    assert edited.json()["definition"]["elements"][0]["price_components"][0]["price"] == "0.31"

    published = await client.post(f"/api/v1/tariffs/{new_id}/publish", headers=operator)
    assert published.status_code == 200, published.text
    assert (published.json()["version"], published.json()["status"]) == (1, "published")
    assert published.json()["published_by"] == accounts["operator"].username
    nothing = await client.post(f"/api/v1/tariffs/{new_id}/publish", headers=operator)
    assert nothing.status_code == 409 and "no draft" in nothing.json()["detail"]
    v1_published = (
        await client.get(f"/api/v1/tariffs/{new_id}/versions/1", headers=operator)
    ).json()

    # an edit after publishing starts version 2; version 1 stays as it was
    v2 = await client.put(
        f"/api/v1/tariffs/{new_id}",
        json={"definition": energy_tariff("0.40"), "description": "peak 2027"},
        headers=operator,
    )
    assert (v2.json()["version"], v2.json()["status"]) == (2, "draft")
    assert (await client.get(f"/api/v1/tariffs/{new_id}/versions/1", headers=operator)).json() == (
        v1_published
    )
    detail = (await client.get(f"/api/v1/tariffs/{new_id}", headers=operator)).json()
    assert detail["description"] == "peak 2027"
    assert (detail["published_version"], detail["draft_version"], detail["latest_version"]) == (
        1,
        2,
        2,
    )
    assert detail["published"]["version"] == 1 and detail["draft"]["version"] == 2
    assert detail["published"]["display_text"] == "0.31 EUR/kWh"
    assert detail["draft"]["display_text"] == "0.40 EUR/kWh"

    # a second edit of the draft keeps it version 2
    v2b = await client.put(
        f"/api/v1/tariffs/{new_id}", json={"definition": energy_tariff("0.41")}, headers=operator
    )
    assert v2b.json()["version"] == 2

    first = await client.get(
        f"/api/v1/tariffs/{new_id}/versions", params={"limit": 1}, headers=operator
    )
    assert [v["version"] for v in first.json()["items"]] == [1]
    rest = await client.get(
        f"/api/v1/tariffs/{new_id}/versions",
        params={"cursor": first.json()["next_cursor"]},
        headers=operator,
    )
    assert [v["version"] for v in rest.json()["items"]] == [2]
    assert rest.json()["next_cursor"] is None

    await client.post(f"/api/v1/tariffs/{new_id}/publish", headers=operator)
    detail = (await client.get(f"/api/v1/tariffs/{new_id}", headers=operator)).json()
    assert detail["published"]["version"] == 2 and detail["draft"] is None
    assert detail["draft_version"] is None

    # the description alone changes without a version
    described = await client.patch(
        f"/api/v1/tariffs/{new_id}", json={"description": "peak, weekdays"}, headers=operator
    )
    assert described.status_code == 200, described.text
    assert described.json()["description"] == "peak, weekdays"
    assert (described.json()["latest_version"], described.json()["draft_version"]) == (2, None)
    too_long = await client.patch(
        f"/api/v1/tariffs/{new_id}", json={"description": "x" * 256}, headers=operator
    )
    assert too_long.status_code == 422 and "description" in too_long.text

    for missing in (
        f"/api/v1/tariffs/{new_id}/versions/3",
        "/api/v1/tariffs/NO-SUCH-TARIFF",
        "/api/v1/tariffs/NO-SUCH-TARIFF/versions",
        "/api/v1/tariffs/NO-SUCH-TARIFF/pushes",
    ):
        response = await client.get(missing, headers=operator)
        assert response.status_code == 404, missing
        assert response.headers["content-type"].startswith("application/problem+json")
    edit_missing = await client.put(
        "/api/v1/tariffs/NO-SUCH-TARIFF", json={"definition": TARIFF}, headers=operator
    )
    assert edit_missing.status_code == 404

    # no session was priced with it: it can go
    assert (await client.delete(f"/api/v1/tariffs/{new_id}", headers=operator)).status_code == 204
    assert (await client.get(f"/api/v1/tariffs/{new_id}", headers=operator)).status_code == 404
    assert (await client.delete(f"/api/v1/tariffs/{new_id}", headers=operator)).status_code == 404


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """TARIFF with the value at ``path`` replaced."""
    definition = copy.deepcopy(TARIFF)
    target: Any = definition
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return definition


ENERGY = {"type": "ENERGY", "price": "0.25", "step_size": 1}
BAD_TARIFFS = {
    "negative price": (
        _with(("elements", 0, "price_components", 1, "price"), "-0.01"),
        "elements[0].price_components[1].price: must not be negative",
    ),
    "unknown currency": (
        _with(("currency",), "ABC"),
        "currency: must be an ISO 4217 currency code",
    ),
    "VAT above 100": (
        _with(("elements", 0, "price_components", 0, "vat"), "100.5"),
        "elements[0].price_components[0].vat: must be between 0 and 100",
    ),
    "negative VAT": (
        _with(("elements", 0, "price_components", 0, "vat"), -1),
        "elements[0].price_components[0].vat: must be between 0 and 100",
    ),
    "dead element": (
        _with(("elements",), [{"price_components": [ENERGY]}, {"price_components": [ENERGY]}]),
        "elements[1]: never applies: elements[0] prices ENERGY unrestricted before it",
    ),
    "overlapping components": (
        _with(("elements",), [{"price_components": [ENERGY, ENERGY]}]),
        "elements[0].price_components[1]: never applies",
    ),
    "restricted element behind a wider one": (
        _with(
            ("elements",),
            [
                {
                    "price_components": [ENERGY],
                    "restrictions": {"start_time": "08:00", "end_time": "20:00"},
                },
                {
                    "price_components": [ENERGY],
                    "restrictions": {"start_time": "09:00", "end_time": "17:00"},
                },
            ],
        ),
        "elements[1]: never applies: elements[0] prices ENERGY wherever it applies before it",
    ),
    "unknown field": (
        _with(("elements", 0, "restrictions"), {"start_tme": "08:00"}),
        "elements[0].restrictions.start_tme: unknown field",
    ),
    "no elements": (_with(("elements",), []), "elements: at least one element is required"),
    "not an object": ([TARIFF], "definition: Input should be a valid dictionary"),
}


@pytest.mark.parametrize("case", list(BAD_TARIFFS))
async def test_a_bad_tariff_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient, accounts: dict[str, Account], case: str
) -> None:
    operator = accounts["operator"].headers
    definition, message = BAD_TARIFFS[case]
    new_id = tariff_id()
    created = await client.post(
        "/api/v1/tariffs", json={"id": new_id, "definition": definition}, headers=operator
    )
    assert created.status_code == 422, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    assert message in created.json()["detail"]
    assert (await client.get(f"/api/v1/tariffs/{new_id}", headers=operator)).status_code == 404

    # an edit is refused the same way, and the draft stays as it was
    existing = await create_tariff(client, accounts["operator"], publish=False)
    before = (await client.get(f"/api/v1/tariffs/{existing}/versions", headers=operator)).json()
    edited = await client.put(
        f"/api/v1/tariffs/{existing}", json={"definition": definition}, headers=operator
    )
    assert edited.status_code == 422 and message in edited.json()["detail"]
    after = (await client.get(f"/api/v1/tariffs/{existing}/versions", headers=operator)).json()
    assert after == before


async def test_tariff_ids_and_bodies_are_validated(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"].headers
    for body, where in (
        ({"id": "no spaces", "definition": TARIFF}, "body.id"),
        ({"id": "x" * 37, "definition": TARIFF}, "body.id"),
        ({"id": tariff_id(), "definition": TARIFF, "price": 1}, "body.price"),
        ({"id": tariff_id(), "description": "d" * 256, "definition": TARIFF}, "body.description"),
        ({"id": tariff_id()}, "body.definition"),
    ):
        response = await client.post("/api/v1/tariffs", json=body, headers=operator)
        assert response.status_code == 422, body
        assert response.json()["detail"].startswith(where), response.json()


async def test_sites_and_chargers_at_them(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"].headers
    monitor = accounts["monitor"].headers
    site_id = await create_site(client, accounts["operator"])
    site = (await client.get(f"/api/v1/sites/{site_id}", headers=monitor)).json()
    assert site["time_zone"] == "Europe/Amsterdam" and site["latitude"] is None
    assert site["created_at"] is not None

    duplicate = await client.post(
        "/api/v1/sites", json={"id": site_id, "name": "x", "time_zone": "UTC"}, headers=operator
    )
    assert duplicate.status_code == 409

    changed = await client.patch(
        f"/api/v1/sites/{site_id}",
        json={
            "name": "Amsterdam Zuid",
            "address": "Strawinskylaan 1",
            "city": "Amsterdam",
            "postal_code": "1077 XW",
            "country": "NLD",
            "latitude": 52.337,
            "longitude": "4.871234",
        },
        headers=operator,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Amsterdam Zuid" and changed.json()["country"] == "NLD"
    assert changed.json()["latitude"] == "52.337000" and changed.json()["longitude"] == "4.871234"
    cleared = await client.patch(
        f"/api/v1/sites/{site_id}", json={"latitude": None}, headers=operator
    )
    assert cleared.json()["latitude"] is None and cleared.json()["name"] == "Amsterdam Zuid"

    for body, where in (
        ({"time_zone": "Mars/Olympus_Mons"}, "body.time_zone"),
        ({"time_zone": "Europe"}, "body.time_zone"),  # a directory of the zone database
        ({"time_zone": "../../etc/passwd"}, "body.time_zone"),
        ({"latitude": 91}, "body.latitude"),
        ({"longitude": "4.1234567"}, "body.longitude"),
        ({"country": "Netherlands"}, "body.country"),
        ({"name": ""}, "body.name"),
        ({"owner": "me"}, "body.owner"),
    ):
        response = await client.patch(f"/api/v1/sites/{site_id}", json=body, headers=operator)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"].startswith(where), response.json()
    bad_id = await client.post(
        "/api/v1/sites", json={"id": "a/b", "name": "x", "time_zone": "UTC"}, headers=operator
    )
    assert bad_id.status_code == 422

    listed = (await client.get("/api/v1/sites", headers=monitor)).json()["items"]
    assert site_id in [s["id"] for s in listed]

    charge_point_id, _ = await register_charger(client, accounts["operator"])
    placed = await client.put(
        f"/api/v1/chargers/{charge_point_id}/site", json={"site_id": site_id}, headers=operator
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["site"]["id"] == site_id
    seen = await client.get(f"/api/v1/chargers/{charge_point_id}/site", headers=monitor)
    assert seen.json()["site"]["name"] == "Amsterdam Zuid"
    for url, body in (
        (f"/api/v1/chargers/{charge_point_id}/site", {"site_id": "NO-SUCH-SITE"}),
        ("/api/v1/chargers/CP-NOT-THERE/site", {"site_id": site_id}),
    ):
        assert (await client.put(url, json=body, headers=operator)).status_code == 404
    assert (
        await client.put(f"/api/v1/chargers/{charge_point_id}/site", json={}, headers=operator)
    ).status_code == 422
    assert (
        await client.get("/api/v1/chargers/CP-NOT-THERE/site", headers=monitor)
    ).status_code == 404

    # a deleted site leaves its chargers at no site
    assert (await client.delete(f"/api/v1/sites/{site_id}", headers=operator)).status_code == 204
    assert (await client.get(f"/api/v1/sites/{site_id}", headers=monitor)).status_code == 404
    seen = await client.get(f"/api/v1/chargers/{charge_point_id}/site", headers=monitor)
    assert seen.json() == {"charge_point_id": charge_point_id, "site": None}
    unplaced = await client.put(
        f"/api/v1/chargers/{charge_point_id}/site", json={"site_id": None}, headers=operator
    )
    assert unplaced.status_code == 200 and unplaced.json()["site"] is None


async def test_which_tariff_applies_group_over_charger_over_site_over_default(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    operator = accounts["operator"]
    monitor = accounts["monitor"].headers
    driver = await new_account("driver")
    charge_point_id, _ = await register_charger(client, operator)
    site_id = await create_site(client, operator, time_zone="America/New_York")
    await client.put(
        f"/api/v1/chargers/{charge_point_id}/site",
        json={"site_id": site_id},
        headers=operator.headers,
    )
    group = await create_token(client, operator)
    tag = await create_token(client, operator, user_id=driver.user_id, parent_id_token=group)
    default, at_site, at_charger, for_group = [
        await create_tariff(client, operator, energy_tariff(price))
        for price in ("0.1", "0.2", "0.3", "0.4")
    ]
    url = f"/api/v1/chargers/{charge_point_id}/tariff"

    async def applies(id_token: str | None = None) -> dict[str, Any] | None:
        params = {} if id_token is None else {"id_token": id_token}
        response = await client.get(url, params=params, headers=monitor)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["site"]["id"] == site_id and body["time_zone"] == "America/New_York"
        applicable: dict[str, Any] | None = body["applicable"]
        return applicable

    assert await applies(tag) is None
    try:
        await assign(client, operator, "default", "", default)
        found = await applies(tag)
        assert found is not None
        assert (found["tariff_id"], found["scope"], found["target"]) == (default, "default", "")
        assert found["reason"] == "the default tariff"
        assert found["version"] == 1 and found["currency"] == "EUR"
        assert found["display_text"] == "0.10 EUR/kWh" and found["published_at"] is not None
        assert found["definition"]["elements"][0]["price_components"][0]["price"] == "0.1"

        await assign(client, operator, "site", site_id, at_site)
        found = await applies(tag)
        assert found is not None and found["tariff_id"] == at_site
        assert found["reason"] == f"assigned to site {site_id}"

        await assign(client, operator, "charger", charge_point_id, at_charger)
        found = await applies(tag)
        assert found is not None and found["tariff_id"] == at_charger
        assert (found["scope"], found["target"]) == ("charger", charge_point_id)

        # the group of the driver's token (its parent token) wins, for that driver only
        await assign(client, operator, "group", group, for_group)
        found = await applies(tag)
        assert found is not None and found["tariff_id"] == for_group
        assert (found["scope"], found["target"]) == ("group", group.lower())
        assert found["reason"] == f"assigned to group {group.lower()}"
        found = await applies()
        assert found is not None and found["tariff_id"] == at_charger
        # and the driver sees the same with their own token
        own = await client.get(url, params={"id_token": tag}, headers=driver.headers)
        assert own.status_code == 200 and own.json()["applicable"]["tariff_id"] == for_group

        listed = await client.get(
            "/api/v1/tariff-assignments", params={"tariff_id": for_group}, headers=monitor
        )
        (assignment,) = listed.json()["items"]
        assert assignment["scope"] == "group" and assignment["target"] == group.lower()
        assert assignment["created_by"] == operator.username

        # and back down, one level at a time
        await unassign(client, operator, "group", group)
        assert (await applies(tag) or {}).get("tariff_id") == at_charger
        await unassign(client, operator, "charger", charge_point_id)
        assert (await applies(tag) or {}).get("tariff_id") == at_site
        await unassign(client, operator, "site", site_id)
        assert (await applies(tag) or {}).get("tariff_id") == default
    finally:
        # the default applies to every charger of the package's database: never leave one
        await client.delete("/api/v1/tariff-assignments/default", headers=operator.headers)
    assert await applies(tag) is None
    assert (
        await client.get(url.replace(charge_point_id, "CP-NOT-THERE"), headers=monitor)
    ).status_code == 404


async def test_assignments_are_validated(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"]
    charge_point_id, _ = await register_charger(client, operator)
    published = await create_tariff(client, operator)
    draft = await create_tariff(client, operator, publish=False)

    async def put(scope: str, target: str, tariff: str) -> httpx.Response:
        return await client.put(
            "/api/v1/tariff-assignments",
            json={"scope": scope, "target": target, "tariff_id": tariff},
            headers=operator.headers,
        )

    unpublished = await put("charger", charge_point_id, draft)
    assert unpublished.status_code == 409 and "publish it first" in unpublished.json()["detail"]
    assert (await put("charger", "CP-NOT-THERE", published)).status_code == 404
    assert (await put("site", "NO-SUCH-SITE", published)).status_code == 404
    assert (await put("charger", charge_point_id, "NO-SUCH-TARIFF")).status_code == 404
    for scope, target, where in (
        ("default", "x", "target:"),
        ("charger", "", "target:"),
        ("group", "", "target:"),
        ("group", "T" * 37, "target:"),
        ("region", "x", "body.scope"),
    ):
        response = await put(scope, target, published)
        assert response.status_code == 422, (scope, target, response.text)
        assert response.json()["detail"].startswith(where), response.json()
    no_default_target = await client.delete(
        "/api/v1/tariff-assignments/default/x", headers=operator.headers
    )
    assert no_default_target.status_code == 422
    not_assigned = await client.delete(
        f"/api/v1/tariff-assignments/charger/{charge_point_id}", headers=operator.headers
    )
    assert not_assigned.status_code == 404
    assert (
        await client.delete("/api/v1/tariff-assignments/region/x", headers=operator.headers)
    ).status_code == 422

    # replacing what is assigned somewhere
    first = await assign(client, operator, "charger", charge_point_id, published)
    other = await create_tariff(client, operator, energy_tariff("0.5"))
    second = await assign(client, operator, "charger", charge_point_id, other)
    assert first["tariff_id"] == published and second["tariff_id"] == other
    listed = await client.get(
        "/api/v1/tariff-assignments", params={"scope": "charger"}, headers=operator.headers
    )
    mine = [a for a in listed.json()["items"] if a["target"] == charge_point_id]
    assert [a["tariff_id"] for a in mine] == [other]


async def test_publishing_and_assigning_request_price_display_pushes(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"]
    charge_point_id, _ = await register_charger(client, operator)
    tariff = await create_tariff(client, operator, publish=False)
    pushes_url = f"/api/v1/tariffs/{tariff}/pushes"
    assert (await client.get(pushes_url, headers=operator.headers)).json()["items"] == []

    await client.post(f"/api/v1/tariffs/{tariff}/publish", headers=operator.headers)
    await assign(client, operator, "charger", charge_point_id, tariff)
    (push,) = (await client.get(pushes_url, headers=accounts["monitor"].headers)).json()["items"]
    assert push["charge_point_id"] == charge_point_id
    assert (push["tariff_id"], push["tariff_version"]) == (tariff, 1)
    # pending, and the charger is not connected: shown offline (pushed when it connects)
    assert push["stored_status"] == "pending" and push["connected"] is False
    assert push["status"] == "offline" and push["attempts"] == 0

    # a new version published: the push follows it
    await client.put(
        f"/api/v1/tariffs/{tariff}",
        json={"definition": energy_tariff("0.9")},
        headers=operator.headers,
    )
    await client.post(f"/api/v1/tariffs/{tariff}/publish", headers=operator.headers)
    (push,) = (await client.get(pushes_url, headers=operator.headers)).json()["items"]
    assert push["tariff_version"] == 2 and push["stored_status"] == "pending"

    # unassigned: the display is cleared (a push of no tariff), no longer this tariff's
    await unassign(client, operator, "charger", charge_point_id)
    assert (await client.get(pushes_url, headers=operator.headers)).json()["items"] == []
