"""Chargers' security profiles, version neutral: the node's admission of each connection,
the operator's changes, and upgrades with their rollback (docs/topics/security.md).

An upgrade follows the charger's OCPP version's procedure (:data:`PROCEDURES`: data, not
branches): OCPP 1.6 with the security whitepaper raises the ``SecurityProfile``
configuration key (whitepaper A05: the charger reconnects by itself); OCPP 2.0.1 stores a
network connection profile for the new profile, puts it first in
``NetworkConfigurationPriority`` and resets the charger when idle (A05). The upgrade is
recorded before the first command, so the connection that proves the new profile
completes it (:meth:`SecurityProfileService.admit`), and a durable job
(:data:`UPGRADE_DEADLINE`) rolls it back when the charger has not come back that way in
time: the minimum was never raised, the old way of connecting keeps working, and a 2.0.1
charger gets its previous priority list back.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from csms.domain.clock import Clock
from csms.domain.security_profiles import (
    COMPLETED,
    FAILED,
    PENDING,
    PROFILES,
    ROLLED_BACK,
    Admission,
    SecurityState,
    Upgrade,
)
from csms.errors import ChargerNotConnected, CommandError, InvalidInput, NotFound, UpgradeRefused
from csms.services.hooks import Hooks
from csms.services.ports import ChargerStore, JobQueue, ReportStore, SecurityProfileStore

log = logging.getLogger(__name__)

UPGRADE_DEADLINE = "security_profile.upgrade_deadline"  # the durable job of a rollback
EVENT_ACTION = "SecurityProfileUpgrade"  # charger event recorded when an upgrade ends
PRIORITY_KEY = "OCPPCommCtrlr.NetworkConfigurationPriority"
SECURITY_PROFILE_KEY = "SecurityProfile"
# what set_profile did
UNCHANGED, RAISED, LOWERED, UPGRADING = "unchanged", "raised", "lowered", "upgrading"


class CommandSender(Protocol):
    """Sends a version-neutral command to a charger wherever it is connected (the cluster
    bus's ``CommandClient``); raises ``CommandError``."""

    async def send(
        self, charge_point_id: str, command: str, params: dict[str, Any], *, timeout: float
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SecurityUpgradeEnded:
    """Hook: an upgrade completed, failed or was rolled back (the alarm point until
    alarms exist: a rollback means the charger could not use the new profile)."""

    charge_point_id: str
    upgrade: Upgrade


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """What :meth:`SecurityProfileService.set_profile` did, and the state after it."""

    outcome: str  # unchanged, raised, lowered, upgrading
    state: SecurityState


@dataclass(frozen=True, slots=True)
class UpgradeRequest:
    """One upgrade's parameters, as the operator gave them (defaults from settings)."""

    target: int
    csms_url: str | None  # the wss:// URL for 2.0.1 SetNetworkProfile
    timeout: float  # seconds the charger has to come back
    command_timeout: float = 30.0  # seconds for each command
    ocpp_interface: str = "Wired0"
    configuration_slot: int | None = None


def _response(result: dict[str, Any]) -> dict[str, Any]:
    response = result.get("response")
    return response if isinstance(response, dict) else {}


class UpgradeProcedure(Protocol):
    """One OCPP version's way to move a charger to a higher profile (and back)."""

    async def start(
        self, send: CommandSender, charge_point_id: str, request: UpgradeRequest
    ) -> tuple[dict[str, Any], str]:
        """Send the commands; return what a rollback restores and what was done. Raises
        UpgradeRefused (the charger said no; it is left as it was), CommandError."""
        ...

    async def restore(
        self, send: CommandSender, charge_point_id: str, restore: dict[str, Any], timeout: float
    ) -> str:
        """Undo on the charger what :meth:`start` changed; what was done."""
        ...


class SecurityProfileKey:
    """OCPP 1.6 security whitepaper A05: ChangeConfiguration ``SecurityProfile``."""

    async def start(
        self, send: CommandSender, charge_point_id: str, request: UpgradeRequest
    ) -> tuple[dict[str, Any], str]:
        params = {"key": SECURITY_PROFILE_KEY, "value": str(request.target)}
        result = await send.send(
            charge_point_id, "set_configuration", params, timeout=request.command_timeout
        )
        status = _response(result).get("status")
        if status != "Accepted":
            # A05.FR.01-04: lower or equal value, AuthorizationKey or certificates missing
            raise UpgradeRefused(
                f"ChangeConfiguration {SECURITY_PROFILE_KEY}={request.target} answered {status}"
            )
        return {}, f"ChangeConfiguration {SECURITY_PROFILE_KEY}={request.target} accepted"

    async def restore(
        self, send: CommandSender, charge_point_id: str, restore: dict[str, Any], timeout: float
    ) -> str:
        # A05.FR.08: a charger that cannot connect with the new profile falls back itself;
        # lowering the key over OCPP is not allowed (A00.FR.005)
        return "the charger falls back to its previous profile itself (A05.FR.08)"


class NetworkProfileSwitch:
    """OCPP 2.0.1 A05: SetNetworkProfile, NetworkConfigurationPriority first, Reset."""

    async def start(
        self, send: CommandSender, charge_point_id: str, request: UpgradeRequest
    ) -> tuple[dict[str, Any], str]:
        if not request.csms_url:
            raise InvalidInput(
                "a 2.0.1 charger needs the wss:// URL to connect to: set CSMS_TLS_PUBLIC_URL "
                "or give csms_url"
            )
        timeout = request.command_timeout
        priority = await self._priority(send, charge_point_id, timeout)
        slots = [int(s) for s in priority.split(",") if s.strip().isdigit()]
        slot = request.configuration_slot
        if slot is None:
            slot = max(slots, default=0) + 1
        if slot in slots:
            raise InvalidInput(f"configuration slot {slot} is in use ({PRIORITY_KEY}={priority})")
        connection_data = {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": request.csms_url,
            "messageTimeout": round(timeout),
            "securityProfile": request.target,
            "ocppInterface": request.ocpp_interface,
        }
        params = {"configuration_slot": slot, "connection_data": connection_data}
        result = await send.send(charge_point_id, "set_network_profile", params, timeout=timeout)
        status = _response(result).get("status")
        if status != "Accepted":
            raise UpgradeRefused(f"SetNetworkProfile slot {slot} answered {status}")
        new_priority = ",".join([str(slot), *(str(s) for s in slots)])
        await self._set_priority(send, charge_point_id, new_priority, timeout)
        restore = {"priority": priority}
        try:
            result = await send.send(charge_point_id, "reset", {"type": "on_idle"}, timeout=timeout)
            status = _response(result).get("status")
            if status not in ("Accepted", "Scheduled"):
                raise UpgradeRefused(f"Reset OnIdle answered {status}")
        except CommandError:
            # without the reset the new priority would apply at some later reboot: undo it
            await self.restore(send, charge_point_id, restore, timeout)
            raise
        return restore, (
            f"network profile slot {slot} ({request.csms_url}, profile {request.target}) "
            f"first in {PRIORITY_KEY} ({new_priority}); Reset OnIdle {status}"
        )

    async def restore(
        self, send: CommandSender, charge_point_id: str, restore: dict[str, Any], timeout: float
    ) -> str:
        priority = restore.get("priority")
        if not priority:
            return "nothing to restore"
        await self._set_priority(send, charge_point_id, str(priority), timeout)
        return f"{PRIORITY_KEY} set back to {priority}"

    @staticmethod
    async def _priority(send: CommandSender, charge_point_id: str, timeout: float) -> str:
        params = {"keys": [PRIORITY_KEY]}
        result = await send.send(charge_point_id, "get_configuration", params, timeout=timeout)
        for item in _response(result).get("getVariableResult", []):
            if item.get("attributeStatus") == "Accepted":
                return str(item.get("attributeValue", ""))
        raise UpgradeRefused(f"GetVariables {PRIORITY_KEY} was not answered Accepted")

    @staticmethod
    async def _set_priority(
        send: CommandSender, charge_point_id: str, value: str, timeout: float
    ) -> None:
        params = {"key": PRIORITY_KEY, "value": value}
        result = await send.send(charge_point_id, "set_configuration", params, timeout=timeout)
        statuses = [
            r.get("attributeStatus") for r in _response(result).get("setVariableResult", [])
        ]
        if not statuses or statuses[0] not in ("Accepted", "RebootRequired"):
            raise UpgradeRefused(f"SetVariables {PRIORITY_KEY}={value} answered {statuses}")


PROCEDURES: dict[str, UpgradeProcedure] = {
    "ocpp1.6": SecurityProfileKey(),
    "ocpp2.0.1": NetworkProfileSwitch(),
}


class SecurityProfileService:
    def __init__(
        self,
        store: SecurityProfileStore,
        chargers: ChargerStore,
        reports: ReportStore,
        jobs: JobQueue,
        *,
        clock: Clock,
        hooks: Hooks,
    ) -> None:
        self._store = store
        self._chargers = chargers
        self._reports = reports
        self._jobs = jobs
        self._clock = clock
        self._hooks = hooks

    async def state(self, charge_point_id: str) -> SecurityState:
        """NotFound if the charger is not registered."""
        state = await self._store.get(charge_point_id)
        if state is None:
            raise NotFound(f"charger {charge_point_id} not found")
        return state

    # -- the node ------------------------------------------------------------------------

    async def admit(self, charge_point_id: str, profile: int) -> Admission:
        """A handshake proved ``profile``: refused below the charger's minimum (before it
        can displace a connection), admitted and recorded otherwise. NotFound."""
        admission = await self._store.admit(charge_point_id, profile, self._clock())
        if admission.completed is not None:
            await self._ended(charge_point_id, admission.completed)
        return admission

    # -- operators -----------------------------------------------------------------------

    async def set_profile(
        self,
        charge_point_id: str,
        request: UpgradeRequest,
        *,
        commands: CommandSender | None,
        downgrade: bool = False,
    ) -> ProfileChange:
        """Make ``request.target`` the charger's profile. Lower than its minimum only with
        ``downgrade`` (recorded only: A00.FR.005 keeps lowering out of OCPP); a profile
        the charger already connects with is recorded at once; a higher one starts the
        upgrade of its OCPP version. NotFound, InvalidInput, UpgradeRefused,
        CommandError."""
        target = request.target
        if target not in PROFILES:
            raise InvalidInput("security profile: 0, 1, 2 or 3")
        state = await self.state(charge_point_id)
        if downgrade:
            if target >= state.minimum:
                raise InvalidInput(f"downgrade: {target} is not below the minimum {state.minimum}")
            lowered = await self._store.set_minimum(charge_point_id, target)
            log.warning(
                "[%s] security profile minimum lowered from %d to %d by an operator",
                charge_point_id,
                state.minimum,
                target,
            )
            return ProfileChange(LOWERED, lowered)
        if target < state.minimum:
            raise InvalidInput(
                f"{charge_point_id} must use security profile {state.minimum} or higher; "
                "lowering is not done over OCPP (A00.FR.005): reset the charger by other "
                "means, then lower the recorded minimum with downgrade"
            )
        if target == state.minimum:
            return ProfileChange(UNCHANGED, state)
        if state.last_profile is not None and state.last_profile >= target:
            # it connects that way already: only the record changes
            return ProfileChange(RAISED, await self._store.set_minimum(charge_point_id, target))
        return ProfileChange(UPGRADING, await self._upgrade(charge_point_id, request, commands))

    async def _upgrade(
        self, charge_point_id: str, request: UpgradeRequest, commands: CommandSender | None
    ) -> SecurityState:
        charger = await self._chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        protocol = charger.connected_protocol
        if commands is None or protocol is None:
            raise ChargerNotConnected(
                f"{charge_point_id} is not connected: an upgrade needs the charger online"
            )
        procedure = PROCEDURES.get(protocol)
        if procedure is None:
            raise InvalidInput(f"no security profile upgrade for {protocol} chargers")
        if request.target in (1, 2) and charger.password_hash is None:
            raise InvalidInput(
                f"profile {request.target} uses HTTP Basic: give {charge_point_id} a password "
                "first (csms charger set --password / --generate-password)"
            )
        now = self._clock()
        upgrade = Upgrade(
            id=secrets.token_hex(8),
            target=request.target,
            state=PENDING,
            started_at=now,
            deadline=now + timedelta(seconds=request.timeout),
            detail="sending the upgrade commands",
            restore={"protocol": protocol},
        )
        # recorded first: the reconnection that completes it may come before the answers
        await self._store.start_upgrade(charge_point_id, upgrade)
        await self._jobs.enqueue(
            UPGRADE_DEADLINE,
            {"charge_point_id": charge_point_id, "upgrade_id": upgrade.id},
            dedupe_key=f"{UPGRADE_DEADLINE}:{upgrade.id}",
            delay=request.timeout,
        )
        try:
            restore, detail = await procedure.start(commands, charge_point_id, request)
        except (CommandError, InvalidInput) as exc:
            detail = getattr(exc, "detail", str(exc))
            if await self._store.finish_upgrade(
                charge_point_id, upgrade.id, FAILED, detail, self._clock()
            ):
                failed = dataclasses.replace(upgrade, state=FAILED, detail=detail)
                await self._ended(charge_point_id, failed)
            raise
        await self._store.note_upgrade(
            charge_point_id,
            upgrade.id,
            f"{detail}; waiting for a connection with profile {request.target}",
            restore={"protocol": protocol, **restore},
        )
        log.info(
            "[%s] security profile upgrade to %d started: %s",
            charge_point_id,
            request.target,
            detail,
        )
        return await self.state(charge_point_id)

    # -- the rollback job ------------------------------------------------------------------

    async def expire(
        self,
        charge_point_id: str,
        upgrade_id: str,
        *,
        commands: CommandSender | None,
        command_timeout: float = 30.0,
    ) -> bool:
        """The deadline of upgrade ``upgrade_id``: if the charger has not come back with
        its target profile, roll it back (True). Idempotent: a completed, failed or
        replaced upgrade is left alone."""
        state = await self._store.get(charge_point_id)
        upgrade = None if state is None else state.upgrade
        if upgrade is None or upgrade.id != upgrade_id or upgrade.state != PENDING:
            return False
        detail = f"not back with security profile {upgrade.target} by the deadline"
        procedure = PROCEDURES.get(str(upgrade.restore.get("protocol")))
        if procedure is not None:
            # undone before it is marked: should the charger connect with the new profile
            # meanwhile, the upgrade completes instead and the undo is refused by the
            # charger (the old slot is gone: A05.FR.06) or harmless
            if commands is None:
                done = "could not restore the charger's settings: no command bus"
            else:
                try:
                    done = await procedure.restore(
                        commands, charge_point_id, upgrade.restore, command_timeout
                    )
                except CommandError as exc:
                    done = f"could not restore the charger's settings ({exc.code}: {exc.detail})"
            detail = f"{detail}; {done}"
        if not await self._store.finish_upgrade(
            charge_point_id, upgrade_id, ROLLED_BACK, detail, self._clock()
        ):
            return False
        log.warning("[%s] security profile upgrade rolled back: %s", charge_point_id, detail)
        rolled_back = dataclasses.replace(
            upgrade, state=ROLLED_BACK, detail=detail, finished_at=self._clock()
        )
        await self._ended(charge_point_id, rolled_back)
        return True

    async def _ended(self, charge_point_id: str, upgrade: Upgrade) -> None:
        payload = {
            "upgrade_id": upgrade.id,
            "target": upgrade.target,
            "state": upgrade.state,
            "detail": upgrade.detail,
        }
        try:
            await self._reports.record_notification(
                charge_point_id, EVENT_ACTION, payload, kind=upgrade.state
            )
        except NotFound:  # removed meanwhile
            return
        if upgrade.state == COMPLETED:
            log.info(
                "[%s] security profile upgrade to %d completed", charge_point_id, upgrade.target
            )
        await self._hooks.emit(SecurityUpgradeEnded(charge_point_id, upgrade))
