"""Settings, read from ``CSMS_*`` environment variables (see docs/reference/settings.md).

One class per deployable; an instance is created in ``csms.cli`` and passed in, never read
from a global.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from csms.domain.cdrs import CONNECTOR_STANDARDS
from csms.domain.sites import check_time_zone
from csms.errors import ConfigurationError, InvalidInput
from csms.networks import parse_networks
from csms.secretbox import DEV_KEY, SecretBox, parse_key

MIN_METRICS_TOKEN = 16
# TLS 1.2 suites a node offers: the four A00.FR.318/421 require (ECDSA and RSA certificates,
# AES-GCM) plus their forward-secret ECDHE-RSA twins. TLS 1.3 suites are all AEAD (OpenSSL's).
DEFAULT_TLS_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384"
)


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class CommonSettings(BaseSettings):
    """What every csms process needs: where PostgreSQL and Redis are, dev or production."""

    # a value that fails validation may be a secret: errors name the setting, not the value
    model_config = SettingsConfigDict(env_prefix="CSMS_", extra="ignore", hide_input_in_errors=True)

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
    db_retry_seconds: float = Field(
        10.0,
        ge=0,
        description="Seconds a statement waits for PostgreSQL to come back (a restart, a "
        "failover) before it fails; 0: it fails at once.",
    )
    cost_rounding: Literal[
        "ROUND_HALF_UP",
        "ROUND_HALF_EVEN",
        "ROUND_HALF_DOWN",
        "ROUND_UP",
        "ROUND_DOWN",
        "ROUND_CEILING",
        "ROUND_FLOOR",
    ] = Field(
        "ROUND_HALF_UP",
        description="How amounts are rounded to the currency's minor unit (once per line "
        "and its VAT; docs/topics/tariffs-and-cost.md).",
    )
    default_time_zone: str = Field(
        "UTC",
        description="IANA time zone of chargers at no site: time-of-day tariff rules are read "
        "in it.",
    )
    # -- charge detail records (docs/reference/cdr-export.md) --
    ocpi_country_code: str = Field(
        "XX",
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166 alpha-2 country code of the operator in OCPI CDRs.",
    )
    ocpi_party_id: str = Field(
        "CSM",
        pattern=r"^[A-Z0-9]{3}$",
        description="The operator's OCPI party id (ISO 15118, 3 characters) in CDRs.",
    )
    ocpi_connector_standard: str = Field(
        "IEC_62196_T2", description="OCPI ConnectorType of the fleet's connectors in CDRs."
    )
    ocpi_connector_format: Literal["SOCKET", "CABLE"] = Field(
        "SOCKET", description="OCPI ConnectorFormat of the fleet's connectors in CDRs."
    )
    ocpi_power_type: Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"] = (
        Field("AC_3_PHASE", description="OCPI PowerType of the fleet's connectors in CDRs.")
    )

    # -- security profiles and metrics (docs/topics/security.md) --
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token Prometheus sends to GET /metrics (backoffice and nodes); "
        "unset: metrics are public in dev and disabled in production.",
    )
    tls_public_url: str | None = Field(
        None,
        pattern=r"^wss://",
        description="The wss:// URL (without the charge point id) chargers are given when "
        "upgraded to security profile 2 or 3 (2.0.1 SetNetworkProfile ocppCsmsUrl).",
    )
    security_upgrade_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds a charger has to come back with the new security profile after "
        "an upgrade before the upgrade is rolled back.",
    )

    @field_validator("metrics_token", "tls_public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose's ${VAR:-} passes an empty string for a variable that is not set
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ocpi_connector_standard")
    @classmethod
    def _connector_standard(cls, value: str) -> str:
        if value not in CONNECTOR_STANDARDS:
            raise ValueError(f"{value!r} is not an OCPI 2.2.1 ConnectorType")
        return value

    @field_validator("redis_prefix")
    @classmethod
    def _no_hash_tag(cls, value: str) -> str:
        # the keys carry hash tags of their own (csms/cluster/keys.py); one in the prefix
        # would replace them
        if "{" in value or "}" in value:
            raise ValueError("the Redis prefix may not contain '{' or '}'")
        return value

    # invoices, issued by csms worker, the backoffice and the CLI (docs/topics/invoices.md)
    invoice_seller_name: str = Field(
        "", max_length=255, description="The seller on every invoice (required in production)."
    )
    invoice_seller_address: str = Field(
        "", max_length=1000, description="The seller's address; `\\n` starts a new line."
    )
    invoice_seller_country: str = Field("", max_length=64, description="The seller's country.")
    invoice_seller_vat_id: str = Field("", max_length=64, description="The seller's VAT id.")
    invoice_seller_email: str = Field("", max_length=255, description="The seller's e-mail.")
    invoice_series: str = Field(
        "INV", pattern=r"^[A-Z0-9-]{1,16}$", description="Series of invoice numbers."
    )
    credit_note_series: str = Field(
        "CN", pattern=r"^[A-Z0-9-]{1,16}$", description="Series of credit note numbers."
    )
    invoice_time_zone: str = Field(
        "UTC", description="IANA time zone billing periods (months) begin and end in."
    )
    invoice_locale: str = Field(
        "en", description="Locale of amounts and dates on PDF invoices (`en`, `de_DE`, ...)."
    )
    invoice_font: Path | None = Field(
        None, description="A TrueType font for PDF invoices (any script); unset: Helvetica."
    )
    alarm_flapping_window: float = Field(
        300.0,
        ge=0,
        description="Seconds after its clear within which an alarm raised again is the same "
        "alarm (its count goes up) rather than a new one.",
    )

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return check_time_zone(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("invoice_time_zone")
    @classmethod
    def _known_invoice_zone(cls, value: str) -> str:
        try:
            return check_time_zone(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("invoice_font", mode="before")
    @classmethod
    def _font_file(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # CSMS_INVOICE_FONT= (empty): Helvetica
        path = Path(str(value))
        if path.suffix.lower() not in (".ttf", ".otf") or not path.is_file():
            raise ValueError(f"{path}: not a TrueType/OpenType font file (.ttf, .otf)")
        return path

    @field_validator("invoice_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value)
        except (ValueError, UnknownLocaleError):
            raise ValueError(f"unknown locale {value!r}") from None
        return value

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    def check_safe(self) -> None:
        """Refuse to run with settings that are only acceptable in dev mode."""
        token = self.metrics_token
        if token is not None and len(token.get_secret_value()) < MIN_METRICS_TOKEN:
            raise ConfigurationError(
                f"CSMS_METRICS_TOKEN must have at least {MIN_METRICS_TOKEN} characters"
            )
        if self.is_dev:
            return
        if not self.database_url:
            raise ConfigurationError("CSMS_DATABASE_URL must be set when CSMS_ENV=production")
        if not self.redis_url:
            raise ConfigurationError("CSMS_REDIS_URL must be set when CSMS_ENV=production")


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
    listen_backlog: int = Field(
        4096,
        ge=1,
        description="Pending TCP connections the OCPP port queues (capped by the kernel's "
        "net.core.somaxconn); too small and a reconnect storm's SYNs are dropped and retried "
        "seconds later.",
    )
    ws_compression: bool = Field(
        False, description="permessage-deflate; costs ~40 KiB per connection."
    )
    gc_storm_freeze: bool = Field(
        True,
        description="While chargers connect faster than 400/s, keep what they leave behind "
        "out of the garbage collector's older generations (gc.freeze), handed back 10 s "
        "after the storm.",
    )
    ws_ping_interval: float | None = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="WebSocket ping interval in seconds; empty or 0 disables.",
    )
    journal_enabled: bool = Field(True, description="Keep every OCPP frame in charger_messages.")
    journal_retention_days: float = Field(
        7.0, ge=0, description="Days the journal is kept (csms worker drops older days)."
    )
    write_batch_rows: int = Field(500, ge=1, description="Largest batch of meter/journal rows.")
    write_batch_delay_ms: float = Field(
        5.0, ge=0, description="How long a write waits to gather a batch."
    )
    journal_batch_delay_ms: float = Field(
        50.0,
        ge=0,
        description="How long a journal row waits to gather a batch (nobody waits for it).",
    )
    event_batch_delay_ms: float = Field(
        50.0,
        ge=0,
        le=10_000,
        description="How long a live event waits to gather a stream entry (nobody waits for it).",
    )
    validate_responses: bool = Field(
        True, description="Validate our own CALLRESULTs against the OCPP schemas."
    )
    presence_sweep_interval: float = Field(
        10.0,
        gt=0,
        description="Seconds between presence sweeps: chargers of a node that is gone read as "
        "offline at most the registration TTL (10 s) plus this after it died.",
    )
    session_reboot_grace: float = Field(
        600.0,
        gt=0,
        description="Seconds after a charger's boot by which it has delivered the stops it "
        "queued; a session still open then, with nothing heard about it since the boot, is "
        "closed (reason rebooted).",
    )
    session_check_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a charger has to answer each GetTransactionStatus the node sends "
        "after it (re)connects or boots (2.0.1: sessions the CSMS still has open).",
    )
    allow_unauthenticated_chargers: bool = Field(
        False,
        description="Production only: let chargers registered with --no-auth connect. "
        "Always allowed in dev.",
    )
    cost_update_interval: float = Field(
        30.0,
        ge=0,
        description="Seconds between two running costs of a session (recomputed when a "
        "meter value arrives at least this long after the last; 0: every meter value). "
        "Shown as 2.0.1 totalCost and 1.6 RunningCost, and on the live stream.",
    )
    tariff_push_interval: float = Field(
        10.0,
        gt=0,
        description="Seconds between two looks for price displays to push to the chargers "
        "this node holds (chargers also get theirs when they connect).",
    )
    tariff_push_timeout: float = Field(
        30.0, gt=0, description="Seconds a charger has to answer each call of a tariff push."
    )
    billing_enabled: bool = Field(
        True,
        description="Settle every ended session (charge or review) through csms worker, "
        "and refuse at Authorize a token whose account is blocked, closed or out of credit; "
        "false: sessions are priced but not billed.",
    )
    total_cost_fallback_message: str = Field(
        "The cost of your session will be on your receipt.",
        max_length=255,
        description="2.0.1 TariffCostCtrlr.TotalCostFallbackMessage pushed with tariffs: "
        "shown when the charger cannot get a session's final cost.",
    )
    # -- abuse limits (docs/topics/deployment.md, "Abuse limits") --
    connection_rate_per_address: float = Field(
        20.0,
        ge=0,
        description="New connections a second from one source address (an IPv6 /64) once "
        "its burst is spent; more are reset at once. 0: no limit.",
    )
    connection_burst_per_address: int = Field(
        100, ge=1, description="Connections one source address may open at once."
    )
    handshakes_per_address: int = Field(
        50,
        ge=0,
        description="WebSocket handshakes in progress at once from one source address; "
        "more are reset at once. 0: no limit.",
    )
    limit_exempt_addresses: str = Field(
        "",
        description="Comma list of addresses or networks never limited per address "
        "(a load balancer that does not pass the client's address, probes).",
    )
    charger_message_rate: float = Field(
        50.0,
        ge=0,
        description="Messages a second one charger may send once its burst is spent; more "
        "are answered CALLERROR GenericError. 0: no limit.",
    )
    charger_message_burst: int = Field(
        200, ge=1, description="Messages one charger may send at once."
    )
    charger_refusals_before_close: int = Field(
        500,
        ge=0,
        description="Messages of one charger refused by its rate within a minute before "
        "its socket is closed (1008). 0: never closed.",
    )
    charger_max_pending_calls: int = Field(
        32,
        ge=1,
        description="CSMS calls (commands, pushes) queued or outstanding per charger; "
        "more are rejected at once.",
    )

    @field_validator("limit_exempt_addresses")
    @classmethod
    def _exempt_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    config_read_on_boot: bool = Field(
        True,
        description="Read each charger's configuration again after every accepted boot "
        "(1.6 GetConfiguration, 2.0.1 GetBaseReport FullInventory), confirm RebootRequired "
        "values and re-apply profiles with reapply_on_boot: a csms worker job queued once "
        "the boot is answered. False: only on demand (csms config refresh).",
    )

    # -- certificates (docs/topics/certificates.md) --
    ca_cert_file: Path | None = Field(
        None,
        description="PEM certificate of the built-in certificate authority that signs "
        "chargers' CSRs (the CA first, then its issuers if it is an intermediate); with "
        "CSMS_CA_KEY_FILE. Unset (and no CSMS_CA_FACTORY): SignCertificate is Rejected.",
    )
    ca_key_file: Path | None = Field(
        None, description="PEM private key (RSA or EC) of CSMS_CA_CERT_FILE; keep it mode 0600."
    )
    ca_key_passphrase: SecretStr | None = Field(
        None, description="Passphrase of an encrypted CSMS_CA_KEY_FILE."
    )
    ca_factory: str | None = Field(
        None,
        description="An external certificate authority: package.module:function, called with "
        "the node's settings, returning an object with async sign(csr_pem, charge_point_id) "
        "-> PEM chain. Takes precedence over CSMS_CA_CERT_FILE.",
    )
    cert_organization: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The operator's name: a CSR must carry it as O (A00.FR.404/509) and "
        "certificates the built-in authority signs carry it. Unset: any O (or none).",
    )
    charger_cert_days: int = Field(
        365, ge=1, le=3650, description="Validity in days of a certificate signed for a charger."
    )

    # -- TLS and security profiles (docs/topics/security.md#security-profiles-and-tls) --
    tls_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="wss:// port (security profiles 2 and 3) beside CSMS_PORT; unset: no "
        "TLS listener. 0 picks a free one.",
    )
    tls_cert_file: Path | None = Field(None, description="PEM server certificate (chain).")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_second_cert_file: Path | None = Field(
        None,
        description="A second server certificate of the other key type (RSA beside ECDSA), "
        "so every cipher suite A00.FR.318 names can be negotiated.",
    )
    tls_second_key_file: Path | None = Field(None, description="Its private key.")
    tls_client_ca_file: Path | None = Field(
        None,
        description="PEM CA bundle charger certificates must chain to (profile 3); unset: "
        "CSMS_CA_CERT_FILE (the built-in authority's chargers' certificates), else no client "
        "certificates, profile 2 only.",
    )
    tls_client_organization: str | None = Field(
        None,
        min_length=1,
        description="The O (organizationName) a charger certificate's subject must hold "
        "(A00.FR.404); unset: not checked.",
    )
    tls_ciphers: str = Field(
        DEFAULT_TLS_CIPHERS, min_length=1, description="OpenSSL list of TLS 1.2 cipher suites."
    )
    tls_min_version: Literal["1.2", "1.3"] = Field(
        "1.2", description="Oldest TLS version accepted (A00.FR.313: 1.2 or above)."
    )
    tls_reload_interval: float = Field(
        30.0,
        ge=0,
        description="Seconds between looks at the certificate files' modification times "
        "(renewed files are loaded for new handshakes); 0: only on SIGHUP.",
    )
    min_security_profile: int = Field(
        0,
        ge=0,
        le=3,
        description="Lowest security profile this node accepts from any charger (each "
        "charger also has its own recorded minimum).",
    )
    proxy_mode: Literal["off", "proxy-v2", "headers"] = Field(
        "off",
        description="How a TLS-terminating load balancer in CSMS_TRUSTED_PROXIES passes the "
        "client's TLS identity to CSMS_PORT: PROXY protocol v2 TLVs or X-SSL-* headers.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma list of addresses or networks (CIDR) of load balancers whose "
        "PROXY header or X-SSL-* headers are believed.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return value

    @property
    def client_ca_file(self) -> Path | None:
        """The CA bundle charger certificates must chain to (profile 3):
        CSMS_TLS_CLIENT_CA_FILE, else the built-in authority's CSMS_CA_CERT_FILE, so that
        the certificates it signs authenticate their chargers."""
        return self.tls_client_ca_file or self.ca_cert_file

    @model_validator(mode="after")
    def _tls_complete(self) -> NodeSettings:
        pairs = (
            ("CSMS_TLS_CERT_FILE", self.tls_cert_file, "CSMS_TLS_KEY_FILE", self.tls_key_file),
            (
                "CSMS_TLS_SECOND_CERT_FILE",
                self.tls_second_cert_file,
                "CSMS_TLS_SECOND_KEY_FILE",
                self.tls_second_key_file,
            ),
        )
        for cert_name, cert, key_name, key in pairs:
            if (cert is None) != (key is None):
                raise ValueError(f"{cert_name} and {key_name} go together")
        if self.tls_port is not None and self.tls_cert_file is None:
            raise ValueError("CSMS_TLS_PORT needs CSMS_TLS_CERT_FILE and CSMS_TLS_KEY_FILE")
        if self.proxy_mode != "off" and not self.trusted_proxies.strip():
            raise ValueError(f"CSMS_PROXY_MODE={self.proxy_mode} needs CSMS_TRUSTED_PROXIES")
        if self.min_security_profile >= 2 and self.tls_port is None and self.proxy_mode == "off":
            raise ValueError(
                "CSMS_MIN_SECURITY_PROFILE >= 2 needs CSMS_TLS_PORT or a TLS-terminating "
                "proxy (CSMS_PROXY_MODE)"
            )
        return self

    @field_validator("ws_ping_interval", mode="before")
    @classmethod
    def _ping_off(cls, value: object) -> object:
        # CSMS_WS_PING_INTERVAL= (empty) or 0 turns pings off
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, int | float | str) and float(value) == 0:
            return None
        return value

    @field_validator("node_id")
    @classmethod
    def _node_id_shape(cls, value: str) -> str:
        if not value or len(value) > 64 or any(c in value for c in " :/"):
            raise ValueError("node_id: 1-64 characters, no spaces, ':' or '/'")
        return value


# A placeholder that works out of the box in dev; `check_safe` refuses it outside dev.
DEFAULT_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
MIN_JWT_SECRET = 32


class BackofficeSettings(FirmwareSettings, PaymentSettings, NotificationSettings):
    """Settings of the REST backoffice (``csms backoffice`` / ``csms up``).

    ``api_host``/``api_port`` are not ``host``/``port`` so that ``csms up`` can run a node and
    the backoffice from one environment.
    """

    api_host: str = Field("127.0.0.1", description="Address the REST API binds.")
    api_port: int = Field(8000, ge=0, le=65535, description="REST API port (0: any free).")
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto are trusted (comma list, or *).",
    )
    jwt_secret: SecretStr = Field(
        SecretStr(DEFAULT_JWT_SECRET),
        description="HS256 signing key of access tokens; at least 32 characters outside dev.",
    )
    jwt_issuer: str = Field("csms", min_length=1, description="`iss` of access tokens.")
    jwt_audience: str = Field(
        "csms-backoffice", min_length=1, description="`aud` of access tokens."
    )
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Access token lifetime.")
    refresh_token_days: int = Field(14, ge=1, le=365, description="Refresh token lifetime.")
    bootstrap_admin: str | None = Field(
        None, description="Username of an admin created at start-up if it does not exist."
    )
    bootstrap_admin_password: SecretStr | None = Field(
        None, description="Password of the bootstrap admin (12-128 characters)."
    )
    login_max_attempts: int = Field(
        5, ge=1, description="Failed logins per username and client address per window."
    )
    login_max_attempts_per_ip: int = Field(
        50, ge=1, description="Failed logins per client address (any username) per window."
    )
    login_window_seconds: int = Field(300, ge=1, description="Login rate-limit window.")
    default_page_size: int = Field(50, ge=1, description="Items per page when none is asked.")
    max_page_size: int = Field(200, ge=1, le=1000, description="Largest page of any list.")
    command_timeout: float = Field(
        30.0, gt=0, le=300, description="Default and largest seconds a charger command waits."
    )
    breaker_fail_max: int = Field(
        5, ge=1, description="Failed commands to a node in a row that open its circuit breaker."
    )
    breaker_reset_timeout: float = Field(
        30.0, gt=0, description="Seconds an open breaker waits before letting a command try."
    )
    sse_keepalive_seconds: float = Field(
        15.0, gt=0, description="Seconds between keep-alive comments on an idle event stream."
    )
    sse_max_streams: int = Field(
        100, ge=1, description="Concurrent event streams per backoffice process."
    )
    billing_enabled: bool = Field(
        True,
        description="A driver's start (POST /api/v1/me/sessions) is refused when the "
        "account their token bills to is blocked or closed or a prepaid wallet is below its "
        "minimum, as the nodes refuse it at Authorize; set it as the nodes' (false: not "
        "checked).",
    )

    log_upload_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="Largest diagnostics / log upload a charger may send (bytes); a larger "
        "one is refused with 413 and nothing is kept.",
    )
    log_upload_ttl: float = Field(
        86_400.0,
        gt=0,
        description="Seconds a log upload URL stays valid after the request (a charger may "
        "retry its upload meanwhile).",
    )
    log_upload_dir: Path | None = Field(
        None,
        description="Directory that keeps uploaded logs (one file each); unset: PostgreSQL "
        "(in 256 KiB chunks).",
    )
    log_upload_base_url: str | None = Field(
        None,
        description="Base URL chargers reach the backoffice at, for log upload URLs (e.g. "
        "https://csms.example.com); unset: the URL the operator's request came to (the "
        "CLI: http://CSMS_API_HOST:CSMS_API_PORT).",
    )

    console_tile_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s'\";]+$",
        description="Map tile URL template of the console's site map (e.g. "
        "https://tile.example.com/{z}/{x}/{y}.png; `{s}` allowed in the host); unset: "
        "markers on a plain background, no request leaves the backoffice.",
    )

    @property
    def default_jwt_secret(self) -> bool:
        return self.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET

    def check_safe(self) -> None:
        """Besides the common checks: a real signing key outside dev mode."""
        super().check_safe()
        password = self.bootstrap_admin_password
        if self.bootstrap_admin and (password is None or len(password.get_secret_value()) < 12):
            raise ConfigurationError(
                "CSMS_BOOTSTRAP_ADMIN_PASSWORD must have at least 12 characters"
            )
        if self.is_dev:
            return
        secret = self.jwt_secret.get_secret_value()
        if secret == DEFAULT_JWT_SECRET or len(secret) < MIN_JWT_SECRET:
            raise ConfigurationError(
                f"CSMS_JWT_SECRET must be set to at least {MIN_JWT_SECRET} random characters "
                "when CSMS_ENV=production"
            )


class WorkerSettings(FirmwareSettings, PaymentSettings, NotificationSettings):
    """Settings of ``csms worker`` (durable jobs: settlement, invoices, payments)."""

    job_concurrency: int = Field(
        20, ge=1, description="Jobs one worker runs at once (across all kinds)."
    )
    job_batch_size: int = Field(10, ge=1, description="Jobs fetched per round trip.")
    job_max_attempts: int = Field(
        8, ge=1, description="Tries of a failing job before it is held as failed."
    )
    job_retry_delay: float = Field(
        2.0, gt=0, description="Seconds before the first retry; doubles at each try."
    )
    job_retry_max_delay: float = Field(600.0, gt=0, description="Longest wait between tries.")
    job_heartbeat_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds without a heartbeat after which a picked job (its worker died) "
        "is run again.",
    )
    job_poll_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds a worker waits for a notification before it looks for due jobs "
        "(delayed and retried jobs are found this way).",
    )
    settle_sweep_schedule: str = Field(
        "* * * * *", description="Cron schedule of the sweep for sessions never settled."
    )
    settle_sweep_after: float = Field(
        300.0,
        gt=0,
        description="Seconds after its end a session with neither a charge nor a review is "
        "settled by the sweep (its job was lost).",
    )
    billing_run_schedule: str = Field(
        "0 4 * * *",
        description="Cron schedule (UTC) of the billing run: it invoices the last month that "
        "ended, once per account (a run that finds it done issues nothing).",
    )
    invoice_sweep_schedule: str = Field(
        "*/10 * * * *",
        description="Cron schedule of the sweep that issues the per-session invoices whose job "
        "was lost.",
    )

    payment_sweep_schedule: str = Field(
        "* * * * *",
        description="Cron schedule of the sweep for card payments whose next look is due "
        "(its job was lost).",
    )

    job_command_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a charger has to answer each command a job sends (the "
        "rollback of a security profile upgrade, the certificate renewal trigger).",
    )

    journal_retention_days: float = Field(
        7.0, ge=0, description="Days of journal kept (whole days dropped); 0 keeps it forever."
    )
    meter_retention_days: float = Field(
        0.0,
        ge=0,
        description="Days of meter samples kept (whole weeks dropped); 0 keeps them forever.",
    )
    partition_schedule: str = Field(
        "7 * * * *",
        description="Cron schedule of the partition sweep: partitions made ahead, old ones "
        "dropped by retention.",
    )
    partition_days_ahead: int = Field(
        14, ge=1, le=366, description="Days ahead the partition sweep creates partitions for."
    )
    meter_rollup_schedule: str = Field(
        "* * * * *", description="Cron schedule of the hourly meter rollups' update."
    )

    # -- certificates (docs/topics/certificates.md) --
    cert_renew_before_days: float = Field(
        30.0,
        gt=0,
        description="Days before its expiry a charger's certificate is renewed (the worker "
        "asks the charger for a new CSR).",
    )
    cert_renew_retry_interval: float = Field(
        86_400.0,
        gt=0,
        description="Seconds between two renewal attempts of one certificate; an attempt that "
        "brought no new certificate by then is a failed renewal (a charger event).",
    )
    cert_renew_schedule: str = Field(
        "*/15 * * * *",
        description="Cron schedule of the sweep for certificates due for renewal (a sixth "
        "field is seconds).",
    )

    firmware_tick_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between two looks at each unfinished firmware campaign (time "
        "outs, halts, next waves, whom to send the update now).",
    )
    firmware_command_timeout: float = Field(
        30.0, gt=0, le=300, description="Seconds a charger has to answer UpdateFirmware."
    )

    config_command_timeout: float = Field(
        30.0,
        gt=0,
        le=300,
        description="Seconds a charger has to answer each configuration command a worker "
        "sends (applies, reads after a boot).",
    )
    config_offline_sweep_schedule: str = Field(
        "* * * * *",
        description="Cron schedule of the look for connected chargers whose profile values "
        "still wait (sent to them then).",
    )
    alarm_sweep_interval: float = Field(
        10.0,
        gt=0,
        description="Seconds between two alarm sweeps of a worker (offline chargers, stuck "
        "sessions, nodes gone, queue depth, breakers).",
    )
    alarm_sweep_schedule: str = Field(
        "* * * * *",
        description="Cron schedule of the alarm sweep as a queue schedule too (a backstop of "
        "the interval loop).",
    )
    alarm_offline_after: int = Field(
        300,
        ge=1,
        description="Default threshold of charger_offline alarms: seconds with no socket and "
        "nothing heard (an alarm rule overrides it).",
    )
    alarm_session_stuck_minutes: int = Field(
        30,
        ge=1,
        description="Default threshold of session_stuck alarms: minutes a charging session "
        "has had no meter value (an alarm rule overrides it).",
    )
    alarm_queue_depth: int = Field(
        1000,
        ge=0,
        description="Default threshold of queue_backlog alarms: jobs waiting in the worker "
        "queue (an alarm rule overrides it).",
    )

    audit_retention_days: int = Field(
        365,
        ge=1,
        le=36_500,
        description="Days audit log entries are kept; older ones are removed by the worker "
        "(through the database's audit_log_purge function, the only delete there is).",
    )
    audit_purge_schedule: str = Field(
        "17 3 * * *",
        description="Cron schedule (UTC) of the removal of audit entries older than "
        "CSMS_AUDIT_RETENTION_DAYS.",
    )

    @model_validator(mode="after")
    def _batches_fit(self) -> WorkerSettings:
        if self.job_concurrency < 2 * self.job_batch_size:
            raise ValueError(
                f"CSMS_JOB_CONCURRENCY ({self.job_concurrency}) must be at least twice "
                f"CSMS_JOB_BATCH_SIZE ({self.job_batch_size})"
            )
        return self
