"""Rotating a charger's Basic-auth password without ever locking it out (A01 of 2.0.1 and
of the 1.6 security whitepaper).

``rotate`` stores the new password's Argon2id hash *before* the charger is told it, then
sets it (1.6 ``AuthorizationKey``, 2.0.1 ``SecurityCtrlr.BasicAuthPassword``). From then on
the node accepts the charger with the old password or the new one; the first connection with
the new one makes it the only one (``accept_new``). A charger that refuses the change keeps
its old password and the new one is dropped (A01.FR.04). A charger that does not answer
may or may not have taken it: both stay valid until it connects with the new one.

A01.FR.03 says the CSMS should stop accepting the old password as soon as the charger
answers Accepted; keeping it until the charger has proven it uses the new one is the one
deliberate departure (docs/topics/certificates.md, "Password rotation"): a charger that
answered Accepted but failed to store the key would otherwise be locked out for good.

Neither password is ever stored, logged or returned: only hashes are kept, and the request
that carries the new one is masked in the journal and in command replies
(:func:`csms.domain.credentials.redact`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from csms.domain import credentials
from csms.domain.clock import Clock
from csms.errors import (
    ChargerCallError,
    ChargerNotConnected,
    CommandError,
    CommandRejected,
    InvalidInput,
    NotFound,
)
from csms.passwords import hash_password, verify_password
from csms.services.ports import ChargerCommands, ChargerStore, PasswordRotationStore
from csms.services.reports import ReportService

log = logging.getLogger(__name__)

EVENT = "PasswordRotation"  # the charger event that records each step


@dataclass(frozen=True, slots=True)
class RotationOutcome:
    """``accepted``: the charger took the new password (both are accepted until it connects
    with it); ``rejected``: it refused, the old one stays; ``unanswered``: no answer, both
    stay valid."""

    charge_point_id: str
    status: str
    detail: str


class PasswordService:
    def __init__(
        self,
        store: PasswordRotationStore,
        chargers: ChargerStore,
        reports: ReportService,
        *,
        clock: Clock,
    ) -> None:
        self._store = store
        self._chargers = chargers
        self._reports = reports
        self._clock = clock

    async def rotate(
        self, charge_point_id: str, commands: ChargerCommands, *, timeout: float = 30.0
    ) -> RotationOutcome:
        """Generate a password, keep its hash, set it on the charger. NotFound, InvalidInput
        (a charger without a password), ChargerNotConnected."""
        charger = await self._chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        if charger.auth_mode != "basic":
            raise InvalidInput(
                f"{charge_point_id} has no password to rotate (registered without "
                "authentication); give it one with csms charger set --password"
            )
        key = credentials.PASSWORD_KEYS.get(charger.connected_protocol or "")
        if key is None:
            raise ChargerNotConnected(f"{charge_point_id} is not connected")
        password = credentials.generate_authorization_key()
        password_hash = await asyncio.to_thread(hash_password, password)  # Argon2: off the loop
        await self._store.begin(charge_point_id, password_hash, self._clock())
        try:
            result = await commands.send(
                charge_point_id,
                "set_configuration",
                {"key": key, "value": password},
                timeout=timeout,
            )
        except (CommandRejected, ChargerCallError) as exc:
            # refused before it reached the charger, or the charger answered a CALLERROR:
            # not set (A01.FR.04)
            await self._store.cancel(charge_point_id, password_hash)
            return await self._outcome(charge_point_id, "rejected", f"{exc.code}: {exc}")
        except CommandError as exc:
            # it may have reached the charger: keep both passwords valid
            await self._store.answered(
                charge_point_id, password_hash, credentials.UNANSWERED, self._clock()
            )
            return await self._outcome(
                charge_point_id,
                "unanswered",
                f"{exc.code}: {exc}; the old and the new password stay valid until the "
                "charger connects with the new one (or rotate again)",
            )
        verdict = credentials.setting_accepted(result.get("response", {}))
        if verdict in ("Accepted", "RebootRequired"):
            await self._store.answered(
                charge_point_id, password_hash, credentials.ACCEPTED, self._clock()
            )
            after = "after its next reboot" if verdict == "RebootRequired" else "when it reconnects"
            return await self._outcome(
                charge_point_id,
                "accepted",
                f"the charger took the new password ({verdict}); the old one is accepted "
                f"until it connects with the new one ({after})",
            )
        await self._store.cancel(charge_point_id, password_hash)
        return await self._outcome(
            charge_point_id,
            "rejected",
            f"the charger answered {verdict}: it keeps its current password",
        )

    async def _outcome(self, charge_point_id: str, status: str, detail: str) -> RotationOutcome:
        log.info(
            "password rotation %s: %s", status, detail, extra={"charge_point_id": charge_point_id}
        )
        await self._reports.notification(
            charge_point_id, EVENT, {"status": status, "detail": detail}, kind=status
        )
        return RotationOutcome(charge_point_id, status, detail)

    async def pending(self, charge_point_id: str) -> credentials.PasswordRotation | None:
        return await self._store.get(charge_point_id)

    async def accept_new(self, charge_point_id: str, password: str) -> str | None:
        """The node, when ``password`` is not the charger's current one: if it is the new
        password of a rotation under way, it becomes the only one; its hash is returned
        (None: it is no password of this charger)."""
        rotation = await self._store.get(charge_point_id)
        if rotation is None:
            return None
        if not await asyncio.to_thread(verify_password, rotation.password_hash, password):
            return None
        if not await self._store.promote(charge_point_id, rotation.password_hash):
            # another node promoted it a moment ago: valid if it is the current one now
            charger = await self._chargers.get(charge_point_id)
            if charger is None or charger.password_hash != rotation.password_hash:
                return None
            return rotation.password_hash
        await self._outcome(
            charge_point_id,
            "confirmed",
            "the charger connected with its new password; the old one is no longer accepted",
        )
        return rotation.password_hash
