"""Which node owns which charger, with fencing tokens.

On connect a node takes the charger's next epoch (``INCR``) and records
``owner = node_id|epoch`` in the same Lua script, so two nodes can never both believe they
hold the newest connection. On close it deletes the entry only if it still holds that
epoch. An owner whose node is no longer registered is stale: ``release_node`` removes the
entries of a node that is gone (the presence sweep) or that restarts under the same id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys

# Every script keeps ``held:{node}`` (the chargers a node may own) with the owner entries,
# so a dead node's entries are found without scanning every key. ARGV[2] of the claims is
# the held-set key prefix; a taken-over charger leaves the previous node's set.
_NODE_OF = """
local function node_of(value)
  if not value then return nil end
  return string.match(value, '^(.*)|%d+$')
end
"""

_CLAIM = (
    _NODE_OF
    + """
local epoch = redis.call('INCR', KEYS[1])
local previous = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], ARGV[1] .. '|' .. epoch)
redis.call('SADD', KEYS[3], ARGV[3])
local before = node_of(previous)
if before and before ~= ARGV[1] then redis.call('SREM', ARGV[2] .. before, ARGV[3]) end
return {epoch, previous or ''}
"""
)

# The same for many chargers at once: KEYS are epoch, owner pairs then the held set; ARGV[3..]
# the charger ids. One round trip per batch.
_CLAIM_MANY = (
    _NODE_OF
    + """
