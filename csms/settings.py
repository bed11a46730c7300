"""Settings, read from ``CSMS_*`` environment variables (see docs/reference/settings.md).

One class per deployable; an instance is created in ``csms.cli`` and passed in, never read
from a global.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from csms.errors import ConfigurationError


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class CommonSettings(BaseSettings):
    """What every csms process needs: where PostgreSQL and Redis are, dev or production."""

    model_config = SettingsConfigDict(env_prefix="CSMS_", extra="ignore")

    env: Literal["dev", "production"] = Field(
        "dev", description="`production` refuses unsafe defaults and embedded servers."
    )
    database_url: str | None = Field(
        None, description="PostgreSQL DSN. Unset: an embedded PostgreSQL under data_dir (dev)."
    )
    redis_url: str | None = Field(
        None, description="Redis URL. Unset: an embedded Redis under data_dir (dev)."
    )
    redis_prefix: str = Field(
        "csms:", description="Prefix of every Redis key (lets deployments share a Redis)."
    )
    data_dir: Path = Field(Path(".data"), description="Where embedded servers keep their data.")
    log_level: str = Field("INFO", description="Python logging level name.")
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(10, ge=1)

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    def check_safe(self) -> None:
        """Refuse to run with settings that are only acceptable in dev mode."""
        if self.is_dev:
            return
        if not self.database_url:
            raise ConfigurationError("CSMS_DATABASE_URL must be set when CSMS_ENV=production")
        if not self.redis_url:
            raise ConfigurationError("CSMS_REDIS_URL must be set when CSMS_ENV=production")


class NodeSettings(CommonSettings):
    """Settings of a charger-facing node (``csms node`` / ``csms up``)."""

    node_id: str = Field(default_factory=_default_node_id)
    host: str = Field("127.0.0.1", description="Address the OCPP WebSocket server binds.")
    port: int = Field(9000, ge=0, le=65535, description="OCPP WebSocket port (0: any free).")
    heartbeat_interval: int = Field(300, ge=1, description="Seconds, sent in BootNotification.")
    boot_retry_interval: int = Field(
        60, ge=1, description="Seconds a Pending/Rejected charger waits before booting again."
    )
    max_frame_bytes: int = Field(262_144, ge=1024, description="Largest accepted OCPP frame.")
    open_timeout: float = Field(10.0, gt=0, description="Seconds allowed for a handshake.")
    ws_compression: bool = Field(
        False, description="permessage-deflate; costs ~40 KiB per connection."
    )
    ws_ping_interval: float | None = Field(
        60.0, description="WebSocket ping interval in seconds; unset to disable."
    )
    journal_enabled: bool = Field(True, description="Keep every OCPP frame in charger_messages.")
    journal_retention_days: float = Field(7.0, gt=0, description="Days the journal is kept.")
    write_batch_rows: int = Field(500, ge=1, description="Largest batch of meter/journal rows.")
    write_batch_delay_ms: float = Field(
        5.0, ge=0, description="How long a write waits to gather a batch."
    )
    validate_responses: bool = Field(
        True, description="Validate our own CALLRESULTs against the OCPP schemas."
    )
    allow_unauthenticated_chargers: bool = Field(
        False,
        description="Production only: let chargers registered with --no-auth connect. "
        "Always allowed in dev.",
    )

    @field_validator("node_id")
    @classmethod
    def _node_id_shape(cls, value: str) -> str:
        if not value or len(value) > 64 or any(c in value for c in " :/"):
            raise ValueError("node_id: 1-64 characters, no spaces, ':' or '/'")
        return value
