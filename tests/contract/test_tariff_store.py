"""TariffStore: sites, tariffs and their versions, assignments, and what applies to a charger
(tariff pushes: test_tariff_push_store.py)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from contract_helpers import Backend, at, definition, named, site, unique

from csms.domain.sites import Applicable, Scope
from csms.domain.tariff_catalog import Resolved, TariffInfo, TariffVersion
from csms.errors import AlreadyExists, InvalidInput, NotFound


@pytest.fixture
async def clean_default(backend: Backend) -> AsyncIterator[None]:
    """No default assignment before and after the test: there is one for the whole
    database, which the run shares."""
    with contextlib.suppress(NotFound):
        await backend.stores.tariffs.unassign(Scope.DEFAULT, "")
    yield
    with contextlib.suppress(NotFound):
        await backend.stores.tariffs.unassign(Scope.DEFAULT, "")


async def new_tariff(
    backend: Backend, tariff_id: str | None = None, *, published: bool = False
) -> str:
    """A tariff (a fresh id unless given), its version 1 published or a draft; its id."""
    tariff_id = tariff_id or unique("T")
    await backend.stores.tariffs.add_tariff(
        tariff_id, description="", definition=definition(), currency="EUR", created_by=None
    )
    if published:
        await backend.stores.tariffs.publish(tariff_id, published_by=None, at=at(0))
    return tariff_id


async def charger_at(backend: Backend, site_id: str | None = None) -> str:
    """A charger at a new site (or at ``site_id``); its id."""
    cp = await backend.add_charger()
    if site_id is None:
        site_id = (await backend.stores.tariffs.add_site(site())).id
    await backend.stores.tariffs.set_charger_site(cp, site_id)
    return cp


# --- sites ----------------------------------------------------------------------------------


async def test_add_site_keeps_every_field(backend: Backend) -> None:
    wanted = site(
        name="Harbour",
        time_zone="Europe/Berlin",
        address="Kade 1",
        city="Hamburg",
        postal_code="20457",
        country="DEU",
        latitude=Decimal("53.5438"),
        longitude=Decimal("-9.98"),
    )
    added = await backend.stores.tariffs.add_site(wanted)
    assert added.created_at is not None
    assert dataclasses.replace(added, created_at=None) == wanted
    assert await backend.stores.tariffs.get_site(wanted.id) == added


async def test_add_site_keeps_coordinates_to_six_decimals(backend: Backend) -> None:
    """The schema's numeric(9, 6): rounded half away from zero."""
    added = await backend.stores.tariffs.add_site(
        site(latitude=Decimal("52.3702155"), longitude=Decimal("-4.8951685"))
    )
    assert (added.latitude, added.longitude) == (Decimal("52.370216"), Decimal("-4.895169"))
    assert await backend.stores.tariffs.get_site(added.id) == added


async def test_add_site_of_a_known_id_is_already_exists(backend: Backend) -> None:
    first = await backend.stores.tariffs.add_site(site(name="first"))
    with pytest.raises(AlreadyExists):
        await backend.stores.tariffs.add_site(site(first.id, name="second"))
    assert await backend.stores.tariffs.get_site(first.id) == first


async def test_get_site_of_an_unknown_id_is_none(backend: Backend) -> None:
    assert await backend.stores.tariffs.get_site(unique("S")) is None


async def test_list_sites_is_by_id(backend: Backend) -> None:
    prefix = unique("S")
    ids = [f"{prefix}-b", f"{prefix}-B", f"{prefix}-a", f"{prefix}-A1"]
    for site_id in ids:
        await backend.stores.tariffs.add_site(site(site_id))
    listed = [s.id for s in await backend.stores.tariffs.list_sites() if s.id.startswith(prefix)]
    assert listed == sorted(ids)  # byte order: upper case first


async def test_update_site_changes_the_fields_given(backend: Backend) -> None:
    added = await backend.stores.tariffs.add_site(site(city="Utrecht", country="NLD"))
    updated = await backend.stores.tariffs.update_site(
        added.id, name="Moved", city="Delft", latitude=Decimal("52.011577")
    )
    assert updated == dataclasses.replace(
        added, name="Moved", city="Delft", latitude=Decimal("52.011577")
    )
    assert await backend.stores.tariffs.get_site(added.id) == updated


async def test_update_site_with_nothing_to_change_returns_the_site(backend: Backend) -> None:
    added = await backend.stores.tariffs.add_site(site())
    assert await backend.stores.tariffs.update_site(added.id) == added