local result = {}
local held = KEYS[#KEYS]
for i = 1, #KEYS - 1, 2 do
  local cp = ARGV[2 + (i + 1) / 2]
  local epoch = redis.call('INCR', KEYS[i])
  local previous = redis.call('GET', KEYS[i + 1])
  redis.call('SET', KEYS[i + 1], ARGV[1] .. '|' .. epoch)
  redis.call('SADD', held, cp)
  local before = node_of(previous)
  if before and before ~= ARGV[1] then redis.call('SREM', ARGV[2] .. before, cp) end
  result[#result + 1] = epoch
  result[#result + 1] = previous or ''
end
return result
"""
)

# KEYS: owner, held set; ARGV: owner value, charger id
_RELEASE = """
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: owners then the held set; ARGV: owner values then charger ids
_RELEASE_MANY = """
local result = {}
local n = #KEYS - 1
for i = 1, n do
  redis.call('SREM', KEYS[#KEYS], ARGV[n + i])
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    result[i] = redis.call('DEL', KEYS[i])
  else
    result[i] = 0
  end
end
return result
"""

# After Redis lost its data (a restart, or a failover to a replica that had not received the
# last writes): put our entry back unless a newer connection claimed meanwhile. An entry
# with an older epoch (the claim that replaced it was lost) is replaced, and taken out of
# its node's held set. Returns 1 if we (still) own the charger, 0 if someone newer does.
# KEYS: epoch, owner, held; ARGV: node id, epoch, charger id, held-set key prefix.
_REASSERT = (
    _NODE_OF
    + """
local mine = ARGV[1] .. '|' .. ARGV[2]
local current = redis.call('GET', KEYS[2])
if current == mine then redis.call('SADD', KEYS[3], ARGV[3]) return 1 end
local wanted = tonumber(ARGV[2])
local epoch = tonumber(redis.call('GET', KEYS[1]) or '0')
local current_epoch = 0
if current then current_epoch = tonumber(string.match(current, '|(%d+)$') or '0') end
if current_epoch >= wanted or epoch > wanted then return 0 end
if epoch < wanted then redis.call('SET', KEYS[1], ARGV[2]) end
redis.call('SET', KEYS[2], mine)
redis.call('SADD', KEYS[3], ARGV[3])
local before = node_of(current)
if before and before ~= ARGV[1] then redis.call('SREM', ARGV[4] .. before, ARGV[3]) end
return 1
"""
)

# Release every owner entry a node left behind. KEYS: its held set, its registration;
# ARGV: node id, owner-key prefix, "force" (1: the node itself, starting, holds nothing yet).
# Without force nothing happens while the node is registered (alive, or alive again). An
# entry is deleted only if it still names the node: a charger that reconnected elsewhere
# meanwhile (another node's entry) is never touched. Returns "charger|epoch" of each release.
_RELEASE_NODE = (
    _NODE_OF
    + """
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local released = {}
for _, cp in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. cp
  local value = redis.call('GET', key)
  if node_of(value) == ARGV[1] then
    redis.call('DEL', key)
    released[#released + 1] = cp .. '|' .. string.match(value, '|(%d+)$')
  end
end
redis.call('DEL', KEYS[1])
return released
"""
)


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

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._claim_many = redis.register_script(_CLAIM_MANY)
        self._release_many = redis.register_script(_RELEASE_MANY)
        self._reassert = redis.register_script(_REASSERT)
        self._release_node = redis.register_script(_RELEASE_NODE)

    async def claim(self, charge_point_id: str, node_id: str) -> tuple[int, Owner | None]:
        """Take the charger for ``node_id``; return our epoch and the owner we replaced."""
        epoch, previous = await self._claim(
            keys=[
                self.keys.epoch(charge_point_id),
                self.keys.owner(charge_point_id),
                self.keys.held(node_id),
            ],
            args=[node_id, self.keys.held(""), charge_point_id],
        )
        return int(epoch), Owner.decode(previous)

    async def release(self, charge_point_id: str, owner: Owner) -> bool:
        """Remove the entry if it is still ``owner``'s; True if removed."""
        removed = await self._release(
            keys=[self.keys.owner(charge_point_id), self.keys.held(owner.node_id)],
            args=[owner.encode(), charge_point_id],
        )
        return bool(removed)

    async def claim_many(
        self, charge_point_ids: Sequence[str], node_id: str
    ) -> list[tuple[int, Owner | None]]:
        """``claim`` for many chargers in one script run (a connect storm), in order."""
        keys = [k for cp in charge_point_ids for k in (self.keys.epoch(cp), self.keys.owner(cp))]
        flat = await self._claim_many(
            keys=[*keys, self.keys.held(node_id)],
            args=[node_id, self.keys.held(""), *charge_point_ids],
        )
        return [(int(flat[i]), Owner.decode(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def release_many(self, held: Sequence[tuple[str, Owner]]) -> list[bool]:
        """``release`` for many chargers of one node in one script run, in order."""
        if not held:
            return []
        nodes = {owner.node_id for _, owner in held}
        if len(nodes) > 1:  # one node releases its own chargers; keep each run to one set
            results: dict[int, bool] = {}
            for node in nodes:
                mine = [(i, h) for i, h in enumerate(held) if h[1].node_id == node]
                done = await self.release_many([h for _, h in mine])
                results.update(zip((i for i, _ in mine), done, strict=True))
            return [results[i] for i in range(len(held))]
        (node,) = nodes
        removed = await self._release_many(
            keys=[*(self.keys.owner(cp) for cp, _ in held), self.keys.held(node)],
            args=[*(o.encode() for _, o in held), *(cp for cp, _ in held)],
        )
        return [bool(r) for r in removed]

    async def reassert(self, charge_point_id: str, owner: Owner) -> bool:
        """Restore ``owner`` after Redis lost it; False if a newer connection owns it."""
        held = await self._reassert(
            keys=[
                self.keys.epoch(charge_point_id),
                self.keys.owner(charge_point_id),
                self.keys.held(owner.node_id),
            ],
            args=[owner.node_id, owner.epoch, charge_point_id, self.keys.held("")],
        )
        return bool(held)

    async def release_node(self, node_id: str, *, force: bool = False) -> list[tuple[str, Owner]]:
        """Release every owner entry ``node_id`` left (never one another node took since).
        Without ``force`` only while the node is unregistered (gone); ``force`` is for the
        node itself, starting with an id used before. Returns what was released."""
        released = await self._release_node(
            keys=[self.keys.held(node_id), self.keys.node(node_id)],
            args=[node_id, self.keys.owner(""), "1" if force else "0"],
        )
        result: list[tuple[str, Owner]] = []
        for item in released:
            text = item.decode() if isinstance(item, bytes) else str(item)
            charge_point_id, _, epoch = text.rpartition("|")
            result.append((charge_point_id, Owner(node_id, int(epoch))))
        return result

    async def nodes_holding(self) -> list[str]:
        """Every node id with a held set (alive or not)."""
        prefix_len = len(self.keys.held(""))
        found: list[str] = []
        async for key in self.redis.scan_iter(match=self.keys.held_pattern(), count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            found.append(name[prefix_len:])
        return found

    async def holds(self, charge_point_id: str, owner: Owner) -> bool:
        """Whether ``owner`` is still the recorded owner (checked before delivering)."""
        return await self.owner(charge_point_id) == owner

    async def owner(self, charge_point_id: str) -> Owner | None:
        return Owner.decode(await self.redis.get(self.keys.owner(charge_point_id)))
