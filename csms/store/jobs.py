"""Durable jobs on PgQueuer (ADR 0004): what the node, the backoffice and the CLI enqueue,
on the pool they already have; ``csms worker`` runs them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.queries import Queries


class PgJobQueue:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._queries = Queries(AsyncpgPoolDriver(pool))

    async def enqueue(
        self,
        entrypoint: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        delay: float = 0.0,
    ) -> bool:
        ids = await self._queries.enqueue(
            entrypoint,
            orjson.dumps(payload),
            execute_after=timedelta(seconds=delay) if delay else None,
            dedupe_key=dedupe_key,
            on_conflict="skip",
        )
        return ids[0] is not None
