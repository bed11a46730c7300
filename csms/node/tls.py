"""TLS of the node's wss:// listener (security profiles 2 and 3).

The context follows the OCPP security requirements (OCPP 2.0.1 part 2 section A, the 1.6
security whitepaper): TLS 1.2 or above (A00.FR.313/416), the AES-GCM cipher suites of
A00.FR.318/421 with an ECDSA and an RSA certificate, no TLS compression (A00.FR.321/424).
With a client CA, a charger may present a certificate (profile 3); OpenSSL checks its
chain and validity (A00.FR.403/407) and the node its subject (:func:`client_subject`).

Renewed files are picked up without a restart and without touching open connections: the
listener keeps the context it was started with, whose SNI callback (OpenSSL calls it for
every ClientHello, with or without a server name) moves each new handshake to the context
loaded last. :meth:`ServerTls.reload` loads the files again when their modification times
changed (a watch task, and ``SIGHUP``); files that do not load (a certificate written
before its key) leave the current context in place until they do.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csms.errors import ConfigurationError
from csms.settings import NodeSettings

log = logging.getLogger(__name__)

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# A handshake refused by the node: (kind, reason); kind "certificate" or "protocol".
RefusalHook = Callable[[str, str], None]
Signature = tuple[tuple[str, int, int], ...]


def _no_password() -> bytes:
    return b""


@dataclass(frozen=True, slots=True)
class ClientSubject:
    """What a verified client certificate says about its owner."""

    common_names: tuple[str, ...]
    organizations: tuple[str, ...]


def client_subject(ssl_object: Any) -> ClientSubject | None:
    """The subject of the certificate the peer presented, verified by OpenSSL against the
    client CA (None: no certificate)."""
    if ssl_object is None:
        return None
    certificate = ssl_object.getpeercert()
    if not certificate:
        return None
    names: dict[str, list[str]] = {"commonName": [], "organizationName": []}
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key in names:
                names[key].append(value)
    return ClientSubject(tuple(names["commonName"]), tuple(names["organizationName"]))


def _observed(on_refused: RefusalHook) -> type[ssl.SSLObject]:
    """An SSLObject class that reports the handshakes OpenSSL refuses (asyncio only logs
    them in debug mode): A00.FR.323/408 recommend recording them."""

    class ObservedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLCertVerificationError as exc:
                on_refused("certificate", str(exc.verify_message or exc.reason or exc))
                raise
            except ssl.SSLError as exc:
                on_refused("protocol", str(exc.reason or exc))
                raise

    return ObservedSSLObject


def build_context(settings: NodeSettings) -> ssl.SSLContext:
    """A server context from the settings' files; raises OSError, ssl.SSLError."""
    assert settings.tls_cert_file is not None and settings.tls_key_file is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _VERSIONS[settings.tls_min_version]
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.set_ciphers(settings.tls_ciphers)
    # an encrypted key fails to load instead of OpenSSL prompting on a terminal nobody reads
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file, password=_no_password)
    if settings.tls_second_cert_file is not None and settings.tls_second_key_file is not None:
        # OpenSSL keeps one certificate per key type: RSA and ECDSA side by side
        context.load_cert_chain(
            settings.tls_second_cert_file, settings.tls_second_key_file, password=_no_password
        )
    if settings.tls_client_ca_file is not None:
        context.verify_mode = ssl.CERT_OPTIONAL  # no certificate: profile 2 (Basic auth)
        context.load_verify_locations(cafile=settings.tls_client_ca_file)
    return context


def _files(settings: NodeSettings) -> list[Path]:
    candidates = (
        settings.tls_cert_file,
        settings.tls_key_file,
        settings.tls_second_cert_file,
        settings.tls_second_key_file,
        settings.tls_client_ca_file,
    )
    return [path for path in candidates if path is not None]


class ServerTls:
    """The listener's context and the reload of renewed certificate files."""

    def __init__(self, settings: NodeSettings, on_refused: RefusalHook | None = None) -> None:
        self._settings = settings
        self._on_refused = on_refused or (lambda kind, reason: None)
        self._object_class = _observed(self._refused)
        self._failed: Signature | None = None
        self._loaded = self._signature()
        try:
            self._current = self._build()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"cannot load the TLS certificate files: {exc}") from exc
        self.context = self._current  # what the listener holds: its SNI callback swaps
        self.reloads = 0

    def _refused(self, kind: str, reason: str) -> None:
        if kind == "certificate":
            log.warning("TLS handshake refused: client certificate: %s", reason)
        else:
            log.info("TLS handshake refused: %s", reason)
        self._on_refused(kind, reason)

    def _build(self) -> ssl.SSLContext:
        context = build_context(self._settings)
        context.sslobject_class = self._object_class
        context.sni_callback = self._to_current
        return context

    def _to_current(self, ssl_object: Any, server_name: str | None, context: Any) -> None:
        if ssl_object.context is not self._current:
            ssl_object.context = self._current

    def _signature(self) -> Signature:
        signature = []
        for path in _files(self._settings):
            try:
                stat = path.stat()
            except OSError:
                signature.append((str(path), -1, -1))
            else:
                signature.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(signature)

    def reload(self, *, force: bool = False) -> bool:
        """Load the files again if they changed (always with ``force``); True if the new
        certificate now serves new handshakes. Open connections are not touched."""
        signature = self._signature()
        if not force and signature == self._loaded:
            return False
        try:
            context = self._build()
        except (OSError, ssl.SSLError) as exc:
            if signature != self._failed:
                log.error("TLS files changed but do not load (%s): still serving the old ones", exc)
                self._failed = signature
            return False
        self._current, self._loaded, self._failed = context, signature, None
        self.reloads += 1
        log.info("TLS certificate files reloaded: new handshakes use them")
        return True

    async def watch(self, interval: float) -> None:
        """Reload whenever the files' modification times change (until cancelled)."""
        while True:
            await asyncio.sleep(interval)
            self.reload()
