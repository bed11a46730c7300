"""ConfigStore and LogStore, and the configuration history ReportStore keeps: the rules of
each docstring, on PostgreSQL and in memory. OCPP: B07.FR.10 (a report in parts numbered
from 0, the last with tbc false), 1.6 GetConfiguration unknownKey, N01.FR.07 (log statuses
by requestId)."""

from __future__ import annotations

import pytest
from contract_helpers import NOW, OCPP16, OCPP201, Backend, at, unique

from csms.domain.charger_logs import token_hash
from csms.domain.fleet_config import (
    OFFLINE,
    PENDING,
    REBOOT_REQUIRED,
    SUPERSEDED,
    Reported,
    SettingId,
    parse_profile,
)
from csms.domain.reports import VariableRow
from csms.errors import AlreadyExists, NotFound


def spec(profile_id: str, **fields: object) -> object:
    data = {"id": profile_id, "ocpp_version": "1.6", "settings": {"HeartbeatInterval": 60}}
    return parse_profile({**data, **fields})


def row(
    variable: str, value: str | None, *, evse: int = -1, mutability: str | None = None
) -> VariableRow:
    return VariableRow(
        "OCPPCommCtrlr", "", evse, -1, variable, "", "Actual", value, mutability, None
    )


# -- profiles ----------------------------------------------------------------------------------


async def test_profiles_are_added_once_listed_by_id_updated_and_removed(backend: Backend) -> None:
    config = backend.stores.config
    first, second = unique("pb"), unique("pa")
    added = await config.add_profile(spec(first, priority=3, selector={"model": "W"}), by="alice")
    assert (added.priority, added.selector.models, added.created_by) == (3, ("W",), "alice")
    with pytest.raises(AlreadyExists):
        await config.add_profile(spec(first), by="bob")
    await config.add_profile(spec(second), by=None)
    ids = [p.id for p in await config.list_profiles()]
    assert ids.index(second) < ids.index(first)  # by id
    updated = await config.update_profile(spec(first, settings={"A": "1"}), by="bob")
    assert (updated.created_by, updated.updated_by) == ("alice", "bob")
    assert [(d.setting.key, d.value) for d in updated.settings] == [("A", "1")]
    assert await config.get_profile(first) == updated
    await config.remove_profile(first)
    assert await config.get_profile(first) is None
    with pytest.raises(NotFound):
        await config.remove_profile(first)
    with pytest.raises(NotFound):
        await config.update_profile(spec(first), by=None)


# -- facts and reported values ----------------------------------------------------------------


async def test_a_chargers_version_is_its_pin_else_the_one_it_booted_with(backend: Backend) -> None:
    pinned = await backend.add_charger(ocpp_version=OCPP201)
    booted = await backend.add_charger()
    never = await backend.add_charger()
    await backend.stores.config.set_protocol(booted, OCPP16)
    found = {
        f.charge_point_id: f
        for f in await backend.stores.config.charger_facts([pinned, booted, never])
    }
    assert [found[cp].ocpp_version for cp in (pinned, booted, never)] == ["2.0.1", "1.6", None]
    assert not found[booted].connected


async def test_reported_values_of_both_versions(backend: Backend) -> None:
    reports = backend.stores.reports
    cp16, cp201, silent = [await backend.add_charger() for _ in range(3)]
    await reports.upsert_configuration(
        cp16, [("HeartbeatInterval", "300", False), ("N", "2", True)]
    )
    await reports.upsert_variables(
        cp201, [row("HeartbeatInterval", "300", mutability="ReadWrite"), row("X", "1", evse=1)]
    )
    found = await backend.stores.config.reported([cp16, cp201, silent])
    assert found[cp16] == {
        SettingId("HeartbeatInterval"): Reported("300", False),
        SettingId("N"): Reported("2", True),
    }
    assert found[cp201] == {
        SettingId("OCPPCommCtrlr.HeartbeatInterval"): Reported("300", False),
        SettingId("OCPPCommCtrlr.X", 1): Reported("1", None),
    }
    assert silent not in found


# -- history -------------------------------------------------------------------------------------


