"""After a charger (re)connects or boots: ask it about the sessions the CSMS still has open,
where its OCPP version can be asked (2.0.1 GetTransactionStatus, E14).

For each open session: not ongoing and nothing queued about it (E14.FR.01/03 with
E14.FR.05) -> the session is closed (reason not_ongoing); messages queued -> nothing, the
charger delivers them; ongoing -> TriggerMessage(TransactionEvent) for its EVSE (F06), so the
charger reports its current state. A version without these commands (1.6) is not asked: its
abandoned sessions are closed by the other rules (docs/topics/sessions.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from csms.domain.transactions import Transaction
from csms.errors import CommandError, OcppError
from csms.node.connection import ChargerConnection
from csms.services import Services

log = logging.getLogger(__name__)

TRANSACTION_STATUS = "get_transaction_status"
TRIGGER = "trigger_message"


def can_ask(connection: ChargerConnection) -> bool:
    """Whether the charger's version can be asked about a session."""
    return TRANSACTION_STATUS in connection.version.commands


async def check_open_sessions(
    connection: ChargerConnection,
    services: Services,
    sessions: Sequence[Transaction],
    *,
    timeout: float,
) -> int:
    """Ask about each of ``sessions`` (open when the charger connected or booted: what it
    starts afterwards it reported itself); returns how many were closed."""
    commands = connection.version.commands
    status = commands.get(TRANSACTION_STATUS)
    if status is None:
        return 0
    closed = 0
    cp = connection.charge_point_id
    for session in sessions:
        try:
            payload = status.build({"transaction_id": session.transaction_id}, services.clock())
            answer = await connection.call(status.action, payload, timeout, checked=True)
        except (CommandError, OcppError) as exc:
            connection.link.log.info("open session check stopped: %s", exc)
            return closed
        ongoing = bool(answer.get("ongoingIndicator", False))
        if not ongoing and not answer.get("messagesInQueue", False):
            closed += await services.sessions.not_ongoing(cp, session.transaction_id)
        elif ongoing and session.evse_id > 0 and TRIGGER in commands:
            trigger = commands[TRIGGER]
            params = {"message": "TransactionEvent", "evse_id": session.evse_id}
            try:
                await connection.call(
                    trigger.action, trigger.build(params, services.clock()), timeout, checked=True
                )
            except (CommandError, OcppError) as exc:
                connection.link.log.info("TriggerMessage(TransactionEvent) failed: %s", exc)
    return closed
