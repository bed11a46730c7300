"""The station's security: how it connects (its security profile, TLS and network
profiles) and what it holds (its key pairs, CSRs and charging-station certificate, the root
certificates the CSMS installed; the Basic-auth password is in its config). OCPP 2.0.1
part 2 A00-A05 and M03-M05, the OCPP 1.6 security whitepaper's use cases of the same names.

Security profiles (:class:`StationSecurity`). The profile follows from how the station
connects: ``wss://`` with a client certificate is 3, ``wss://`` with the password 2,
``ws://`` with the password 1, nothing 0. An upgrade works as real stations do:

* 1.6: ChangeConfiguration ``SecurityProfile`` to a higher value is accepted when the
  prerequisites are there (A05.FR.01-05); the station reconnects with it (to
  ``StationConfig.secure_url`` for 2 and 3), and falls back to the old way when that fails
  (A05.FR.08).
* 2.0.1: SetNetworkProfile stores a slot; ``OCPPCommCtrlr.NetworkConfigurationPriority``
  orders the slots (a slot the station cannot use is rejected: A05.FR.02/03); after a
  reboot the station tries them in that order (A05.FR.05) and, connected with a higher
  profile, raises ``SecurityCtrlr.SecurityProfile`` and forgets lower slots (A05.FR.06).

A new Basic-auth password (A01) keeps the way the station connects; only the password
changes (:meth:`StationSecurity.new_password`).

Keys and certificates (:class:`SecurityStore`). On a trigger the station generates a key
pair and sends a CSR with SignCertificate (the private key never leaves the station,
A02.FR.05); it checks what CertificateSigned brings before storing it (A02.FR.06: its key,
CN, validity, and the chain to an installed CSMS root when it has one) and answers Rejected
otherwise (A02.FR.07). Installed roots are listed and deleted by their hash data (the OCSP
CertID).

Pure: no network I/O (the station opens the sockets).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.ocsp import OCSPRequestBuilder
from cryptography.x509.oid import NameOID

from simulators.config import StationConfig

# -- security profiles and the ways to connect -------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One way to connect: the CSMS URL and the security profile used with it."""

    url: str
    security_profile: int

    @property
    def tls(self) -> bool:
        return self.url.startswith("wss://")


def initial_profile(config: StationConfig) -> int:
    if config.url.startswith("wss://"):
        return 3 if config.client_cert_file else 2
    return 1 if config.password else 0


