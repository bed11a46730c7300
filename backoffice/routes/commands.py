"""Remote commands: sent to whichever node holds the charger, answered with the charger's
reply (see docs/reference/commands.md for every command and its params)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request

from backoffice import audit
from backoffice.deps import Operator, PageDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.chargers import ChargePointIdPath, existing
from backoffice.schemas.commands import CommandInfo, CommandResult
from csms.domain.commands import COMMAND_NAMES, DESCRIPTIONS, PARAMS, RAW
from csms.errors import CommandError, NotFound

router = APIRouter(prefix=API, tags=["commands"])

RAW_DESCRIPTION = "Send any OCPP action as is: params {action, payload}"
RAW_PARAMS = ("action", "payload")


def _catalogue() -> list[CommandInfo]:
    commands = [
        CommandInfo(name=name, description=DESCRIPTIONS[name], params=sorted(PARAMS[name]))
        for name in sorted(COMMAND_NAMES)
    ]
    commands.append(CommandInfo(name=RAW, description=RAW_DESCRIPTION, params=list(RAW_PARAMS)))
    return sorted(commands, key=lambda c: c.name)


@router.get("/commands", response_model=Page[CommandInfo])
async def list_commands(_: Reader, page: PageDep) -> Page[CommandInfo]:
    """The commands ``POST /chargers/{id}/commands/{command}`` accepts, with their params."""
    after = decode_cursor(page.cursor, str) or ""
    rows = [c for c in _catalogue() if c.name > after]
    items, cursor = page_of(rows, page.limit, lambda c: c.name)
    return Page(items=items, next_cursor=cursor)


@router.post("/chargers/{charge_point_id}/commands/{command}", response_model=CommandResult)
async def send_command(
    request: Request,
    principal: Operator,
    state: StateDep,
    charge_point_id: ChargePointIdPath,
    command: Annotated[str, Path(min_length=1, max_length=64)],
    params: Annotated[dict[str, Any] | None, Body(description="The command's params")] = None,
    timeout: Annotated[
        float | None,
        Query(gt=0, le=300, description="Seconds to wait (capped at CSMS_COMMAND_TIMEOUT)"),
    ] = None,
) -> CommandResult:
    """Send ``command`` and answer the charger's reply: 404 unknown charger or command,
    409 not connected, 422 invalid params, 502 the charger answered a CALLERROR, 503 the
    node is failing (breaker open), 504 no answer in time."""
    if command != RAW and command not in COMMAND_NAMES:
        raise NotFound(f"unknown command {command}; GET /api/v1/commands lists them")
    await existing(state.pool, charge_point_id)
    limit = state.settings.command_timeout
    seconds = limit if timeout is None else min(timeout, limit)
    started = time.perf_counter()
    try:
        result = await state.commands.send(
            charge_point_id, command, params or {}, timeout=seconds, by=principal.username
        )
    except CommandError as exc:
        state.metrics.observe_command(command, exc.code, time.perf_counter() - started)
        audit.note(
            request,
            action=f"command.{command}",
            target=charge_point_id,
            result={"error": exc.code, "detail": exc.detail, **exc.extra},
        )
        raise
    state.metrics.observe_command(command, "ok", time.perf_counter() - started)
    # the charger's answer (the command's params are recorded from the request, redacted)
    audit.note(
        request,
        action=f"command.{command}",
        target=charge_point_id,
        result={"action": result.get("action"), "response": result.get("response")},
    )
    return CommandResult(
        charge_point_id=charge_point_id,
        command=command,
        action=str(result.get("action", "")),
        protocol=str(result.get("protocol", "")),
        request=_object(result.get("request")),
        response=_object(result.get("response")),
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
