"""The management pages (tariffs, sites, id tokens, users, firmware campaigns), mounted by
:func:`backoffice.console.install` with the others."""

from __future__ import annotations

from types import ModuleType

from backoffice.console import firmware, sites, tariffs, tokens, users

MANAGE_PAGES: tuple[ModuleType, ...] = (tariffs, sites, tokens, users, firmware)