def ssl_context(config: StationConfig, endpoint: Endpoint) -> ssl.SSLContext | None:
    """The client TLS context of ``endpoint`` (None for ws://): the CSMS certificate is
    checked against ``ca_file`` (the system's CAs without one), TLS 1.2 or above
    (A00.FR.313), the client certificate presented with profile 3."""
    if not endpoint.tls:
        return None
    context = ssl.create_default_context(cafile=config.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if endpoint.security_profile >= 3 and config.client_cert_file:
        context.load_cert_chain(config.client_cert_file, config.client_key_file)
    return context


class StationSecurity:
    """The profile in force, the network profile slots (2.0.1) and what to connect to next."""

    def __init__(
        self,
        config: StationConfig,
        configuration: dict[str, str],
        *,
        profile_key: str,
        priority_key: str | None,
    ) -> None:
        self.config = config
        self._configuration = configuration
        self._profile_key = profile_key
        self._priority_key = priority_key
        self.endpoint = Endpoint(config.url, initial_profile(config))
        self.slots: dict[int, Endpoint] = {0: self.endpoint}
        self._next: Endpoint | None = None  # 1.6: accepted, not yet connected with
        configuration[profile_key] = str(self.endpoint.security_profile)
        if priority_key is not None:
            configuration[priority_key] = "0"

    def reconfigure(self, config: StationConfig) -> None:
        """The station was given another configuration (tests move it to another node):
        its URL and credentials are the way to connect from now on."""
        self.config = config
        self.endpoint = Endpoint(config.url, initial_profile(config))
        self.slots[0] = self.endpoint
        self._next = None

    def new_password(self, config: StationConfig) -> None:
        """The station took a new Basic-auth password (A01): ``config`` carries it; the
        endpoints and the profile in force stay (a profile 2 station stays on wss://)."""
        self.config = config

    @property
    def profile(self) -> int:
        return int(self._configuration[self._profile_key])

    def missing(self, profile: int, url: str) -> str | None:
        """What the station lacks to connect with ``profile`` at ``url`` (None: nothing)."""
        if profile in (1, 2) and not self.config.password:
            return "no Basic authentication password"
        if profile >= 2 and not url.startswith("wss://"):
            return "profiles 2 and 3 need a wss:// URL"
        if profile <= 1 and url.startswith("wss://"):
            return "profiles 0 and 1 use ws://"
        if profile == 3 and not (self.config.client_cert_file and self.config.client_key_file):
            return "no charging station certificate"
        return None

    # -- 1.6: the SecurityProfile configuration key --------------------------------------

    def change_profile(self, value: str) -> str:
        """ChangeConfiguration ``SecurityProfile``: the status to answer."""
        try:
            profile = int(value)
        except ValueError:
            return "Rejected"
        if not 0 <= profile <= 3 or profile <= self.profile:  # A05.FR.01
            return "Rejected"
        url = self.endpoint.url
        if profile >= 2 and not self.endpoint.tls:
            url = self.config.secure_url or ""
        if self.missing(profile, url) is not None:  # A05.FR.02-04
            return "Rejected"
        self._next = Endpoint(url, profile)
        return "Accepted"

    # -- 2.0.1: network connection profiles ------------------------------------------------

    def set_network_profile(self, slot: int, data: dict[str, Any]) -> str:
        """SetNetworkProfile: the status to answer."""
        profile, url = data.get("securityProfile"), data.get("ocppCsmsUrl")
        if not isinstance(profile, int) or not isinstance(url, str) or slot < 0:
            return "Rejected"
        if profile < self.profile or not 0 <= profile <= 3:  # never lower (A00.FR.005)
            return "Rejected"
        self.slots[slot] = Endpoint(url, profile)
        return "Accepted"

    def accepts_priority(self, value: str) -> bool:
        """Whether ``NetworkConfigurationPriority`` may become ``value``."""
        try:
            slots = [int(part) for part in value.split(",")]
        except ValueError:
            return False
        if not slots or len(set(slots)) != len(slots):
            return False
        for slot in slots:
            endpoint = self.slots.get(slot)
            if endpoint is None:
                return False
            profile = endpoint.security_profile
            if profile > self.profile and self.missing(profile, endpoint.url) is not None:
                return False  # A05.FR.02/03
        return True

    def _priority(self) -> list[int]:
        if self._priority_key is None:
            return [0]
        text = self._configuration.get(self._priority_key, "0")
        return [int(part) for part in text.split(",") if part.strip()]

    # -- connecting --------------------------------------------------------------------------

    def connection_order(self) -> list[Endpoint]:
        """What to try, in order, when (re)connecting after a reboot or a profile change."""
        if self._next is not None:
            return [self._next, self.endpoint]  # A05.FR.07, then A05.FR.08's fallback
        if self._priority_key is not None:
            return [self.slots[s] for s in self._priority() if s in self.slots] or [self.endpoint]
        return [self.endpoint]

    def connected(self, endpoint: Endpoint) -> None:
        """``endpoint`` worked: it is the way to connect from now on."""
        self._next = None
        self.endpoint = endpoint
        if endpoint.security_profile <= self.profile:
            return
        self._configuration[self._profile_key] = str(endpoint.security_profile)
        if self._priority_key is not None:  # A05.FR.06
            self.slots = {
                slot: e
                for slot, e in self.slots.items()
                if e.security_profile >= endpoint.security_profile
            }
            kept = [str(s) for s in self._priority() if s in self.slots]
            self._configuration[self._priority_key] = ",".join(kept)


# -- keys, CSRs and certificates ----------------------------------------------------------

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: the root type names of both versions, by what they are
CSMS_ROOT = "CSMSRootCertificate"
ROOT_SPELLINGS = {"CentralSystemRootCertificate": CSMS_ROOT}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text (ValueError if there is none or one is invalid)."""
    blocks = _PEM.findall(pem)
    if not blocks:
        raise ValueError("no PEM certificate")
    return [x509.load_pem_x509_certificate(b.encode()) for b in blocks]


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate) -> dict[str, str]:
    """CertificateHashDataType (SHA-256) of ``certificate`` issued by ``issuer``."""
    request = OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256()).build()
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(certificate.serial_number, "x"),
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def key(d: dict[str, Any]) -> tuple[str, ...]:
        serial = str(d.get("serialNumber", "")).lower().lstrip("0") or "0"
        return (
            str(d.get("hashAlgorithm")),
            str(d.get("issuerNameHash", "")).lower(),
            str(d.get("issuerKeyHash", "")).lower(),
            serial,
        )

    return key(a) == key(b)


def root_type(name: str) -> str:
    """One spelling per root type (1.6's CentralSystemRootCertificate is the CSMS root)."""
    return ROOT_SPELLINGS.get(name, name)


@dataclass
class SecurityStore:
    """Keys and certificates of one station (see the module docstring)."""

    #: the key of the CSR sent last, until a certificate for it arrives
    pending_key: PrivateKey | None = field(default=None, repr=False)
    #: the charging-station certificate chain in use (leaf first) and its key
    certificate_chain: list[x509.Certificate] = field(default_factory=list)
    certificate_key: PrivateKey | None = field(default=None, repr=False)
    #: installed root certificates by type (2.0.1 names)
    roots: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    #: certificates stored, oldest first (the station keeps old ones as fallback, A02.FR.10)
    history: list[x509.Certificate] = field(default_factory=list)

    @property
    def certificate(self) -> x509.Certificate | None:
        return self.certificate_chain[0] if self.certificate_chain else None

    def new_csr(self, common_name: str, organization: str | None, key_type: str = "ec") -> str:
        """A new key pair and a PEM CSR for it (A02.FR.02/03)."""
        key: PrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if key_type == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )
        names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name(names))
            .sign(key, hashes.SHA256())
        )
        self.pending_key = key
        return csr.public_bytes(Encoding.PEM).decode()

    def accept_signed(self, chain_pem: str, common_name: str, now: datetime | None = None) -> str:
        """Check and store a CertificateSigned chain: Accepted or Rejected (A02.FR.06/07)."""
        now = now or datetime.now(UTC)
        try:
            chain = load_certificates(chain_pem)
        except ValueError:
            return "Rejected"
        leaf, key = chain[0], self.pending_key
        if key is None or _spki(leaf.public_key()) != _spki(key.public_key()):
            return "Rejected"
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [n.value for n in names] != [common_name]:
            return "Rejected"
        if not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc:
            return "Rejected"
        if any(not _issued_by(c, p) for c, p in zip(chain, chain[1:], strict=False)):
            return "Rejected"
        trusted = self.roots.get(CSMS_ROOT, [])
        if trusted and not any(_issued_by(chain[-1], root) for root in trusted):
            return "Rejected"
        self.certificate_chain, self.certificate_key, self.pending_key = chain, key, None
        self.history.append(leaf)
        return "Accepted"

    # -- root certificates --------------------------------------------------------------

    def install(self, certificate_type: str, pem: str) -> str:
        try:
            (certificate,) = load_certificates(pem)
        except ValueError:
            return "Rejected"
        installed = self.roots.setdefault(root_type(certificate_type), [])
        if certificate not in installed:
            installed.append(certificate)
        return "Accepted"

    def _entries(self) -> list[tuple[str, x509.Certificate, dict[str, str]]]:
        entries = []
        for kind, certificates in sorted(self.roots.items()):
            for certificate in certificates:
                issuer = next(
                    (c for cs in self.roots.values() for c in cs if _issued_by(certificate, c)),
                    certificate,
                )
                entries.append((kind, certificate, hash_data(certificate, issuer)))
        return entries

    def installed(self, certificate_types: list[str]) -> list[tuple[str, dict[str, str]]]:
        """(type, hash data) of the installed roots of these types (all when empty)."""
        wanted = {root_type(t) for t in certificate_types}
        return [(k, data) for k, _, data in self._entries() if not wanted or k in wanted]

    def delete(self, certificate_hash_data: dict[str, Any]) -> str:
        for kind, certificate, data in self._entries():
            if _same(data, certificate_hash_data):
                self.roots[kind].remove(certificate)
                return "Accepted"
        return "NotFound"


def _spki(key: Any) -> bytes:
    data: bytes = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return data
