"""O. Display messages: NotifyDisplayMessages."""

from __future__ import annotations

from csms.node.context import Context, Payload
from csms.node.v201.events import remember


async def notify_display_messages(ctx: Context, payload: Payload) -> Payload:
    # O03/O04: the answer, in parts (tbc), to our GetDisplayMessagesRequest(requestId).
    await remember(ctx, "NotifyDisplayMessages", payload, kind=payload["requestId"])
    return {}
