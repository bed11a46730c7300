"""What every csms process reads: where PostgreSQL and Redis are, dev or production."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from csms.domain.cdrs import CONNECTOR_STANDARDS
from csms.domain.sites import check_time_zone
from csms.errors import ConfigurationError, InvalidInput

MIN_METRICS_TOKEN = 16


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
