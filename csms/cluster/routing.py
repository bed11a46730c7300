"""Which node owns which charger, with fencing tokens.

On connect a node takes the charger's next epoch (``INCR``) and records
``owner = node_id|epoch`` in the same Lua script, so two nodes can never both believe they
hold the newest connection. On close it deletes the entry only if it still holds that
epoch. An owner whose node is no longer registered is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from csms.cluster.keys import Keys

_CLAIM = """
local epoch = redis.call('INCR', KEYS[1])
local previous = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], ARGV[1] .. '|' .. epoch)
return {epoch, previous or ''}
"""

# The same for many chargers at once: KEYS are epoch, owner pairs; one round trip per batch.
_CLAIM_MANY = """
local result = {}
for i = 1, #KEYS, 2 do
  local epoch = redis.call('INCR', KEYS[i])
  local previous = redis.call('GET', KEYS[i + 1])
  redis.call('SET', KEYS[i + 1], ARGV[1] .. '|' .. epoch)
  result[#result + 1] = epoch
  result[#result + 1] = previous or ''
end
return result
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_RELEASE_MANY = """
local result = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    result[i] = redis.call('DEL', KEYS[i])
  else
    result[i] = 0
  end
end
return result
"""

# After Redis lost its data: put our entry back unless a newer connection claimed meanwhile.
# Returns 1 if we (still) own the charger, 0 if someone newer does.
_REASSERT = """
local mine = ARGV[1] .. '|' .. ARGV[2]
local current = redis.call('GET', KEYS[2])
if current == mine then return 1 end
local epoch = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[2])
if current or epoch > wanted then return 0 end
if epoch < wanted then redis.call('SET', KEYS[1], ARGV[2]) end
redis.call('SET', KEYS[2], mine)
return 1
"""


@dataclass(frozen=True, slots=True)
class Owner:
    node_id: str
    epoch: int

    def encode(self) -> str:
        return f"{self.node_id}|{self.epoch}"

    @classmethod
    def decode(cls, value: bytes | str | None) -> Owner | None:
        if not value:
            return None
        text = value.decode() if isinstance(value, bytes) else value
        node_id, _, epoch = text.rpartition("|")
        if not node_id or not epoch.isdigit():
            return None
        return cls(node_id, int(epoch))


class Routing:
    """The ownership table in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._claim_many = redis.register_script(_CLAIM_MANY)
        self._release_many = redis.register_script(_RELEASE_MANY)
        self._reassert = redis.register_script(_REASSERT)

    async def claim(self, charge_point_id: str, node_id: str) -> tuple[int, Owner | None]:
        """Take the charger for ``node_id``; return our epoch and the owner we replaced."""
        epoch, previous = await self._claim(
            keys=[self.keys.epoch(charge_point_id), self.keys.owner(charge_point_id)],
            args=[node_id],
        )
        return int(epoch), Owner.decode(previous)

    async def release(self, charge_point_id: str, owner: Owner) -> bool:
        """Remove the entry if it is still ``owner``'s; True if removed."""
        removed = await self._release(
            keys=[self.keys.owner(charge_point_id)], args=[owner.encode()]
        )
        return bool(removed)

    async def claim_many(
        self, charge_point_ids: Sequence[str], node_id: str
    ) -> list[tuple[int, Owner | None]]:
        """``claim`` for many chargers in one script run (a connect storm), in order."""
        keys = [k for cp in charge_point_ids for k in (self.keys.epoch(cp), self.keys.owner(cp))]
        flat = await self._claim_many(keys=keys, args=[node_id])
        return [(int(flat[i]), Owner.decode(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def release_many(self, held: Sequence[tuple[str, Owner]]) -> list[bool]:
        """``release`` for many chargers in one script run, in order."""
        removed = await self._release_many(
            keys=[self.keys.owner(cp) for cp, _ in held], args=[o.encode() for _, o in held]
        )
        return [bool(r) for r in removed]

    async def reassert(self, charge_point_id: str, owner: Owner) -> bool:
        """Restore ``owner`` after Redis lost it; False if a newer connection owns it."""
        held = await self._reassert(
            keys=[self.keys.epoch(charge_point_id), self.keys.owner(charge_point_id)],
            args=[owner.node_id, owner.epoch],
        )
        return bool(held)

    async def holds(self, charge_point_id: str, owner: Owner) -> bool:
        """Whether ``owner`` is still the recorded owner (checked before delivering)."""
        return await self.owner(charge_point_id) == owner

    async def owner(self, charge_point_id: str) -> Owner | None:
        return Owner.decode(await self.redis.get(self.keys.owner(charge_point_id)))
