"""Diagnostics and logs, version neutral: ask a charger to upload its diagnostics or its
security log to the backoffice, follow the upload's statuses, list what was asked
(docs/topics/fleet-operations.md, "Diagnostics and logs").

- 1.6 diagnostics: GetDiagnostics (statuses: DiagnosticsStatusNotification, no requestId);
- 1.6 security log (security whitepaper) and 2.0.1 both logs: GetLog with a requestId
  (N01; statuses: LogStatusNotification with that requestId).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from csms.domain.charger_logs import (
    DIAGNOSTICS,
    FINAL_STATUSES,
    GET_DIAGNOSTICS,
    GET_LOG,
    LOG_TYPES,
    LogRequest,
    new_token,
    token_hash,
    upload_url,
)
from csms.domain.clock import Clock, format_timestamp
from csms.domain.commands import new_request_id
from csms.errors import ChargerNotConnected, CommandError, InvalidInput, NotFound
from csms.services.hooks import LogStatusReported
from csms.services.ports import ChargerStore, CommandSender, LogStore

V16 = "ocpp1.6"


class LogService:
    def __init__(self, store: LogStore, chargers: ChargerStore, *, clock: Clock) -> None:
        self._store = store
        self._chargers = chargers
        self._clock = clock

    async def request(
        self,
        sender: CommandSender,
        charge_point_id: str,
        *,
        log_type: str = DIAGNOSTICS,
        oldest: datetime | None = None,
        latest: datetime | None = None,
        base_url: str,
        ttl: float,
        by: str | None,
        timeout: float = 30.0,
    ) -> LogRequest:
        """Ask the charger to upload; the request as recorded (with the charger's file
        name). Nothing is kept when the charger cannot be reached (CommandError)."""
        if log_type not in LOG_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(LOG_TYPES)}")
        if oldest is not None and latest is not None and oldest > latest:
            raise InvalidInput("from must be before to")
        charger = await self._chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        if charger.connected_protocol is None:
            raise ChargerNotConnected(f"{charge_point_id} is not connected")
        diagnostics_16 = charger.connected_protocol == V16 and log_type == DIAGNOSTICS
        action = GET_DIAGNOSTICS if diagnostics_16 else GET_LOG
        token = new_token()
        now = self._clock()
        request = await self._store.create_request(
            charge_point_id,
            log_type=log_type,
            action=action,
            request_id=new_request_id(),
            token_hash=token_hash(token),
            expires_at=now + timedelta(seconds=ttl),
            oldest_at=oldest,
            latest_at=latest,
            by=by,
            at=now,
        )
        params: dict[str, object] = {
            "location": upload_url(base_url, token),
            "request_id": request.request_id,
        }
        if oldest is not None:
            params["oldest_timestamp"] = format_timestamp(oldest)
        if latest is not None:
            params["latest_timestamp"] = format_timestamp(latest)
        if not diagnostics_16:
            params["log_type"] = log_type
        command = "get_diagnostics" if diagnostics_16 else "get_log"
        try:
            result = await sender.send(charge_point_id, command, params, timeout=timeout, by=by)
        except CommandError:
            await self._store.remove_request(request.id)
            raise
        response = result.get("response", {})
        file_name = response.get("fileName") or response.get("filename")
        await self._store.set_file_name(request.id, file_name)
        status = response.get("status")  # GetLog: Accepted, Rejected, AcceptedCanceled
        if status == "Rejected":
            await self._store.record_status(
                charge_point_id, status, request_id=request.request_id, at=self._clock()
            )
        found = await self._store.get_request(request.id)
        assert found is not None
        return found

    async def on_status(self, event: LogStatusReported) -> None:
        """Hook: a DiagnosticsStatusNotification / LogStatusNotification (kept on its
        request; an Idle status answering a trigger belongs to none)."""
        if event.status == "Idle":
            return
        await self._store.record_status(
            event.charge_point_id, event.status, request_id=event.request_id, at=self._clock()
        )

    async def get(self, charge_point_id: str, log_id: int) -> LogRequest:
        found = await self._store.get_request(log_id)
        if found is None or found.charge_point_id != charge_point_id:
            raise NotFound(f"log request {log_id} of {charge_point_id} not found")
        return found

    async def list(
        self, charge_point_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[LogRequest]:
        return await self._store.list_requests(charge_point_id, before_id=before_id, limit=limit)


def finished(request: LogRequest) -> bool:
    return request.status in FINAL_STATUSES
