"""Dependencies as ``Annotated`` aliases: what a route needs, and who may call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Query

from backoffice.permissions import Allow, AllowDegraded, Principal, Role, public
from backoffice.state import State, get_state
from csms.cluster.connect import RedisClient
from csms.services import Services
from csms.settings import BackofficeSettings

StateDep = Annotated[State, Depends(get_state)]


def _pool(state: StateDep) -> asyncpg.Pool:
    return state.pool


def _redis(state: StateDep) -> RedisClient:
    return state.redis


def _settings(state: StateDep) -> BackofficeSettings:
    return state.settings


def _services(state: StateDep) -> Services:
    return state.services


PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
RedisDep = Annotated[RedisClient, Depends(_redis)]
SettingsDep = Annotated[BackofficeSettings, Depends(_settings)]
ServicesDep = Annotated[Services, Depends(_services)]

# -- who may call: exactly one of these per route ------------------------------------------

Public = Annotated[None, Depends(public)]
AnyUser = Annotated[Principal, Depends(Allow(*Role))]
"""Every role; drivers see only what they own."""
Reader = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.OPERATOR, Role.MONITOR))]
"""Staff that may read everything."""
Operator = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.OPERATOR))]
"""Staff that may change chargers, tokens, tariffs and sites and send commands."""
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
"""Users and everything else."""
StatusReader = Annotated[Principal, Depends(AllowDegraded(Role.ADMIN, Role.OPERATOR, Role.MONITOR))]
"""Staff that may read the service status, which answers while PostgreSQL or Redis is down
(the token is then checked on what can still be checked)."""


# -- pagination --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None


def _page(
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, description="Items per page (capped at CSMS_MAX_PAGE_SIZE)"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=256, description="`next_cursor` of the previous page"),
    ] = None,
) -> PageParams:
    size = settings.default_page_size if limit is None else limit
    return PageParams(min(size, settings.max_page_size), cursor)


PageDep = Annotated[PageParams, Depends(_page)]
