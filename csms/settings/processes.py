"""Settings of the backoffice and the worker (``csms backoffice``, ``csms worker``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from csms.errors import ConfigurationError
from csms.settings.features import FirmwareSettings, NotificationSettings, PaymentSettings

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
