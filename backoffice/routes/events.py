"""The live event stream as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from backoffice.deps import AnyUser, StateDep
from backoffice.errors import ServiceUnavailable
from backoffice.routes import API
from backoffice.services.events import EventFilter, stream
from csms.domain.charge_points import MAX_CHARGE_POINT_ID

router = APIRouter(prefix=API, tags=["events"])

STREAM_ID = r"^[0-9]{1,20}(-[0-9]{1,20})?$"


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    caller: AnyUser,
    state: StateDep,
    types: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Comma-separated event types or prefixes, "
            "e.g. `transaction,charger.status`",
        ),
    ] = None,
    charge_point_id: Annotated[str | None, Query(max_length=MAX_CHARGE_POINT_ID)] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", pattern=STREAM_ID, description="Resume after this id"),
    ] = None,
) -> StreamingResponse:
    """Live events (``charger.connected``, ``charger.status``, ``transaction.started``,
    ``transaction.updated``, ``transaction.ended``, ...) as ``text/event-stream``.

    Staff see all events; a driver only those of their own sessions. Resume with
    ``Last-Event-ID`` (``0`` replays what the stream still holds). The stream ends when the
    access token expires.
    """
    if state.streams.locked():
        raise ServiceUnavailable("too many open event streams; retry later")
    wanted = tuple(t.strip() for t in (types or "").split(",") if t.strip())
    event_filter = EventFilter(state, caller, types=wanted, charge_point_id=charge_point_id)
    return StreamingResponse(
        stream(state, event_filter, last_event_id or "$"),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
