"""Tariffs and pricing, differential: generated sequences of site, tariff, assignment, push
and pricing operations run on PostgreSQL and in memory side by side must return the same
(or fail the same way) and leave the same sites, versions, assignments, pushes and costs.

The stateful rules: drafts replaced until published, then a new version; publish only with
a draft; remove_tariff refused once a session was priced with it; assign replacing; resolve
picking the most specific assignment with its latest published version; a push request
replacing an older one, so that recording the older one's result changes nothing.

Ids are indices into names unique to the example (the database is shared). The default
assignment is one for the whole database: each example removes it at the end. Timestamps
the database sets (created_at, requested_at, updated_at) are left out; a push's
``requested_at`` is only used, on each side, to name the request recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from contract_helpers import (
    DIFFERENTIAL,
    OCPP201,
    REFUSED,
    Backend,
    MemoryBackend,
    PostgresBackend,
    at,
    definition,
    fields_of,
    site,
    unique,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csms.domain.sites import Scope
from csms.domain.tariff_catalog import PUSH_STATUSES
from csms.errors import AlreadyExists, InvalidInput, NotFound

pytestmark = pytest.mark.integration

CHARGER = st.integers(min_value=0, max_value=3)  # 3: never registered
SITE = st.integers(min_value=0, max_value=2)
TARIFF = st.integers(min_value=0, max_value=2)
TARGET = st.integers(min_value=0, max_value=2)  # a group, charger or site
VERSION = st.integers(min_value=1, max_value=3)
SCOPES = st.sampled_from(list(Scope))
PRICES = st.sampled_from(["0.25", "0.30", "0.45"])
COORDINATE = st.decimals(min_value=-90, max_value=90, places=7)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def op(name: str, *args: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.tuples(st.just(name), st.tuples(*args))


OPERATIONS = st.lists(
    st.one_of(
        op("add_site", SITE),
        op("update_site", SITE, maybe(COORDINATE)),
        op("remove_site", SITE),
        op("set_site", CHARGER, maybe(SITE)),
        op("remove_charger", CHARGER),
        op("site_of", CHARGER),
        op("add_tariff", TARIFF, PRICES),
        op("add_tariff", TARIFF, PRICES),
        op("save_draft", TARIFF, PRICES, maybe(st.sampled_from(["new", "newer"]))),
        op("save_draft", TARIFF, PRICES, st.none()),
        op("publish", TARIFF, st.integers(min_value=0, max_value=60)),
        op("publish", TARIFF, st.integers(min_value=0, max_value=60)),
        op("remove_tariff", TARIFF),
        op("price", TARIFF, VERSION),
        op("remove_sessions"),
        op("assign", SCOPES, TARGET, TARIFF),
        op("assign", SCOPES, TARGET, TARIFF),
        op("unassign", SCOPES, TARGET),
        op("resolve", CHARGER, st.lists(TARGET, max_size=3)),
        op("resolve", CHARGER, st.lists(TARGET, max_size=3)),
        op("request", st.lists(st.tuples(CHARGER, maybe(TARIFF), maybe(VERSION)), max_size=3)),
        op("record", CHARGER, st.booleans(), st.sampled_from(PUSH_STATUSES)),
        op("pending", st.lists(CHARGER, max_size=4), st.booleans()),
        op("pushes", maybe(TARIFF), maybe(CHARGER)),
    ),
    min_size=4,
    max_size=24,
)
Operation = tuple[str, Any]
# operations whose writes PostgreSQL refuses by a foreign key (an unknown tariff version,
# a push of an unknown tariff): the ports name no error for that (contract_helpers.REFUSED)
REFUSED_BY_THE_SCHEMA = {"price", "request"}


class Side:
    """One implementation running the program."""

    def __init__(self, backend: Backend, prefix: str) -> None:
        self.backend = backend
        self.tariffs = backend.stores.tariffs
        self.pricing = backend.stores.pricing
        self.prefix = prefix
        self.session_charger = f"{prefix}-cs"
        self.sessions = 0
        self.pks: list[int] = []
        self.requested: dict[str, list[Any]] = {}  # requested_at of each request, by charger

    def cp(self, index: int) -> str:
        return f"{self.prefix}-c{index}"

    def site(self, index: int) -> str:
        return f"{self.prefix}-s{index}"

    def tariff(self, index: int) -> str:
        return f"{self.prefix}-t{index}"

    def target(self, scope: Scope, index: int) -> str:
        if scope is Scope.GROUP:
            return f"{self.prefix}-g{index}".lower()
        if scope is Scope.CHARGER:
            return self.cp(index)
        return self.site(index) if scope is Scope.SITE else ""

    async def setup(self) -> None:
        """Chargers 0-2 (3 is never registered), sites 0 and 1 (charger 0 at site 0),
        tariffs 0 (version 1 published, assigned to site 0) and 1 (a draft), a push to
        chargers 0 and 1; site 2 and tariff 2 are not there until the program adds them."""
        for index in range(3):
            await self.backend.add_charger(self.cp(index))
        await self.backend.add_charger(self.session_charger)
        for index in range(2):
            await self.call("add_site", (index,))
            await self.call("add_tariff", (index, "0.20"))
        await self.call("set_site", (0, 0))
        await self.call("publish", (0, 0))
        await self.call("assign", (Scope.SITE, 0, 0))
        await self.call("request", ([(0, 0, 1), (1, None, None)],))

    async def run(self, name: str, args: Any) -> Any:
        """Carry out one operation; what it returned or how it failed, comparable."""
        try:
            return comparable(await self.call(name, args))
        except (*REFUSED, AlreadyExists, InvalidInput) as error:
            if name in REFUSED_BY_THE_SCHEMA and isinstance(error, REFUSED):
                return "refused"
            if isinstance(error, AlreadyExists | InvalidInput | NotFound | ValueError):
                return type(error).__name__
            raise

    async def call(self, name: str, args: Any) -> Any:
        tariffs = self.tariffs
        if name == "add_site":
            return await tariffs.add_site(site(self.site(args[0])))
        if name == "update_site":
            return await tariffs.update_site(self.site(args[0]), latitude=args[1])
        if name == "remove_site":
            return await tariffs.remove_site(self.site(args[0]))
        if name == "set_site":
            index, site_index = args
            site_id = None if site_index is None else self.site(site_index)
            return await tariffs.set_charger_site(self.cp(index), site_id)
        if name == "remove_charger":
            return await self.backend.stores.chargers.remove(self.cp(args[0]))
        if name == "remove_sessions":  # and with them what priced them
            await self.backend.stores.chargers.remove(self.session_charger)
            await self.backend.add_charger(self.session_charger)
            return None
        if name == "site_of":
            return await tariffs.site_of(self.cp(args[0]))
        if name == "add_tariff":
            index, price = args
            return await tariffs.add_tariff(
                self.tariff(index), description=price, definition=definition(price),
                currency="EUR", created_by="ops",
            )  # fmt: skip
        if name == "save_draft":
            index, price, description = args
            return await tariffs.save_draft(
                self.tariff(index), definition=definition(price), currency="EUR",
                created_by=price, description=description,
            )  # fmt: skip
        if name == "publish":
            index, second = args
            return await tariffs.publish(self.tariff(index), published_by="ops", at=at(second))
        if name == "remove_tariff":
            return await tariffs.remove_tariff(self.tariff(args[0]))
        if name == "price":
            return await self.price(*args)
        if name == "assign":
            scope, index, tariff = args
            return await tariffs.assign(
                scope, self.target(scope, index), self.tariff(tariff), created_by="ops"
            )
        if name == "unassign":
            scope, index = args
            return await tariffs.unassign(scope, self.target(scope, index))
        if name == "resolve":
            index, groups = args
            return await tariffs.resolve(
                self.cp(index), [self.target(Scope.GROUP, g) for g in groups]
            )
        if name == "request":
            return await self.request(args[0])
        if name == "record":
            return await self.record(*args)
        if name == "pending":
            indices, retry_failed = args
            return await tariffs.pending_pushes(
                [self.cp(i) for i in indices], retry_failed=retry_failed
            )
        if name == "pushes":
            tariff, index = args
            found = await tariffs.list_pushes(
                tariff_id=None if tariff is None else self.tariff(tariff),
                charge_point_id=None if index is None else self.cp(index),
            )
            return [p for p in found if p.charge_point_id.startswith(self.prefix)]
        raise AssertionError(name)

    async def price(self, tariff: int, version: int) -> Any:
        """A new session priced with the tariff's version, then again (False)."""
        self.sessions += 1
        session = await self.backend.stores.sessions.open_named(
            self.session_charger, f"TX-{self.sessions}", protocol=OCPP201, started_at=at(0),
            evse_id=1, connector_id=1,
        )  # fmt: skip
        self.pks.append(session.id)
        tariff_id = self.tariff(tariff)
        fixed = await self.pricing.set_tariff(
            session.id, tariff_id=tariff_id, tariff_version=version, currency="EUR"
        )
        again = await self.pricing.set_tariff(
            session.id, tariff_id=tariff_id, tariff_version=1, currency="CHF"
        )
        return fixed, again

    async def request(self, targets: Sequence[tuple[int, int | None, int | None]]) -> Any:
        self.backend.tick()
        await self.tariffs.request_pushes(
            [(self.cp(c), None if t is None else self.tariff(t), v) for c, t, v in targets]
        )
        for push in await self.tariffs.list_pushes():
            if push.charge_point_id.startswith(self.prefix):
                history = self.requested.setdefault(push.charge_point_id, [])
                if push.requested_at not in history:
                    history.append(push.requested_at)
        return None

    async def record(self, index: int, latest: bool, status: str) -> Any:
        """Record what became of the latest request to the charger, or of its first one."""
        history = self.requested.get(self.cp(index))
        if not history:
            return "no request"
        requested_at = history[-1] if latest else history[0]
        return await self.tariffs.record_push(
            self.cp(index), requested_at=requested_at, status=status, detail=status
        )

    async def state(self) -> dict[str, Any]:
        """What is stored about the example's sites, chargers, tariffs, pushes, sessions."""
        tariffs = self.tariffs
        mine = self.prefix
        assigned = [
            a for a in await tariffs.list_assignments()
            if a.target.startswith(mine.lower()) or a.target.startswith(mine)
            or a.tariff_id.startswith(mine)
        ]  # fmt: skip
        listed = [t for t in await tariffs.list_tariffs() if t.id.startswith(mine)]
        state: dict[str, Any] = comparable(
            {
                "sites": [s for s in await tariffs.list_sites() if s.id.startswith(mine)],
                "charger_sites": {
                    cp: site_id
                    for cp, site_id in (await tariffs.charger_sites()).items()
                    if cp.startswith(mine)
                },
                "tariffs": listed,
                "versions": [await tariffs.list_versions(t.id) for t in listed],
                "current": [await tariffs.current_version(t.id) for t in listed],
                "assignments": assigned,
                "pushes": [
                    p for p in await tariffs.list_pushes() if p.charge_point_id.startswith(mine)
                ],
                "costs": [await self.pricing.session_cost(pk) for pk in self.pks],
            }
        )
        return state


