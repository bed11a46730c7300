"""What the 2.0.1 command adapters share: addressing an EVSE, id tokens, dates."""

from __future__ import annotations

from csms.domain.clock import format_timestamp
from csms.domain.commands import ParamReader
from csms.node.command_types import Payload, with_optional

WHOLE_STATION = 0  # evseId 0: the charging station as a whole
DEFAULT_TOKEN_TYPE = "Central"  # IdTokenEnumType of a token the CSMS hands out
FIRST_CONNECTOR = 1


def evse_and_connector(p: ParamReader) -> tuple[int | None, int | None]:
    """(EVSE id, connector id on that EVSE). Without ``evse_id``, ``connector_id`` names the
    EVSE: a 1.6 connector is a 2.0.1 EVSE."""
    evse_id = p.opt_integer("evse_id")
    connector_id = p.opt_integer("connector_id")
    if evse_id is None:
        return connector_id, None
    return evse_id, connector_id


def evse_id(p: ParamReader) -> int | None:
    return evse_and_connector(p)[0]


def evse(p: ParamReader) -> Payload | None:
    """EVSEType, or None for the whole station (no EVSE, or EVSE 0)."""
    evse_id, connector_id = evse_and_connector(p)
    if not evse_id:
        return None
    return with_optional({"id": evse_id}, connectorId=connector_id)


def id_token(p: ParamReader, name: str = "id_token") -> Payload:
    """IdTokenType of ``name``: an IdTokenType object as is, or a string typed by
    ``id_token_type`` (default Central)."""
    value = p.value(name)
    if isinstance(value, dict):
        return value
    token_type = p.opt_text("id_token_type") or DEFAULT_TOKEN_TYPE
    return {"idToken": p.text(name), "type": token_type}


def retrieve_date(p: ParamReader) -> str:
    """``retrieve_date``, or now."""
    return p.opt_text("retrieve_date") or format_timestamp(p.now)
