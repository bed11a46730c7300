"""Every Redis key name in one place. ``prefix`` is ``CSMS_REDIS_PREFIX``.

Redis Cluster runs a script, or a transaction, only when all its keys live in one hash slot;
a key's slot is that of its *hash tag*, the text between its first ``{`` and the next
``}``. The keys are tagged so that every script's keys share one:

- ``{routing}``: node registrations, epochs, owners, held sets and the sweep lock. The
  routing scripts read and write a charger's epoch and owner with its node's held set and
  registration, in one step, so they must all be in one slot (one shard of a Cluster holds
  the whole ownership table: a few small keys per charger).
- ``{<node id>}``: a node's inbox and the ``seen`` markers of the commands pushed to it
  (pushed together by one script).
- the rest (reply lists, the event stream) are single keys in scripts and transactions.

A prefix must not hold ``{`` or ``}`` (``CommonSettings`` refuses it): its own tag would
replace these.
"""

from __future__ import annotations

from dataclasses import dataclass

ROUTING_TAG = "{routing}"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    @property
    def _routing(self) -> str:
        return f"{self.prefix}{ROUTING_TAG}:"

    def node(self, node_id: str) -> str:
        """Node registration (hash) with a TTL: alive while it exists."""
        return f"{self._routing}node:{node_id}"

    def node_pattern(self) -> str:
        """A SCAN pattern for every node key; glob characters in the prefix are escaped."""
        return f"{_escaped(self._routing)}node:*"

    def inbox(self, node_id: str) -> str:
        """List of commands for a node (LPUSH by callers, BRPOP by the node)."""
        return f"{self.prefix}inbox:{{{node_id}}}"

    def replies(self, caller_id: str) -> str:
        """List of replies for one caller process."""
        return f"{self.prefix}replies:{caller_id}"

    def seen(self, node_id: str, command_id: str) -> str:
        """Set (NX) with a command's push to ``node_id``, until its deadline: a re-sent push
        of the same command id pushes nothing. In the inbox's slot."""
        return f"{self.prefix}seen:{{{node_id}}}:{command_id}"

    def epoch(self, charge_point_id: str) -> str:
        """Fencing counter of a charger: INCR on every accepted connection."""
        return f"{self._routing}epoch:{charge_point_id}"

    def owner(self, charge_point_id: str) -> str:
        """``node_id|epoch`` of the connection that currently holds the charger."""
        return f"{self._routing}owner:{charge_point_id}"

    def held(self, node_id: str) -> str:
        """Set of the chargers a node may own (kept with ``owner`` by the routing scripts):
        what to release when the node is gone, without scanning every owner key."""
        return f"{self._routing}held:{node_id}"

    def held_pattern(self) -> str:
        """A SCAN pattern for every node's held set."""
        return f"{_escaped(self._routing)}held:*"

    def sweep_lock(self) -> str:
        """Taken (SET NX PX) by the node that runs this interval's presence sweep."""
        return f"{self._routing}sweep"

    def breakers(self, replica_id: str) -> str:
        """JSON of one backoffice replica's circuit breakers (per node), with a TTL: what
        ``GET /api/v1/status`` shows of every replica (csms/cluster/breaker_reports.py)."""
        return f"{self.prefix}breakers:{replica_id}"

    def breakers_pattern(self) -> str:
        """A SCAN pattern for every replica's breaker report."""
        return f"{_escaped(self.prefix)}breakers:*"

    def events(self) -> str:
        """Stream of live events (bounded)."""
        return f"{self.prefix}events"


def _escaped(prefix: str) -> str:
    """``prefix`` with its glob characters escaped, for SCAN MATCH."""
    return "".join(f"\\{c}" if c in "*?[]\\^-" else c for c in prefix)
