"""Login rate limits in Redis, shared by every backoffice replica.

Failed logins are counted per (username, client address) and per client address within a
fixed window; once either count reaches its limit, logins from there answer 429 until the
window ends, even with the right password. A success clears the (username, address) count.
A refused token refresh (unknown, reused, expired) counts as a failure of its address, and
an address at its limit gets 429 for refreshes too. If Redis is unreachable the limiter lets
logins through (and logs it): Argon2 still makes guessing slow, and an outage of Redis must
not lock every operator out.

Both keys of an address carry it as their hash tag (``{address}``), so the script that
counts a failure in both works on a Redis Cluster.
"""

from __future__ import annotations

import hashlib
import logging

from redis.exceptions import RedisError

from backoffice.errors import TooManyRequests
from csms.cluster.connect import RedisClient
from csms.settings import BackofficeSettings

log = logging.getLogger(__name__)

# Count a failure in each key; the window starts with the first one. (EXPIRE ... NX would
# do, but needs Redis 7 and the embedded Redis is 6.2.)
_COUNT_FAILURE = """
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
return 1
"""


class LoginLimiter:
    def __init__(self, redis: RedisClient, key_prefix: str, settings: BackofficeSettings) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.window = settings.login_window_seconds
        self.max_per_user = settings.login_max_attempts
        self.max_per_address = settings.login_max_attempts_per_ip
        self._count_failure = redis.register_script(_COUNT_FAILURE)

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        # hashed: usernames may hold anything; keys stay short and unreadable
        who = hashlib.sha256(f"{username.lower()}\x00{address}".encode()).hexdigest()[:32]
        return f"{self._address_key(address)}:user:{who}", self._address_key(address)

    def _address_key(self, address: str) -> str:
        return f"{self.key_prefix}{{{address}}}"

    async def check(self, username: str, address: str) -> None:
        """Raise TooManyRequests while either count is at its limit."""
        user_key, address_key = self._keys(username, address)
        try:
            user_count, address_count = await self.redis.mget([user_key, address_key])
            if user_count is not None and int(user_count) >= self.max_per_user:
                blocked = user_key
            elif address_count is not None and int(address_count) >= self.max_per_address:
                blocked = address_key
            else:
                return
            ttl = await self.redis.ttl(blocked)
        except (RedisError, OSError) as exc:
            log.warning("login rate limit not checked (Redis: %s)", exc)
            return
        raise TooManyRequests(
            "too many failed logins; try again later", retry_after=ttl if ttl > 0 else self.window
        )

    async def check_address(self, address: str) -> None:
        """Raise TooManyRequests while the address's count is at its limit (refreshes)."""
        key = self._address_key(address)
        try:
            count = await self.redis.get(key)
            if count is None or int(count) < self.max_per_address:
                return
            ttl = await self.redis.ttl(key)
        except (RedisError, OSError) as exc:
            log.warning("refresh rate limit not checked (Redis: %s)", exc)
            return
        raise TooManyRequests(
            "too many failed logins or refreshes; try again later",
            retry_after=ttl if ttl > 0 else self.window,
        )

    async def failed_address(self, address: str) -> None:
        """Count a refused token refresh against its address."""
        try:
            await self._count_failure(keys=[self._address_key(address)], args=[self.window])
        except (RedisError, OSError) as exc:
            log.warning("refused refresh not counted (Redis: %s)", exc)

    async def failed(self, username: str, address: str) -> None:
        try:
            await self._count_failure(keys=list(self._keys(username, address)), args=[self.window])
        except (RedisError, OSError) as exc:
            log.warning("failed login not counted (Redis: %s)", exc)

    async def succeeded(self, username: str, address: str) -> None:
        try:
            await self.redis.delete(self._keys(username, address)[0])
        except (RedisError, OSError) as exc:
            log.warning("login count not cleared (Redis: %s)", exc)
