"""One OCPP version as the node sees it: a few attributes, looked up once per connection.

Adding a version (2.1) means one package under ``csms/node/`` that builds an
:class:`OcppVersion`, and one line in ``csms/node/versions.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from csms.node.command_types import CommandAdapter
from csms.node.context import Handler
from csms.node.price_display import Pusher
from csms.node.rpc import Dialect
from csms.node.validation import SchemaSet

DATA_TRANSFER = "DataTransfer"  # the one action both sides send


@dataclass(frozen=True, slots=True)
class OcppVersion:
    subprotocol: str  # the WebSocket subprotocol, e.g. "ocpp1.6"
    dialect: Dialect  # error code names, framing rules
    schemas: SchemaSet
    routes: Mapping[str, Handler]  # charger-initiated action -> handler
    commands: Mapping[str, CommandAdapter]  # neutral command name -> CSMS-initiated CALL
    push_display: Pusher  # sets a charger's price display (tariff push)

    def sent_by_csms(self, action: str) -> bool:
        """Whether the CSMS may send ``action`` to a charger of this version."""
        return action in self.schemas.actions and (
            action not in self.routes or action == DATA_TRANSFER
        )
