"""What store functions accept: the pool, or a connection (e.g. inside a transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy[Any]
else:  # the proxy class is not subscriptable at run time
    Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy
