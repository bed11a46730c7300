"""The OCPP versions this node speaks, in the order it prefers them."""

from __future__ import annotations

from csms.node import v16, v201
from csms.node.version import OcppVersion

PREFERRED: tuple[OcppVersion, ...] = (v201.VERSION, v16.VERSION)
BY_SUBPROTOCOL: dict[str, OcppVersion] = {v.subprotocol: v for v in PREFERRED}
