"""Settings of a charger-facing node (``csms node``, ``csms up``)."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from csms.networks import parse_networks
from csms.settings.common import CommonSettings

# TLS 1.2 suites a node offers: the four A00.FR.318/421 require (ECDSA and RSA certificates,
# AES-GCM) plus their forward-secret ECDHE-RSA twins. TLS 1.3 suites are all AEAD (OpenSSL's).
DEFAULT_TLS_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384"
)


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


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
