"""O. Display messages: NotifyDisplayMessages."""

from __future__ import annotations

from csms.node.context import Payload, Session
from csms.node.v201.events import remember


async def notify_display_messages(session: Session, payload: Payload) -> Payload:
    # O03/O04: the answer, in parts (tbc), to our GetDisplayMessagesRequest(requestId).
    await remember(session, "NotifyDisplayMessages", payload, kind=payload["requestId"])
    return {}
