"""A simulated firmware update, as a charger does it (1.6 UpdateFirmware 5.19; the security
whitepaper's SignedUpdateFirmware; 2.0.1 L01/L02).

The station downloads the file over HTTP(S) (resuming a broken download with a Range
request), checks its SHA-256 against the ``Repr-Digest`` the server sends (RFC 9530), checks
the signature with the signing certificate where one is given (RSA-PSS or ECDSA over the
SHA-256, L01.FR.04), waits for its sessions to end before installing (L01.FR.06), reports
each step, and reboots into the new version, which it reads from the image's first line
(``CSMS-SIM-FIRMWARE <version>``) or, failing that, the server's ``X-Firmware-Version``.

Failures can be injected: ``fail_download`` and ``fail_install`` are probabilities (drawn
per update, reproducibly from the charger id and request), ``bad_signature`` makes every
signature check fail. The status sequences::

    1.6            Downloading, Downloaded, Installing, Installed, (reboot)
    1.6 signed     Downloading, Downloaded, SignatureVerified, Installing, InstallRebooting,
    and 2.0.1      (reboot), Installed      (SignatureVerified only for a signed update)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from simulators.context import StationContext
from simulators.errors import ConnectionLostError, NotConnectedError

log = logging.getLogger(__name__)

MANIFEST = b"CSMS-SIM-FIRMWARE "
MANIFEST_MAX = 128
LONGEST_WAIT = 3600.0  # seconds a scheduled download or install is waited for, at most
SESSION_POLL = 0.2
RECONNECT_WAIT = 120.0  # seconds a status waits for the connection to come back
RECONNECT_POLL = 0.2


@dataclass(frozen=True, slots=True)
class Fetched:
    """The outcome of a download."""

    ok: bool
    size: int = 0
    digest: bytes | None = None  # SHA-256 of the bytes received
    version: str | None = None
    reason: str | None = None


def _version_of(head: bytes, header: str | None) -> str | None:
    if head.startswith(MANIFEST):
        line = head[len(MANIFEST) :].split(b"\n", 1)[0].strip()
        if line:
            return line.decode("ascii", errors="replace")[:50]
    return header


def _expected_digest(response: httpx.Response) -> bytes | None:
    for part in response.headers.get("repr-digest", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "sha-256" and value.startswith(":") and value.endswith(":"):
            try:
                return base64.b64decode(value[1:-1])
            except binascii.Error:
                return None
    return None


async def fetch(url: str, *, retries: int = 2, timeout: float = 30.0) -> Fetched:
    """Download ``url`` (resuming after a broken connection, up to ``retries`` times)."""
    sha = hashlib.sha256()
    received = 0
    head = b""
    etag: str | None = None
    expected: bytes | None = None
    version_header: str | None = None
    attempt = 0
    async with httpx.AsyncClient(timeout=timeout) as client:
        while True:
            headers = {}
            if received:
                headers["Range"] = f"bytes={received}-"
                if etag:
                    headers["If-Range"] = etag
            try:
                async with client.stream("GET", url, headers=headers) as response:
                    if response.status_code == 200 and received:
                        sha, received, head = hashlib.sha256(), 0, b""  # whole file again
                    elif response.status_code not in (200, 206):
                        return Fetched(False, reason=f"HTTP {response.status_code}")
                    etag = response.headers.get("etag")
                    expected = _expected_digest(response) or expected
                    version_header = response.headers.get("x-firmware-version") or version_header
                    async for chunk in response.aiter_bytes():
                        if len(head) < MANIFEST_MAX:
                            head += chunk[: MANIFEST_MAX - len(head)]
                        sha.update(chunk)
                        received += len(chunk)
                break
            except (httpx.TransportError, httpx.StreamError) as exc:
                attempt += 1
                if attempt > retries:
                    return Fetched(False, received, reason=f"download broke off: {exc!r}")
                log.info("download of %s broke off at %d bytes; resuming", url, received)
    digest = sha.digest()
    if expected is not None and digest != expected:
        return Fetched(False, received, digest, reason="SHA-256 does not match Repr-Digest")
    return Fetched(True, received, digest, _version_of(head, version_header))


def signature_verifies(certificate_pem: str, signature_b64: str, digest: bytes) -> bool:
    """RSA-PSS or ECDSA signature of a file with SHA-256 ``digest`` by the certificate's key."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    try:
        key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
        raw = base64.b64decode(signature_b64)
        prehashed = utils.Prehashed(hashes.SHA256())
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(raw, digest, pss, prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, digest, ec.ECDSA(prehashed))
        else:
            return False
    except (ValueError, InvalidSignature, binascii.Error):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Update:
    """One UpdateFirmware / SignedUpdateFirmware as the station received it."""

    action: str  # the status notification to send
    request_id: int | None  # sent with every status (None: 1.6 UpdateFirmware has none)
    location: str
    retrieve_at: datetime | None
    install_at: datetime | None
    signature: str | None
    certificate: str | None
    retries: int
    reboot_before_installed: bool  # 2.0.1 and 1.6 signed: InstallRebooting, reboot, Installed
    security_events: bool  # SecurityEventNotification of InvalidFirmwareSignature / Updated


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def update_of(action: str, payload: dict[str, Any], *, v201: bool) -> Update:
    """The update an UpdateFirmware (1.6 or 2.0.1) or SignedUpdateFirmware payload asks for."""
    firmware = payload.get("firmware")
    if isinstance(firmware, dict):  # 2.0.1 UpdateFirmware, 1.6 SignedUpdateFirmware
        signed = action == "SignedUpdateFirmware"
        return Update(
            action="SignedFirmwareStatusNotification" if signed else "FirmwareStatusNotification",
            request_id=payload.get("requestId"),
            location=str(firmware.get("location", "")),
            retrieve_at=_when(firmware.get("retrieveDateTime")),
            install_at=_when(firmware.get("installDateTime")),
            signature=firmware.get("signature"),
            certificate=firmware.get("signingCertificate"),
            retries=int(payload.get("retries", 2)),
            reboot_before_installed=True,
            security_events=True,
        )
    return Update(  # 1.6 UpdateFirmware
        action="FirmwareStatusNotification",
        request_id=None,
        location=str(payload.get("location", "")),
        retrieve_at=_when(payload.get("retrieveDate")),
        install_at=None,
        signature=None,
        certificate=None,
        retries=int(payload.get("retries", 2)),
        reboot_before_installed=False,
        security_events=v201,
    )


