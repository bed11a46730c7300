"""Settings of features several processes share: firmware URLs, payments, notifications."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from csms.errors import ConfigurationError
from csms.secretbox import DEV_KEY, SecretBox, parse_key
from csms.settings.common import CommonSettings

# A placeholder that works out of the box in dev; `check_safe` refuses it outside dev.
DEFAULT_FIRMWARE_URL_SECRET = "dev-only-insecure-firmware-url-secret"


class FirmwareSettings(CommonSettings):
    """Firmware files: where they are kept, and the signed URLs chargers download them by
    (the backoffice serves them, the worker hands the URLs out, the CLI uploads)."""

    firmware_dir: Path | None = Field(
        None,
        description="Directory for uploaded firmware files (shared by the backoffice, the "
        "worker and the CLI); unset: PostgreSQL large objects.",
    )
    firmware_max_bytes: int = Field(
        1024**3, ge=1, description="Largest firmware file accepted by an upload."
    )
    firmware_url_secret: SecretStr = Field(
        SecretStr(DEFAULT_FIRMWARE_URL_SECRET),
        description="HMAC key of the firmware download URLs given to chargers; at least 32 "
        "characters outside dev, the same in the backoffice and the worker.",
    )
    firmware_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The backoffice as chargers reach it: firmware URLs start with this.",
    )
    firmware_url_ttl: float = Field(
        86_400.0,
        gt=0,
        description="Seconds a firmware download URL stays valid after its retrieve time.",
    )

    def check_safe(self) -> None:
        super().check_safe()
        if self.is_dev:
            return
        secret = self.firmware_url_secret.get_secret_value()
        if secret == DEFAULT_FIRMWARE_URL_SECRET or len(secret) < 32:
            raise ConfigurationError(
                "CSMS_FIRMWARE_URL_SECRET must be set to at least 32 random characters "
                "when CSMS_ENV=production"
            )


class PaymentSettings(CommonSettings):
    """What the processes that take payments need: the card processor and the retry
    schedule (``csms backoffice``, ``csms worker``, the ``csms`` payment commands)."""

    card_api_url: str | None = Field(
        None,
        description="Base URL of the card processor's API (payment intents, refunds); unset: "
        "no card payments.",
    )
    card_api_key: SecretStr | None = Field(
        None, description="Secret API key sent as a bearer token to the card processor."
    )
    card_webhook_secret: SecretStr | None = Field(
        None,
        description="Secret the card processor signs webhooks with (comma separated: two "
        "while rolling it over).",
    )
    card_webhook_tolerance: float = Field(
        300.0, gt=0, description="Seconds a webhook's signed timestamp may be from now."
    )
    card_timeout: float = Field(
        10.0, gt=0, description="Seconds a request to the card processor may take."
    )
    payment_max_attempts: int = Field(
        4, ge=1, le=20, description="Tries of a card payment of a receivable before it fails."
    )
    payment_retry_delay: float = Field(
        3600.0, gt=0, description="Seconds before a declined receivable is tried again; doubles."
    )
    payment_retry_max_delay: float = Field(
        259_200.0, gt=0, description="Longest wait between two tries of a receivable."
    )
    payment_check_after: float = Field(
        600.0,
        gt=0,
        description="Seconds after which the worker asks the processor about a payment whose "
        "webhook has not come.",
    )
    payment_expire_after: float = Field(
        86_400.0,
        gt=0,
        description="Seconds a card top-up may wait for its driver to pay before it is canceled.",
    )

    @property
    def card_enabled(self) -> bool:
        return bool(self.card_api_url)

    def check_safe(self) -> None:
        """Besides the common checks: a card processor configured in production has its
        secrets and is reached over HTTPS."""
        super().check_safe()
        if self.is_dev or not self.card_api_url:
            return
        if self.card_api_key is None or not self.card_api_key.get_secret_value():
            raise ConfigurationError(
                "CSMS_CARD_API_KEY must be set with CSMS_CARD_API_URL when CSMS_ENV=production"
            )
        secret = self.card_webhook_secret
        if secret is None or not secret.get_secret_value().strip(", "):
            raise ConfigurationError(
                "CSMS_CARD_WEBHOOK_SECRET must be set with CSMS_CARD_API_URL when "
                "CSMS_ENV=production"
            )
        if not self.card_api_url.startswith("https://"):
            raise ConfigurationError("CSMS_CARD_API_URL must be https:// when CSMS_ENV=production")


class NotificationSettings(CommonSettings):
    """Webhooks and e-mail notifications (docs/how-to/get-alarms-by-webhook-and-email.md):
    the backoffice checks webhook URLs, ``csms worker`` delivers."""

    webhook_allow_private: bool | None = Field(
        None,
        description="Let webhook URLs point at loopback, private and link-local addresses "
        "(a receiver on this machine or the internal network); unset: allowed in dev, "
        "refused in production.",
    )
    webhook_timeout: float = Field(
        10.0, gt=0, le=120, description="Seconds a webhook receiver has to answer."
    )
    webhook_secret_grace: float = Field(
        86_400.0,
        ge=0,
        description="Seconds a rotated webhook secret still signs deliveries beside the new "
        "one (receivers switch over meanwhile).",
    )
    notify_max_attempts: int = Field(
        8, ge=1, le=50, description="Tries of a webhook or e-mail delivery before it is dead."
    )
    notify_retry_delay: float = Field(
        10.0, gt=0, description="Seconds before the first retry of a delivery; doubles each try."
    )
    notify_retry_max_delay: float = Field(
        3600.0, gt=0, description="Longest wait between two tries of a delivery (before jitter)."
    )
    notify_sweep_schedule: str = Field(
        "* * * * *",
        description="Cron schedule of the sweep that queues notifications and deliveries whose "
        "job was lost.",
    )
    notify_retention_days: float = Field(
        30.0,
        gt=0,
        description="Days notifications are kept once all their deliveries are done (with "
        "their delivery log); the sweep deletes older ones.",
    )
    smtp_host: str | None = Field(
        None, description="SMTP server e-mail notifications go through; unset: no e-mail."
    )
    smtp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port; unset: 25 (CSMS_SMTP_TLS=none), 587 (starttls), 465 (tls).",
    )
    smtp_username: str | None = Field(None, description="SMTP login; unset: no AUTH.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        "starttls",
        description="`starttls` (upgrade a plain connection), `tls` (implicit TLS) or `none`.",
    )
    smtp_from: str = Field(
        "csms@localhost", min_length=3, description="The From address of notification e-mails."
    )
    smtp_timeout: float = Field(30.0, gt=0, description="Seconds an SMTP exchange may take.")
    data_key: SecretStr | None = Field(
        None,
        description="Key that seals webhook signing secrets in the database (base64 of 32 "
        "random bytes, e.g. `openssl rand -base64 32`); required outside dev, the same "
        "in the backoffice and the worker.",
    )
    data_key_previous: SecretStr | None = Field(
        None,
        description="The key CSMS_DATA_KEY replaced: it still opens what it sealed until "
        "`csms worker` has sealed it again under the new one.",
    )

    @field_validator("data_key", "data_key_previous", mode="before")
    @classmethod
    def _valid_data_key(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str):
            try:
                parse_key(text)
            except ValueError as exc:  # never the value itself in the message
                raise ValueError(f"not a data key ({exc}): base64 of 32 random bytes") from None
        return value

    @property
    def secret_box(self) -> SecretBox:
        """Seals with CSMS_DATA_KEY (in dev without one: a public development key) and
        opens with it and CSMS_DATA_KEY_PREVIOUS."""
        keys = [
            parse_key(key.get_secret_value())
            for key in (self.data_key, self.data_key_previous)
            if key is not None
        ]
        if self.data_key is None:
            keys.insert(0, DEV_KEY)
        return SecretBox(keys)

    @field_validator("smtp_host", "smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_smtp_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def webhooks_may_be_private(self) -> bool:
        if self.webhook_allow_private is None:
            return self.is_dev
        return self.webhook_allow_private

    @property
    def smtp_port_or_default(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return {"none": 25, "starttls": 587, "tls": 465}[self.smtp_tls]

    def check_safe(self) -> None:
        """Besides the common checks, outside dev: a data key, and SMTP credentials never
        cross the network in clear."""
        super().check_safe()
        if self.is_dev:
            return
        if self.data_key is None:
            raise ConfigurationError(
                "CSMS_DATA_KEY must be set when CSMS_ENV=production (base64 of 32 random "
                "bytes, e.g. `openssl rand -base64 32`)"
            )
        if not self.smtp_host:
            return
        if self.smtp_username and self.smtp_tls == "none":
            raise ConfigurationError(
                "CSMS_SMTP_USERNAME needs CSMS_SMTP_TLS=starttls or tls when CSMS_ENV=production"
            )
