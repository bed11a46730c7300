"""The tariff catalogue's rules that span several stores (csms.services.tariffs), in memory:
which displays a change asks to push, a description without a version, a time zone that is a
directory."""

from __future__ import annotations

from typing import Any

import pytest

from csms.domain.clock import utc_now
from csms.domain.sites import Scope, Site, check_time_zone
from csms.errors import InvalidInput
from csms.services import Services
from csms.store.memory import MemoryStores

TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
}


async def world() -> Services:
    stores = MemoryStores()
    for cp in ("CP-1", "CP-2"):
        await stores.chargers.add(cp, password_hash=None)
    services = Services(stores, clock=utc_now)
    for tariff_id in ("DEFAULT", "CHARGER"):
        await services.tariffs.add(tariff_id, TARIFF, created_by="t")
        await services.tariffs.publish(tariff_id, published_by="t")
    await services.tariffs.assign(Scope.DEFAULT, "", "DEFAULT", created_by="t")
    await services.tariffs.assign(Scope.CHARGER, "CP-1", "CHARGER", created_by="t")
    return services


async def displays(services: Services) -> dict[str, tuple[str | None, int | None]]:
    return {
        p.charge_point_id: (p.tariff_id, p.tariff_version) for p in await services.tariffs.pushes()
    }


async def test_each_charger_is_pushed_its_display_tariff() -> None:
    services = await world()
    assert await displays(services) == {"CP-1": ("CHARGER", 1), "CP-2": ("DEFAULT", 1)}
    await services.tariffs.edit("DEFAULT", TARIFF, created_by="t")
    await services.tariffs.publish("DEFAULT", published_by="t")
    assert await displays(services) == {"CP-1": ("CHARGER", 1), "CP-2": ("DEFAULT", 2)}


async def test_deleting_a_charger_s_display_tariff_pushes_what_applies_now() -> None:
    services = await world()
    await services.tariffs.remove("CHARGER")
    assert await displays(services) == {"CP-1": ("DEFAULT", 1), "CP-2": ("DEFAULT", 1)}
    await services.tariffs.remove("DEFAULT")  # nothing applies any more: displays cleared
    assert await displays(services) == {"CP-1": (None, None), "CP-2": (None, None)}


async def test_a_site_tariff_follows_chargers_placed_there() -> None:
    services = await world()
    await services.tariffs.add_site(Site("S", "Depot", "Europe/Amsterdam"))
    await services.tariffs.add("SITE", TARIFF, created_by="t")
    await services.tariffs.publish("SITE", published_by="t")
    await services.tariffs.assign(Scope.SITE, "S", "SITE", created_by="t")
    await services.tariffs.place_chargers(["CP-1", "CP-2"], "S")
    assert await displays(services) == {"CP-1": ("CHARGER", 1), "CP-2": ("SITE", 1)}
    await services.tariffs.remove_site("S")  # its assignment goes with it
    assert await displays(services) == {"CP-1": ("CHARGER", 1), "CP-2": ("DEFAULT", 1)}


async def test_the_description_changes_without_a_version() -> None:
    services = await world()
    await services.tariffs.describe("DEFAULT", "Standard price")
    info = await services.tariffs.info("DEFAULT")
    assert (info.description, info.latest_version) == ("Standard price", 1)
    with pytest.raises(InvalidInput, match="description: at most 255"):
        await services.tariffs.describe("DEFAULT", "x" * 256)


@pytest.mark.parametrize("name", ["Europe", "Mars/Olympus", "../etc/passwd", ""])
def test_a_time_zone_that_is_not_one_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="is not an IANA time zone"):
        check_time_zone(name)


async def test_chargers_back_on_line_are_checked_against_what_concerns_them() -> None:
    """refresh_displays(only=...) (a boot batch) reads the default and the batch's own
    charger and site assignments: each charger gets the most specific one, and chargers
    outside the batch are left as they were."""
    services = await world()
    stores = services.stores
    await services.tariffs.add("SITE", TARIFF, created_by="t")
    await services.tariffs.publish("SITE", published_by="t")
    await services.tariffs.add_site(Site("S", "Depot", "Europe/Amsterdam"))
    await services.tariffs.assign(Scope.SITE, "S", "SITE", created_by="t")
    # registered and placed behind the service's back: nothing requested for them yet
    for cp in ("CP-3", "CP-4", "CP-5", "CP-6"):
        await stores.chargers.add(cp, password_hash=None)
    await stores.tariffs.set_charger_site("CP-3", "S")
    await stores.tariffs.set_charger_site("CP-4", "S")
    await stores.tariffs.assign(Scope.CHARGER, "CP-4", "CHARGER", created_by="t")
    before = await displays(services)
    assert not {"CP-3", "CP-4", "CP-5", "CP-6"} & before.keys()

    assert await services.tariffs.refresh_displays(["CP-3", "CP-4", "CP-5"]) == 3
    after = await displays(services)
    assert (after["CP-3"], after["CP-4"], after["CP-5"]) == (
        ("SITE", 1),  # its site's
        ("CHARGER", 1),  # its own beats its site's
        ("DEFAULT", 1),  # nothing closer
    )
    assert "CP-6" not in after  # not in the batch
    assert {cp: after[cp] for cp in before} == before
    assert await services.tariffs.refresh_displays(["CP-3", "CP-4", "CP-5"]) == 0  # up to date
