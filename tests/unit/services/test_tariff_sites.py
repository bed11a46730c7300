"""A site's fields are checked before it is stored (csms.services.tariffs), with the field
named: the CLI and the API show the message as it is."""

from __future__ import annotations

from decimal import Decimal

import pytest

from csms.domain.clock import utc_now
from csms.domain.sites import Site
from csms.errors import InvalidInput
from csms.services import Services
from csms.store.memory import MemoryStores


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latitude": Decimal("90.5")}, "latitude: between -90 and 90"),
        ({"longitude": Decimal("-181")}, "longitude: between -180 and 180"),
        ({"time_zone": "Mars/Olympus"}, "time_zone: 'Mars/Olympus' is not an IANA time zone"),
        ({"name": ""}, "name: 1-255 characters"),
    ],
)
async def test_a_site_is_refused_naming_the_field(changes: dict[str, object], message: str) -> None:
    services = Services(MemoryStores(), clock=utc_now)
    fields: dict[str, object] = {"name": "Depot", "time_zone": "Europe/Amsterdam"} | changes
    with pytest.raises(InvalidInput) as refused:
        await services.tariffs.add_site(Site("S-1", **fields))  # type: ignore[arg-type]
    assert str(refused.value) == message
    assert await services.tariffs.sites() == []
    added = await services.tariffs.add_site(
        Site("S-1", "Depot", "Europe/Amsterdam", latitude=Decimal(90), longitude=Decimal(-180))
    )
    assert (added.latitude, added.longitude) == (Decimal(90), Decimal(-180))