@pytest.mark.parametrize("changes", [{"name": "x"}, {}])
async def test_update_site_of_an_unknown_site_is_not_found(
    backend: Backend, changes: dict[str, str]
) -> None:
    with pytest.raises(NotFound):
        await backend.stores.tariffs.update_site(unique("S"), **changes)


@pytest.mark.parametrize("field", ["id", "created_at", "updated_at", "unknown"])
async def test_update_site_of_other_fields_is_refused(backend: Backend, field: str) -> None:
    added = await backend.stores.tariffs.add_site(site())
    with pytest.raises(ValueError):
        await backend.stores.tariffs.update_site(added.id, **{field: None})
    assert await backend.stores.tariffs.get_site(added.id) == added


async def test_remove_site_leaves_its_chargers_without_a_site(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    removed, kept = await tariffs.add_site(site()), await tariffs.add_site(site())
    moved, other = await charger_at(backend, removed.id), await charger_at(backend, kept.id)
    await tariffs.remove_site(removed.id)
    assert await tariffs.get_site(removed.id) is None
    assert removed.id not in {s.id for s in await tariffs.list_sites()}
    assert await tariffs.site_of(moved) is None
    assert await tariffs.site_of(other) == kept
    sites = await tariffs.charger_sites()
    assert (sites[moved], sites[other]) == (None, kept.id)
    assert await backend.stores.chargers.get(moved) is not None


async def test_what_is_assigned_to_a_site_or_charger_goes_with_it(backend: Backend) -> None:
    """A site or charger created later under the same id starts with nothing assigned."""
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    gone_site, cp = await tariffs.add_site(site()), await backend.add_charger()
    await tariffs.assign(Scope.SITE, gone_site.id, tariff_id, created_by=None)
    await tariffs.assign(Scope.CHARGER, cp, tariff_id, created_by=None)
    await tariffs.remove_site(gone_site.id)
    await backend.stores.chargers.remove(cp)
    left = {(a.scope, a.target) for a in await tariffs.list_assignments()}
    assert (Scope.SITE, gone_site.id) not in left
    assert (Scope.CHARGER, cp) not in left


@pytest.mark.usefixtures("clean_default")
async def test_display_assignments_are_those_that_concern_the_chargers(backend: Backend) -> None:
    """What decides a display tariff for chargers back on line: the default, their own and
    their sites' assignments, never a group's nor another charger's or site's."""
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    mine, theirs = await tariffs.add_site(site()), await tariffs.add_site(site())
    cp, other = await charger_at(backend, mine.id), await charger_at(backend, theirs.id)
    assignments = [
        (Scope.CHARGER, cp), (Scope.CHARGER, other), (Scope.SITE, mine.id),
        (Scope.SITE, theirs.id), (Scope.GROUP, unique("g").lower()), (Scope.DEFAULT, ""),
    ]  # fmt: skip
    for scope, target in assignments:
        await tariffs.assign(scope, target, tariff_id, created_by=None)
    found = await tariffs.display_assignments([cp], [mine.id])
    assert {(a.scope, a.target) for a in found} == {
        (Scope.CHARGER, cp), (Scope.SITE, mine.id), (Scope.DEFAULT, ""),
    }  # fmt: skip
    assert all(a.tariff_id == tariff_id for a in found)
    # in list_assignments' order, and the same records
    listed = [a for a in await tariffs.list_assignments() if a in found]
    assert found == listed
    assert await tariffs.display_assignments([], []) == [
        a for a in found if a.scope is Scope.DEFAULT
    ]


async def test_remove_site_of_an_unknown_site_is_not_found(backend: Backend) -> None:
    added = await backend.stores.tariffs.add_site(site())
    await backend.stores.tariffs.remove_site(added.id)
    with pytest.raises(NotFound):
        await backend.stores.tariffs.remove_site(added.id)


async def test_set_charger_site_moves_and_clears(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    first, second = await tariffs.add_site(site()), await tariffs.add_site(site())
    cp = await charger_at(backend, first.id)
    assert await tariffs.site_of(cp) == first
    await tariffs.set_charger_site(cp, second.id)
    assert await tariffs.site_of(cp) == second
    assert (await tariffs.charger_sites())[cp] == second.id
    await tariffs.set_charger_site(cp, None)
    assert await tariffs.site_of(cp) is None
    assert (await tariffs.charger_sites())[cp] is None


async def test_set_charger_site_of_an_unregistered_charger_is_not_found(
    backend: Backend,
) -> None:
    added = await backend.stores.tariffs.add_site(site())
    for site_id in (added.id, None):
        with pytest.raises(NotFound):
            await backend.stores.tariffs.set_charger_site(unique("CT"), site_id)


async def test_set_charger_site_to_an_unknown_site_is_not_found(backend: Backend) -> None:
    added = await backend.stores.tariffs.add_site(site())
    cp = await charger_at(backend, added.id)
    with pytest.raises(NotFound):
        await backend.stores.tariffs.set_charger_site(cp, unique("S"))
    assert await backend.stores.tariffs.site_of(cp) == added


async def test_site_of_a_charger_without_a_site_or_unregistered_is_none(
    backend: Backend,
) -> None:
    cp = await backend.add_charger()
    assert await backend.stores.tariffs.site_of(cp) is None
    assert await backend.stores.tariffs.site_of(unique("CT")) is None


async def test_charger_sites_has_every_registered_charger(backend: Backend) -> None:
    at_site = await charger_at(backend)
    nowhere, removed = await backend.add_charger(), await charger_at(backend)
    await backend.stores.chargers.remove(removed)
    sites = await backend.stores.tariffs.charger_sites()
    site_of = await backend.stores.tariffs.site_of(at_site)
    assert site_of is not None
    assert (sites[at_site], sites[nowhere]) == (site_of.id, None)
    assert removed not in sites


# --- tariffs and versions -------------------------------------------------------------------


async def test_add_tariff_makes_version_1_a_draft(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = unique("T")
    added = await tariffs.add_tariff(
        tariff_id,
        description="Standard",
        definition=definition("0.25"),
        currency="EUR",
        created_by="alice",
    )
    assert dataclasses.replace(added, created_at=at(0)) == TariffVersion(
        tariff_id, 1, definition("0.25"), "EUR", at(0), "alice", None, None
    )
    assert not added.published
    assert await tariffs.get_version(tariff_id, 1) == added
    assert await tariffs.list_versions(tariff_id) == [added]
    assert await tariffs.current_version(tariff_id) is None
    (info,) = [t for t in await tariffs.list_tariffs() if t.id == tariff_id]
    assert dataclasses.replace(info, created_at=at(0)) == TariffInfo(
        tariff_id, "Standard", at(0), 1, None
    )


async def test_add_tariff_of_a_known_id_is_already_exists(backend: Backend) -> None:
    tariff_id = await new_tariff(backend)
    before = await backend.stores.tariffs.list_versions(tariff_id)
    with pytest.raises(AlreadyExists):
        await backend.stores.tariffs.add_tariff(
            tariff_id, description="", definition=definition("9"), currency="USD", created_by=None
        )
    assert await backend.stores.tariffs.list_versions(tariff_id) == before


async def test_save_draft_replaces_the_draft(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    saved = await tariffs.save_draft(
        tariff_id, definition=definition("0.40"), currency="CHF", created_by="bob"
    )
    assert (saved.version, saved.definition, saved.currency, saved.created_by) == (
        1,
        definition("0.40"),
        "CHF",
        "bob",
    )
    assert not saved.published
    assert await tariffs.list_versions(tariff_id) == [saved]


async def test_save_draft_changes_the_description_only_when_given(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    await tariffs.save_draft(
        tariff_id, definition=definition(), currency="EUR", created_by=None, description="New"
    )
    await tariffs.save_draft(tariff_id, definition=definition(), currency="EUR", created_by=None)
    (info,) = [t for t in await tariffs.list_tariffs() if t.id == tariff_id]
    assert info.description == "New"


async def test_save_draft_of_an_unknown_tariff_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.stores.tariffs.save_draft(
            unique("T"), definition=definition(), currency="EUR", created_by=None
        )


async def test_publish_makes_the_draft_the_current_version(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    draft = await tariffs.get_version(tariff_id, 1)
    assert draft is not None
    published = await tariffs.publish(tariff_id, published_by="carol", at=at(5))
    assert published == dataclasses.replace(draft, published_at=at(5), published_by="carol")
    assert published.published
    assert await tariffs.current_version(tariff_id) == published
    assert await tariffs.get_version(tariff_id, 1) == published
    (info,) = [t for t in await tariffs.list_tariffs() if t.id == tariff_id]
    assert (info.latest_version, info.published_version) == (1, 1)


async def test_publish_of_an_unknown_tariff_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.stores.tariffs.publish(unique("T"), published_by=None, at=at(0))


async def test_publish_without_a_draft_is_invalid(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    before = await tariffs.list_versions(tariff_id)
    with pytest.raises(InvalidInput):
        await tariffs.publish(tariff_id, published_by=None, at=at(9))
    assert await tariffs.list_versions(tariff_id) == before


async def test_save_draft_after_publishing_starts_the_next_version(backend: Backend) -> None:
    """A published version never changes: a session priced with it is priced again the
    same way."""
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    published = await tariffs.get_version(tariff_id, 1)
    draft = await tariffs.save_draft(
        tariff_id, definition=definition("0.50"), currency="EUR", created_by="dave"
    )
    assert (draft.version, draft.definition, draft.published) == (2, definition("0.50"), False)
    again = await tariffs.save_draft(
        tariff_id, definition=definition("0.55"), currency="EUR", created_by="dave"
    )
    assert (again.version, again.definition) == (2, definition("0.55"))
    assert await tariffs.get_version(tariff_id, 1) == published
    assert await tariffs.current_version(tariff_id) == published
    assert await tariffs.list_versions(tariff_id) == [published, again]
    (info,) = [t for t in await tariffs.list_tariffs() if t.id == tariff_id]
    assert (info.latest_version, info.published_version) == (2, 1)


async def test_current_version_is_the_latest_published(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    await tariffs.save_draft(tariff_id, definition=definition("1"), currency="EUR", created_by=None)
    second = await tariffs.publish(tariff_id, published_by=None, at=at(1))
    await tariffs.save_draft(tariff_id, definition=definition("2"), currency="EUR", created_by=None)
    assert second.version == 2
    assert await tariffs.current_version(tariff_id) == second
    assert [v.version for v in await tariffs.list_versions(tariff_id)] == [1, 2, 3]
    (info,) = [t for t in await tariffs.list_tariffs() if t.id == tariff_id]
    assert (info.latest_version, info.published_version) == (3, 2)


async def test_versions_of_an_unknown_tariff_are_none(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    assert await tariffs.get_version(tariff_id, 2) is None
    assert await tariffs.get_version(unique("T"), 1) is None
    assert await tariffs.current_version(unique("T")) is None
    assert await tariffs.list_versions(unique("T")) == []


async def test_list_tariffs_is_by_id(backend: Backend) -> None:
    prefix = unique("T")
    ids = [f"{prefix}-b", f"{prefix}-B", f"{prefix}-a"]
    for tariff_id in ids:
        await new_tariff(backend, tariff_id)
    listed = [t.id for t in await backend.stores.tariffs.list_tariffs() if t.id.startswith(prefix)]
    assert listed == sorted(ids)


async def test_remove_tariff_removes_its_versions_and_assignments(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    await tariffs.save_draft(tariff_id, definition=definition(), currency="EUR", created_by=None)
    kept = await new_tariff(backend)
    group = unique("g").lower()
    await tariffs.assign(Scope.GROUP, group, tariff_id, created_by=None)
    await tariffs.assign(Scope.GROUP, f"{group}-kept", kept, created_by=None)
    await tariffs.remove_tariff(tariff_id)
    assert await tariffs.list_versions(tariff_id) == []
    assert await tariffs.current_version(tariff_id) is None
    assert tariff_id not in {t.id for t in await tariffs.list_tariffs()}
    assigned = {(a.target, a.tariff_id) for a in await tariffs.list_assignments()}
    assert (group, tariff_id) not in assigned
    assert (f"{group}-kept", kept) in assigned
    with pytest.raises(NotFound):
        await tariffs.remove_tariff(tariff_id)


async def test_remove_tariff_that_priced_a_session_is_invalid(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend, published=True)
    pk = await named(backend)
    await backend.stores.pricing.set_tariff(
        pk, tariff_id=tariff_id, tariff_version=1, currency="EUR"
    )
    with pytest.raises(InvalidInput):
        await tariffs.remove_tariff(tariff_id)
    assert [v.version for v in await tariffs.list_versions(tariff_id)] == [1]
    assert tariff_id in {t.id for t in await tariffs.list_tariffs()}


async def test_remove_tariff_once_its_priced_sessions_are_gone(backend: Backend) -> None:
    """Removing a charger removes its sessions: nothing priced with the tariff is left."""
    tariff_id = await new_tariff(backend, published=True)
    cp = await backend.add_charger()
    pk = await named(backend, cp)
    await backend.stores.pricing.set_tariff(
        pk, tariff_id=tariff_id, tariff_version=1, currency="EUR"
    )
    await backend.stores.chargers.remove(cp)
    await backend.stores.tariffs.remove_tariff(tariff_id)
    assert await backend.stores.tariffs.list_versions(tariff_id) == []


# --- assignments ----------------------------------------------------------------------------


async def test_assign_records_who_assigned_what_where(backend: Backend) -> None:
    tariff_id = await new_tariff(backend)
    cp = unique("CT")
    made = await backend.stores.tariffs.assign(Scope.CHARGER, cp, tariff_id, created_by="erin")
    assert made.created_at is not None
    assert (made.scope, made.target, made.tariff_id, made.created_by) == (
        Scope.CHARGER,
        cp,
        tariff_id,
        "erin",
    )
    assert made in await backend.stores.tariffs.list_assignments()


async def test_assign_replaces_what_was_assigned_there(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    first, second = await new_tariff(backend), await new_tariff(backend)
    target = unique("S")
    await tariffs.assign(Scope.SITE, target, first, created_by="a")
    replaced = await tariffs.assign(Scope.SITE, target, second, created_by="b")
    found = [a for a in await tariffs.list_assignments() if a.target == target]
    assert found == [replaced]
    assert (replaced.tariff_id, replaced.created_by) == (second, "b")


async def test_assign_of_an_unknown_tariff_is_not_found(backend: Backend) -> None:
    target = unique("S")
    with pytest.raises(NotFound):
        await backend.stores.tariffs.assign(Scope.SITE, target, unique("T"), created_by=None)
    assert target not in {a.target for a in await backend.stores.tariffs.list_assignments()}


async def test_unassign_removes_the_assignment(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    group = unique("g").lower()
    await tariffs.assign(Scope.GROUP, group, tariff_id, created_by=None)
    await tariffs.assign(Scope.CHARGER, group, tariff_id, created_by=None)
    await tariffs.unassign(Scope.GROUP, group)
    found = [a for a in await tariffs.list_assignments() if a.target == group]
    assert [a.scope for a in found] == [Scope.CHARGER]
    with pytest.raises(NotFound):
        await tariffs.unassign(Scope.GROUP, group)


async def test_unassign_of_nothing_assigned_is_not_found(
    backend: Backend, clean_default: None
) -> None:
    for scope, target in [(Scope.SITE, unique("S")), (Scope.DEFAULT, "")]:
        with pytest.raises(NotFound):
            await backend.stores.tariffs.unassign(scope, target)


async def test_list_assignments_is_by_scope_then_target(
    backend: Backend, clean_default: None
) -> None:
    """Scopes by name (charger, default, group, site), targets in byte order."""
    tariffs = backend.stores.tariffs
    tariff_id = await new_tariff(backend)
    prefix = unique("x")
    made = [
        (Scope.SITE, f"{prefix}-b"),
        (Scope.GROUP, f"{prefix}-b"),
        (Scope.DEFAULT, ""),
        (Scope.SITE, f"{prefix}-B"),
        (Scope.CHARGER, f"{prefix}-a"),
        (Scope.GROUP, f"{prefix}-a"),
    ]
    for scope, target in made:
        await tariffs.assign(scope, target, tariff_id, created_by=None)
    listed = [(a.scope, a.target) for a in await tariffs.list_assignments()]
    assert [key for key in listed if key in made] == [
        (Scope.CHARGER, f"{prefix}-a"),
        (Scope.DEFAULT, ""),
        (Scope.GROUP, f"{prefix}-a"),
        (Scope.GROUP, f"{prefix}-b"),
        (Scope.SITE, f"{prefix}-B"),
        (Scope.SITE, f"{prefix}-b"),
    ]


# --- resolve --------------------------------------------------------------------------------


async def test_resolve_takes_the_most_specific_assignment(
    backend: Backend, clean_default: None
) -> None:
    """A group of the driver's token (in the order given) > the charger > its site > the
    default."""
    tariffs = backend.stores.tariffs
    cp = await charger_at(backend)
    charger_site = await tariffs.site_of(cp)
    assert charger_site is not None
    group_1, group_2 = unique("g1").lower(), unique("g2").lower()
    assigned = {
        (Scope.GROUP, group_1): await new_tariff(backend, published=True),
        (Scope.GROUP, group_2): await new_tariff(backend, published=True),
        (Scope.CHARGER, cp): await new_tariff(backend, published=True),
        (Scope.SITE, charger_site.id): await new_tariff(backend, published=True),
        (Scope.DEFAULT, ""): await new_tariff(backend, published=True),
    }
    for (scope, target), tariff_id in assigned.items():
        await tariffs.assign(scope, target, tariff_id, created_by=None)

    async def applies(groups: list[str]) -> tuple[Scope, str] | None:
        resolved = await tariffs.resolve(cp, groups)
        if resolved.applicable is None:
            assert resolved.version is None
            return None
        key = (resolved.applicable.scope, resolved.applicable.target)
        assert resolved.applicable.tariff_id == assigned[key]
        assert resolved.version == await tariffs.current_version(assigned[key])
        return key

    assert await applies([group_1, group_2]) == (Scope.GROUP, group_1)
    assert await applies([group_2, group_1]) == (Scope.GROUP, group_2)
    assert await applies([unique("g"), group_2]) == (Scope.GROUP, group_2)
    assert await applies([unique("g")]) == (Scope.CHARGER, cp)
    await tariffs.unassign(Scope.CHARGER, cp)
    assert await applies([]) == (Scope.SITE, charger_site.id)
    await tariffs.set_charger_site(cp, None)
    assert await applies([]) == (Scope.DEFAULT, "")
    await tariffs.unassign(Scope.DEFAULT, "")
    assert await applies([]) is None
    assert await applies([group_2]) == (Scope.GROUP, group_2)


async def test_resolve_gives_the_chargers_site(backend: Backend, clean_default: None) -> None:
    cp = await charger_at(backend)
    charger_site = await backend.stores.tariffs.site_of(cp)
    assert await backend.stores.tariffs.resolve(cp, []) == Resolved(charger_site, None, None)
    nowhere = await backend.add_charger()
    assert await backend.stores.tariffs.resolve(nowhere, []) == Resolved(None, None, None)


async def test_resolve_gives_the_latest_published_version(backend: Backend) -> None:
    tariffs = backend.stores.tariffs
    cp = await backend.add_charger()
    tariff_id = await new_tariff(backend, published=True)
    await tariffs.save_draft(tariff_id, definition=definition("2"), currency="EUR", created_by=None)
    second = await tariffs.publish(tariff_id, published_by=None, at=at(2))
    await tariffs.save_draft(tariff_id, definition=definition("3"), currency="EUR", created_by=None)
    await tariffs.assign(Scope.CHARGER, cp, tariff_id, created_by=None)
    resolved = await tariffs.resolve(cp, [])
    assert resolved == Resolved(None, Applicable(tariff_id, Scope.CHARGER, cp), second)


async def test_resolve_of_a_tariff_never_published_has_no_version(backend: Backend) -> None:
    """The assignment applies (it is not skipped for a less specific one) but nothing can
    price the session yet."""
    tariffs = backend.stores.tariffs
    cp = await charger_at(backend)
    charger_site = await tariffs.site_of(cp)
    assert charger_site is not None
    draft_only = await new_tariff(backend)
    await tariffs.assign(Scope.CHARGER, cp, draft_only, created_by=None)
    await tariffs.assign(
        Scope.SITE, charger_site.id, await new_tariff(backend, published=True), created_by=None
    )
    resolved = await tariffs.resolve(cp, [])
    assert resolved == Resolved(charger_site, Applicable(draft_only, Scope.CHARGER, cp), None)


async def test_resolve_of_an_unregistered_charger(backend: Backend, clean_default: None) -> None:
    """No site; assignments to its id or to the driver's groups still apply."""
    tariffs = backend.stores.tariffs
    cp, group = unique("CT"), unique("g").lower()
    assert await tariffs.resolve(cp, [group]) == Resolved(None, None, None)
    tariff_id = await new_tariff(backend, published=True)
    version = await tariffs.current_version(tariff_id)
    await tariffs.assign(Scope.GROUP, group, tariff_id, created_by=None)
    resolved = await tariffs.resolve(cp, [group])
    assert resolved == Resolved(None, Applicable(tariff_id, Scope.GROUP, group), version)


async def test_resolve_ignores_assignments_to_other_places(
    backend: Backend, clean_default: None
) -> None:
    tariffs = backend.stores.tariffs
    cp, other = await charger_at(backend), await charger_at(backend)
    other_site = await tariffs.site_of(other)
    assert other_site is not None
    tariff_id = await new_tariff(backend, published=True)
    await tariffs.assign(Scope.CHARGER, other, tariff_id, created_by=None)
    await tariffs.assign(Scope.SITE, other_site.id, tariff_id, created_by=None)
    await tariffs.assign(Scope.GROUP, unique("g").lower(), tariff_id, created_by=None)
    assert (await tariffs.resolve(cp, [unique("g").lower()])).applicable is None