async def test_history_keeps_changes_not_first_reports(backend: Backend) -> None:
    reports = backend.stores.reports
    cp = await backend.add_charger()
    await reports.upsert_configuration(cp, [("A", "1", False), ("B", "1", False)])
    await reports.upsert_configuration(cp, [("A", "1", None)], by="boot")  # no change
    await reports.upsert_configuration(cp, [("A", "2", None)], source="applied", by="alice")
    await reports.upsert_configuration(cp, [("C", "5", None)], source="applied", by="alice")
    await reports.forget_configuration(cp, keeping=["A", "C"], by="boot")
    await reports.forget_keys(cp, ["C", "nope"], by="bob")
    history = await backend.stores.config.history(cp)
    assert [(h.setting, h.old_value, h.new_value, h.source, h.changed_by) for h in history] == [
        ("C", "5", None, "removed", "bob"),
        ("B", "1", None, "removed", "boot"),
        ("C", None, "5", "applied", "alice"),
        ("A", "1", "2", "applied", "alice"),
    ]
    assert [v.key for v in await reports.list_configuration(cp)] == ["A"]
    only = await backend.stores.config.history(cp, setting="A")
    assert [h.new_value for h in only] == ["2"]
    older = await backend.stores.config.history(cp, before_id=history[1].id, limit=1)
    assert older == [history[2]]


async def test_device_model_history_and_forgetting(backend: Backend) -> None:
    reports = backend.stores.reports
    cp = await backend.add_charger()
    await reports.upsert_variables(cp, [row("A", "1"), row("B", "1", evse=2)])
    await reports.upsert_variables(cp, [row("A", "9")], by="alice")
    await reports.forget_variables(cp, ["OCPPCommCtrlr.A"], by="boot")
    history = await backend.stores.config.history(cp)
    assert [(h.setting, h.old_value, h.new_value, h.source) for h in history] == [
        ("OCPPCommCtrlr@2.B", "1", None, "removed"),
        ("OCPPCommCtrlr.A", "1", "9", "reported"),
    ]
    assert [v.key for v in await reports.list_variables(cp)] == ["OCPPCommCtrlr.A"]


# -- reads and reports -----------------------------------------------------------------------------


async def test_a_report_completes_once_every_part_is_in(backend: Backend) -> None:
    config = backend.stores.config
    cp = await backend.add_charger()
    await config.report_requested(cp, 7, report_base="FullInventory", by="boot", at=at(0))
    assert await config.report_requester(cp, 7) == "boot"
    part = config.report_part
    assert await part(cp, 7, seq_no=2, last=True, settings=["c"], at=at(1)) is None
    assert await part(cp, 7, seq_no=0, last=False, settings=["a"], at=at(2)) is None
    assert await part(cp, 7, seq_no=0, last=False, settings=["a"], at=at(3)) is None  # again
    done = await part(cp, 7, seq_no=1, last=False, settings=["b"], at=at(4))
    assert done is not None and done[0] == "FullInventory" and sorted(done[1]) == ["a", "b", "c"]
    assert await part(cp, 7, seq_no=1, last=False, settings=["b"], at=at(5)) is None  # once
    # a report the CSMS did not ask for is assembled too, without a base
    assert await part(cp, 8, seq_no=0, last=True, settings=[], at=at(6)) == (None, [])


async def test_read_status_follows_the_read_asked_last(backend: Backend) -> None:
    config = backend.stores.config
    cp = await backend.add_charger()
    assert await config.refresh_status(cp, "Complete", "", at=at(0)) is False  # never asked
    await config.refresh_requested(cp, request_id=5, by="alice", at=at(1))
    assert not await config.refresh_status(cp, "Complete", "", at=at(2), request_id=4)
    assert await config.refresh_status(cp, "Complete", "", at=at(3), request_id=5)
    assert not await config.refresh_status(
        cp, "Accepted", "", at=at(4), request_id=5, from_status="Requested"
    )
    state = await config.refresh_state(cp)
    assert state is not None
    assert (state.refresh_status, state.refresh_requested_by, state.refreshed_at) == (
        "Complete",
        "alice",
        at(3),
    )


# -- applies ------------------------------------------------------------------------------------


