"""Chargers, their id tokens, security profiles, password rotations, commands to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from csms.domain.accounts import Standing
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence
from csms.domain.credentials import PasswordRotation
from csms.domain.id_tokens import IdToken
from csms.domain.security_profiles import Admission, SecurityState, Upgrade


class ChargerStore(Protocol):
    """Chargers: registration (operators) and what their connections report (the node)."""

    async def add(
        self,
        charge_point_id: str,
        *,
        password_hash: str | None,
        boot_policy: str,
        ocpp_version: str | None,
        description: str,
    ) -> Charger:
        """Register a charger (auth mode "basic" with a hash, else "none"); AlreadyExists."""
        ...

    async def get(self, charge_point_id: str) -> Charger | None: ...

    async def update(self, charge_point_id: str, **changes: Any) -> Charger:
        """Change operator-set fields (password_hash, auth_mode, boot_policy, ocpp_version,
        description); NotFound."""
        ...

    async def remove(self, charge_point_id: str) -> None:
        """Delete the charger and everything recorded about it; NotFound."""
        ...

    async def record_boot(self, boot: Boot) -> str:
        """Store the identity; the registration status its boot policy gives (Rejected for
        a charger that is not registered). Durable."""
        ...

    async def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        """Keep the newest status per connector; an older (replayed) one changes nothing."""
        ...

    async def list_connectors(self, charge_point_id: str) -> list[ConnectorStatus]:
        """By EVSE, then connector."""
        ...

    async def record_presence(self, presence: Presence) -> None:
        """A connection marks the charger connected to its node and epoch; a disconnection
        clears that only if the charger is still marked connected by the same node and
        epoch. Applied in call order."""
        ...

    async def list_presence(
        self, *, node_id: str | None = None, excluding_nodes: Sequence[str] | None = None
    ) -> list[Presence]:
        """Chargers recorded as connected: to ``node_id``, or to a node not in
        ``excluding_nodes``; by charger id (``at``: when the charger was last seen)."""
        ...

    async def clear_presence(self, stale: Sequence[Presence]) -> list[str]:
        """Mark these connections gone, each only while the charger is still recorded as
        connected by that node and epoch; last seen stays. The chargers cleared, by id."""
        ...

    def note_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        """Last heartbeat and last seen; best effort, not awaited (nothing of value is lost
        if it never lands)."""
        ...

    async def record_charger_status(
        self,
        charge_point_id: str,
        *,
        firmware_status: str | None = None,
        diagnostics_status: str | None = None,
    ) -> None:
        """The latest firmware / diagnostics status; None leaves a status as it is."""
        ...


class TokenStore(Protocol):
    async def get(self, id_token: str) -> IdToken | None:
        """Case-insensitive."""
        ...

    async def get_with_standing(self, id_token: str) -> tuple[IdToken | None, Standing | None]:
        """The token (case-insensitive) and, in the same round trip, the standing of the
        billing account it bills to (its own, else its driver's): status, kind, hold amount
        and the wallet balance available (holds are out of it). The standing is None when
        the token bills to no account."""
        ...


class SecurityProfileStore(Protocol):
    """Chargers' recorded security profiles (``csms.domain.security_profiles``). A
    registered charger never seen has minimum 0 and no last profile."""

    async def get(self, charge_point_id: str) -> SecurityState | None:
        """None if the charger is not registered."""
        ...

    async def admit(self, charge_point_id: str, profile: int, at: datetime) -> Admission:
        """A connection that proved ``profile``, decided by ``domain.security_profiles.admit``
        and durable when admitted (the minimum raised, a pending upgrade it reaches
        completed); two connections of one charger are decided one after the other.
        NotFound if the charger is not registered."""
        ...

    async def set_minimum(self, charge_point_id: str, minimum: int) -> SecurityState:
        """The operator sets the minimum (raised or lowered). NotFound."""
        ...

    async def start_upgrade(self, charge_point_id: str, upgrade: Upgrade) -> SecurityState:
        """Record ``upgrade`` as the charger's last one, replacing any earlier. NotFound."""
        ...

    async def finish_upgrade(
        self, charge_point_id: str, upgrade_id: str, state: str, detail: str, at: datetime
    ) -> bool:
        """End upgrade ``upgrade_id`` with ``state`` if it is still the charger's last one
        and pending (True); otherwise change nothing (False)."""
        ...

    async def note_upgrade(
        self,
        charge_point_id: str,
        upgrade_id: str,
        detail: str,
        *,
        restore: dict[str, Any] | None = None,
    ) -> None:
        """Replace the detail (and ``restore`` when given) of upgrade ``upgrade_id`` if it
        is the charger's last one, whatever its state."""
        ...


class PasswordRotationStore(Protocol):
    """Basic-auth passwords being rotated (at most one per charger)."""

    async def begin(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        """Store the new password's hash (status sending), replacing a rotation under way;
        NotFound for an unknown charger. Durable."""
        ...

    async def get(self, charge_point_id: str) -> PasswordRotation | None: ...

    async def answered(
        self, charge_point_id: str, password_hash: str, status: str, at: datetime
    ) -> bool:
        """Set the status of the rotation to ``password_hash`` (False: it is gone)."""
        ...

    async def cancel(self, charge_point_id: str, password_hash: str) -> bool:
        """Drop the rotation to ``password_hash`` (False: it is gone or another one)."""
        ...

    async def promote(self, charge_point_id: str, password_hash: str) -> bool:
        """Make ``password_hash`` the charger's password and end its rotation, atomically;
        False if no rotation to that hash exists any more."""
        ...


class ChargerCommands(Protocol):
    """Neutral commands sent to wherever a charger is connected (``csms.cluster.bus``'s
    ``CommandClient``): the charger's answer as ``{action, request, response, protocol}``,
    or a :class:`~csms.errors.CommandError`."""

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        by: str | None = None,
    ) -> dict[str, Any]: ...


CommandSender = ChargerCommands  # the name configuration services know it by
