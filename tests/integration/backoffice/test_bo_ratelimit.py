"""The login limiter against a real Redis: per username and address, and per address."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from backoffice.errors import TooManyRequests
from backoffice.services.ratelimit import LoginLimiter
from csms.settings import BackofficeSettings


@pytest.fixture
async def limiter(redis_url: str, redis_prefix: str) -> AsyncIterator[LoginLimiter]:
    redis = Redis.from_url(redis_url)
    settings = BackofficeSettings(
        login_max_attempts=2, login_max_attempts_per_ip=3, login_window_seconds=30
    )
    yield LoginLimiter(redis, f"{redis_prefix}limit-{secrets.token_hex(3)}:", settings)
    await redis.aclose()


async def test_per_username_and_address(limiter: LoginLimiter) -> None:
    for _ in range(2):
        await limiter.check("alice", "10.0.0.1")
        await limiter.failed("alice", "10.0.0.1")
    with pytest.raises(TooManyRequests) as blocked:
        await limiter.check("ALICE", "10.0.0.1")  # usernames are case insensitive
    assert 0 < int(blocked.value.headers["Retry-After"]) <= 30
    await limiter.check("alice", "10.0.0.2")  # another address is not blocked
    await limiter.check("bob", "10.0.0.3")


async def test_success_clears_the_username_count(limiter: LoginLimiter) -> None:
    await limiter.failed("carol", "10.0.1.1")
    await limiter.succeeded("carol", "10.0.1.1")
    await limiter.failed("carol", "10.0.1.1")
    await limiter.check("carol", "10.0.1.1")


async def test_per_address_across_usernames(limiter: LoginLimiter) -> None:
    for name in ("u1", "u2", "u3"):
        await limiter.failed(name, "10.0.2.1")
    with pytest.raises(TooManyRequests):
        await limiter.check("u4", "10.0.2.1")  # password spraying from one address


async def test_redis_down_lets_logins_through(redis_prefix: str) -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = LoginLimiter(redis, f"{redis_prefix}down:", BackofficeSettings())
    try:
        await limiter.failed("dave", "10.0.3.1")
        await limiter.check("dave", "10.0.3.1")
    finally:
        await redis.aclose()