async def _deliver(ctx: StationContext, action: str, payload: dict[str, Any]) -> None:
    """Send a status, waiting out a lost connection as a charger queues it (the station, or
    whoever drives it, reconnects: possibly to another node)."""
    waited = 0.0
    while True:
        try:
            await ctx.call(action, payload)
            return
        except (NotConnectedError, ConnectionLostError, TimeoutError):
            if waited >= RECONNECT_WAIT:
                raise
            await asyncio.sleep(RECONNECT_POLL)
            waited += RECONNECT_POLL


async def _until(moment: datetime | None) -> bool:
    """Sleep until ``moment`` (at most LONGEST_WAIT); True if it was in the future."""
    if moment is None:
        return False
    wait = (moment - datetime.now(UTC)).total_seconds()
    if wait <= 0:
        return False
    await asyncio.sleep(min(wait, LONGEST_WAIT))
    return True


async def run_update(ctx: StationContext, update: Update) -> None:
    """Walk the update's statuses (the module docstring)."""
    config = ctx.config
    rng = random.Random(f"{config.charge_point_id}:{update.request_id}:{update.location}")

    async def report(status: str) -> None:
        ctx.state.firmware_status = status
        payload: dict[str, Any] = {"status": status}
        if update.request_id is not None:
            payload["requestId"] = update.request_id
        await _deliver(ctx, update.action, payload)

    async def security_event(kind: str) -> None:
        if update.security_events:
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            await _deliver(ctx, "SecurityEventNotification", {"type": kind, "timestamp": now})

    if update.retrieve_at is not None and update.retrieve_at > datetime.now(UTC):
        await report("DownloadScheduled")  # L01.FR.13
        await _until(update.retrieve_at)
    await report("Downloading")
    fetched = await ctx.fetch_firmware(update.location, update.retries)
    failing = config.fail_firmware or rng.random() < config.fail_download
    if not fetched.ok or failing:
        ctx.log.info("firmware download failed: %s", fetched.reason or "injected failure")
        await report("DownloadFailed")
        return
    await report("Downloaded")
    if update.signature is not None:
        valid = (
            not config.bad_signature
            and update.certificate is not None
            and fetched.digest is not None
            and signature_verifies(update.certificate, update.signature, fetched.digest)
        )
        if not valid:
            await report("InvalidSignature")  # L01 step 5
            await security_event("InvalidFirmwareSignature")  # L01.FR.03
            return
        await report("SignatureVerified")
    if update.install_at is not None and update.install_at > datetime.now(UTC):
        await report("InstallScheduled")  # L01.FR.16
        await _until(update.install_at)
    if ctx.state.transactions:  # L01.FR.06: install once every session has ended
        await report("InstallScheduled")  # L01.FR.34
        while ctx.state.transactions:
            await asyncio.sleep(SESSION_POLL)
    await report("Installing")
    if rng.random() < config.fail_install:
        await report("InstallationFailed")
        return
    version = fetched.version or f"{config.firmware_version or '0'}-updated"
    if update.reboot_before_installed:
        await report("InstallRebooting")  # L01.FR.32 (a)
        await ctx.restart_with_firmware(version)
        await report("Installed")  # sent by the new firmware
        await security_event("FirmwareUpdated")  # L01.FR.31
        return
    await report("Installed")
    await ctx.restart_with_firmware(version)
