"""Settings, read from ``CSMS_*`` environment variables (see docs/reference/settings.md).

One class per deployable; an instance is created in ``csms.cli`` and passed in, never read
from a global.

One module per kind (common, node, features several processes share, the backoffice and
the worker); everything is importable from here.
"""

from __future__ import annotations

from csms.settings.common import MIN_METRICS_TOKEN, CommonSettings
from csms.settings.features import (
    DEFAULT_FIRMWARE_URL_SECRET,
    FirmwareSettings,
    NotificationSettings,
    PaymentSettings,
)
from csms.settings.node import DEFAULT_TLS_CIPHERS, NodeSettings
from csms.settings.processes import (
    DEFAULT_JWT_SECRET,
    MIN_JWT_SECRET,
    BackofficeSettings,
    WorkerSettings,
)

__all__ = [
    "BackofficeSettings",
    "CommonSettings",
    "DEFAULT_FIRMWARE_URL_SECRET",
    "DEFAULT_JWT_SECRET",
    "DEFAULT_TLS_CIPHERS",
    "FirmwareSettings",
    "MIN_JWT_SECRET",
    "MIN_METRICS_TOKEN",
    "NodeSettings",
    "NotificationSettings",
    "PaymentSettings",
    "WorkerSettings",
]
