"""Every Redis key name in one place. ``prefix`` is ``CSMS_REDIS_PREFIX``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def node(self, node_id: str) -> str:
        """Node registration (hash) with a TTL: alive while it exists."""
        return f"{self.prefix}node:{node_id}"

    def node_pattern(self) -> str:
        """A SCAN pattern for every node key; glob characters in the prefix are escaped."""
        return f"{_escaped(self.prefix)}node:*"

    def inbox(self, node_id: str) -> str:
        """List of commands for a node (LPUSH by callers, BRPOP by the node)."""
        return f"{self.prefix}inbox:{node_id}"

    def replies(self, caller_id: str) -> str:
        """List of replies for one caller process."""
        return f"{self.prefix}replies:{caller_id}"

    def seen(self, command_id: str) -> str:
        """Set (NX) with a command's push, until its deadline: a re-sent push of the same
        command id pushes nothing."""
        return f"{self.prefix}seen:{command_id}"

    def epoch(self, charge_point_id: str) -> str:
        """Fencing counter of a charger: INCR on every accepted connection."""
        return f"{self.prefix}epoch:{charge_point_id}"

    def owner(self, charge_point_id: str) -> str:
        """``node_id|epoch`` of the connection that currently holds the charger."""
        return f"{self.prefix}owner:{charge_point_id}"

    def held(self, node_id: str) -> str:
        """Set of the chargers a node may own (kept with ``owner`` by the routing scripts):
        what to release when the node is gone, without scanning every owner key."""
        return f"{self.prefix}held:{node_id}"

    def held_pattern(self) -> str:
        """A SCAN pattern for every node's held set."""
        return f"{_escaped(self.prefix)}held:*"

    def sweep_lock(self) -> str:
        """Taken (SET NX PX) by the node that runs this interval's presence sweep."""
        return f"{self.prefix}sweep"

    def events(self) -> str:
        """Stream of live events (bounded)."""
        return f"{self.prefix}events"


def _escaped(prefix: str) -> str:
    """``prefix`` with its glob characters escaped, for SCAN MATCH."""
    return "".join(f"\\{c}" if c in "*?[]\\^-" else c for c in prefix)