# timestamps the database sets itself, by record type
SET_BY_THE_STORE = {
    "Site": ("created_at",),
    "TariffVersion": ("created_at",),
    "TariffInfo": ("created_at",),
    "Assignment": ("created_at",),
    "TariffPush": ("requested_at", "updated_at"),
}


def comparable(value: Any) -> Any:
    """Records as dicts without the timestamps the store sets; containers recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        ignore = SET_BY_THE_STORE.get(type(value).__name__, ())
        fields = fields_of(value, ignore=ignore)
        return {type(value).__name__: {k: comparable(v) for k, v in fields.items()}}
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    return value


async def run_both(pool: asyncpg.Pool, operations: Sequence[Operation]) -> None:
    prefix = unique("TD")
    sides = [Side(PostgresBackend(pool), prefix), Side(MemoryBackend(), prefix)]
    try:
        for side in sides:
            await side.setup()
        for step, (name, args) in enumerate(operations):
            postgres, memory = [await side.run(name, args) for side in sides]
            assert postgres == memory, f"step {step}: {name}{args}"
        postgres_state, memory_state = [await side.state() for side in sides]
        assert postgres_state == memory_state
    finally:
        for side in sides:
            with contextlib.suppress(NotFound):
                await side.tariffs.unassign(Scope.DEFAULT, "")
        await sides[0].backend.settle()


# draft replaced, published, next version, priced (then not removable), pushes replaced
VERSIONS: list[Operation] = [
    ("add_tariff", (0, "0.25")),
    ("publish", (1, 0)),
    ("save_draft", (0, "0.30", "new")),
    ("publish", (0, 10)),
    ("publish", (0, 11)),
    ("save_draft", (0, "0.45", None)),
    ("save_draft", (0, "0.25", None)),
    ("price", (0, 2)),
    ("price", (0, 1)),
    ("remove_tariff", (0,)),
    ("request", ([(0, 0, 1), (3, 0, 1), (1, None, None)],)),
    ("request", ([(0, 0, 2)],)),
    ("record", (0, False, "accepted")),
    ("record", (0, True, "failed")),
    ("pending", ([0, 1, 2, 3], False)),
    ("pending", ([0, 1], True)),
]
# precedence: group in the order given > charger > site > default; a draft-only tariff
PRECEDENCE: list[Operation] = [
    ("add_site", (0,)),
    ("set_site", (0, 0)),
    ("add_tariff", (0, "0.25")),
    ("publish", (0, 0)),
    ("add_tariff", (1, "0.30")),
    ("assign", (Scope.DEFAULT, 0, 0)),
    ("assign", (Scope.SITE, 0, 1)),
    ("resolve", (0, [])),
    ("assign", (Scope.CHARGER, 0, 0)),
    ("assign", (Scope.GROUP, 2, 1)),
    ("assign", (Scope.GROUP, 1, 0)),
    ("resolve", (0, [2, 1])),
    ("resolve", (0, [1, 2])),
    ("resolve", (3, [0])),
    ("unassign", (Scope.CHARGER, 0)),
    ("remove_site", (0,)),
    ("resolve", (0, [0])),
    ("site_of", (0,)),
]


@settings(DIFFERENTIAL, max_examples=60)
@given(operations=OPERATIONS)
@example(operations=VERSIONS)
@example(operations=PRECEDENCE)
async def test_tariff_operations_leave_the_same_state(
    pool: asyncpg.Pool, operations: list[Operation]
) -> None:
    await run_both(pool, operations)