async def test_an_apply_and_its_items(backend: Backend) -> None:
    config = backend.stores.config
    profile_id = unique("p")
    await config.add_profile(spec(profile_id), by="alice")
    a, b = await backend.add_charger(), await backend.add_charger()
    first = await config.create_apply(
        profile_id,
        reason="operator",
        by="alice",
        items=[
            (a, "H", "60", PENDING, ""),
            (b, "H", "60", PENDING, ""),
            (b, "N", "1", "NotSupported", "ro"),
        ],
        at=at(0),
    )
    await config.record_outcomes(first, a, [("H", "Accepted", "")], at=at(1))
    await config.record_outcomes(first, b, [("H", OFFLINE, "later")], at=at(1))
    await config.record_outcomes(first, b, [("N", "Accepted", "")], at=at(1))  # not waiting
    assert [i.charge_point_id for i in await config.waiting_items(b)] == [b]
    assert b in await config.chargers_waiting() and a not in await config.chargers_waiting()
    applied = await config.get_apply(first)
    assert applied is not None and applied.outcomes == {
        "Accepted": 1,
        OFFLINE: 1,
        "NotSupported": 1,
    }
    # a later apply decides b's H now: the waiting item is superseded
    second = await config.create_apply(
        profile_id, reason="boot", by=None, items=[(b, "H", "90", PENDING, "")], at=at(2)
    )
    [old] = await config.apply_items(first, charge_point_id=b, outcomes=[SUPERSEDED])
    assert old.setting == "H" and old.detail == f"apply {second} decides it now"
    assert [(i.apply_id, i.value) for i in await config.waiting_items(b)] == [(second, "90")]
    assert (await config.latest_outcomes([a, b]))[b] == {"H": PENDING, "N": "NotSupported"}
    await config.finish_apply(second, at(3))
    await config.finish_apply(second, at(4))
    done = await config.get_apply(second)
    assert done is not None and done.finished_at == at(3)
    assert [x.id for x in await config.list_applies(profile_id=profile_id)] == [second, first]


async def test_reboot_required_is_done_once_marked(backend: Backend) -> None:
    config = backend.stores.config
    profile_id = unique("p")
    await config.add_profile(spec(profile_id), by=None)
    cp = await backend.add_charger()
    apply_id = await config.create_apply(
        profile_id, reason="operator", by=None, items=[(cp, "H", "60", PENDING, "")], at=at(0)
    )
    await config.record_outcomes(apply_id, cp, [("H", REBOOT_REQUIRED, "")], at=at(1))
    [pending] = await config.reboot_pending(cp)
    assert pending.rebooted_at is None
    await config.mark_rebooted(cp, [(apply_id, "H", "rebooted; in effect")], at(2))
    assert await config.reboot_pending(cp) == []
    [item] = await config.apply_items(apply_id)
    assert (item.rebooted_at, item.detail) == (at(2), "rebooted; in effect")
    assert (await config.latest_outcomes([cp]))[cp] == {"H": "RebootRequired (rebooted)"}


async def test_items_go_with_their_charger(backend: Backend) -> None:
    config = backend.stores.config
    profile_id = unique("p")
    await config.add_profile(spec(profile_id), by=None)
    cp = await backend.add_charger()
    apply_id = await config.create_apply(
        profile_id, reason="operator", by=None, items=[(cp, "H", "60", PENDING, "")], at=at(0)
    )
    await backend.stores.chargers.remove(cp)
    assert await config.apply_items(apply_id) == []


# -- log requests --------------------------------------------------------------------------------


async def test_log_statuses_by_request_id_and_for_1_6_diagnostics(backend: Backend) -> None:
    logs = backend.stores.logs
    cp = await backend.add_charger()

    async def create(action: str, request_id: int) -> int:
        made = await logs.create_request(
            cp,
            log_type="diagnostics",
            action=action,
            request_id=request_id,
            token_hash=token_hash(unique("t")),
            expires_at=at(100),
            oldest_at=None,
            latest_at=None,
            by="alice",
            at=NOW,
        )
        assert (made.status, made.requested_by, made.uploaded_at) == ("Requested", "alice", None)
        return made.id

    diagnostics = await create("GetDiagnostics", 11)
    log = await create("GetLog", 12)
    with pytest.raises(AlreadyExists):
        await create("GetLog", 12)  # one requestId per charger
    assert await logs.record_status(cp, "Uploading", request_id=12, at=at(1)) == log
    assert await logs.record_status(cp, "Uploading", request_id=None, at=at(2)) == diagnostics
    assert await logs.record_status(cp, "Uploaded", request_id=None, at=at(3)) == diagnostics
    # a final status closes it: a later DiagnosticsStatusNotification belongs to none
    assert await logs.record_status(cp, "Uploading", request_id=None, at=at(4)) is None
    assert await logs.record_status(cp, "Uploaded", request_id=99, at=at(5)) is None
    found = await logs.get_request(diagnostics)
    assert found is not None
    assert [s["status"] for s in found.statuses] == ["Requested", "Uploading", "Uploaded"]
    assert [r.id for r in await logs.list_requests(cp)] == [log, diagnostics]
    await logs.set_file_name(log, "x.log")
    await logs.remove_request(diagnostics)
    assert [(r.id, r.file_name) for r in await logs.list_requests(cp)] == [(log, "x.log")]
    remaining = await logs.get_request(log)
    assert remaining is not None and remaining.status == "Uploading"
