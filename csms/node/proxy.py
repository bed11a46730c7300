"""What a TLS-terminating load balancer tells the node about a charger's TLS session.

Two ways, both believed only from the addresses in ``CSMS_TRUSTED_PROXIES``:

* PROXY protocol v2 (HAProxy ``send-proxy-v2-ssl-cn``): a binary header before the HTTP
  request carries the client's address and a ``PP2_TYPE_SSL`` TLV (TLS used, client
  certificate presented and verified, TLS version, the certificate's subject CN);
* ``X-SSL-*`` headers set by an HTTP proxy on the upgrade request (:func:`from_headers`).

Pure: parsing and trust decisions, no sockets (the listener feeds the bytes).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
FIXED_PART = 16  # signature, version/command, family/transport, length
MAX_HEADER = 4096  # addresses and TLVs of a TLS session fit many times over

_LOCAL, _PROXY = 0x0, 0x1
_INET, _INET6, _UNIX = 0x1, 0x2, 0x3
_ADDRESS_SIZES = {_INET: 12, _INET6: 36, _UNIX: 216}
PP2_TYPE_SSL = 0x20
PP2_SUBTYPE_SSL_VERSION = 0x21
PP2_SUBTYPE_SSL_CN = 0x22
PP2_SUBTYPE_SSL_CIPHER = 0x23
PP2_CLIENT_SSL = 0x01
PP2_CLIENT_CERT_CONN = 0x02
PP2_CLIENT_CERT_SESS = 0x04

# X-SSL-* headers of the "headers" mode (docs/topics/security.md)
HEADER_PROTOCOL = "X-SSL-Protocol"
HEADER_VERIFY = "X-SSL-Client-Verify"
HEADER_CN = "X-SSL-Client-CN"
HEADER_O = "X-SSL-Client-O"
SSL_HEADERS = (HEADER_PROTOCOL, HEADER_VERIFY, HEADER_CN, HEADER_O)
_VERIFIED = {"0", "SUCCESS"}  # HAProxy ssl_c_verify, nginx $ssl_client_verify
_OLD_TLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1"}


class ProxyError(ValueError):
    """A PROXY header that cannot be read."""


class Start(Enum):
    """How a connection to a PROXY-protocol listener starts."""

    MORE = "more"  # not enough bytes to tell
    PROXY = "proxy"  # a PROXY v2 header
    PLAIN = "plain"  # anything else (a direct connection, a health check)


@dataclass(frozen=True, slots=True)
class ClientTls:
    """The charger's TLS session with the proxy."""

    version: str | None  # "TLSv1.3"; None when the proxy did not say
    certificate: bool  # a client certificate was presented
    verified: bool  # ... and the proxy verified it
    common_names: tuple[str, ...]
    organizations: tuple[str, ...] = ()  # only the headers mode carries O
    cipher: str | None = None

    @property
    def version_too_old(self) -> bool:
        """TLS below 1.2 (A00.FR.313/416)."""
        return self.version is not None and self.version in _OLD_TLS


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A PROXY v2 header: ``local`` for the proxy's own connections (health checks)."""

    local: bool
    source: tuple[str, int] | None
    tls: ClientTls | None  # None: the charger did not use TLS


def classify(buffer: bytes) -> Start:
    """Whether ``buffer`` (the first bytes of a connection) starts with a PROXY v2 header."""
    prefix = buffer[: len(SIGNATURE)]
    if not SIGNATURE.startswith(prefix):
        return Start.PLAIN
    return Start.PROXY if len(prefix) == len(SIGNATURE) else Start.MORE


def header_length(buffer: bytes) -> int | None:
    """The length of the whole header once its fixed part is there (None: need more)."""
    if len(buffer) < FIXED_PART:
        return None
    length: int = FIXED_PART + struct.unpack("!H", buffer[14:16])[0]
    if length > MAX_HEADER:
        raise ProxyError(f"PROXY header of {length} bytes is too long")
    return length


def parse(header: bytes) -> ProxyHeader:
    """Read a complete PROXY v2 header (``header_length`` bytes); raises ProxyError."""
    if header[: len(SIGNATURE)] != SIGNATURE or len(header) < FIXED_PART:
        raise ProxyError("not a PROXY v2 header")
    version, command = header[12] >> 4, header[12] & 0x0F
    if version != 2 or command not in (_LOCAL, _PROXY):
        raise ProxyError(f"PROXY version {version} command {command} not supported")
    if len(header) != FIXED_PART + struct.unpack("!H", header[14:16])[0]:
        raise ProxyError("PROXY header length does not match")
    body = header[FIXED_PART:]
    if command == _LOCAL:
        return ProxyHeader(local=True, source=None, tls=None)
    family = header[13] >> 4
    size = _ADDRESS_SIZES.get(family, 0)
    if len(body) < size:
        raise ProxyError("PROXY addresses truncated")
    source = _source(family, body[:size])
    tls = None
    for kind, value in _tlvs(body[size:]):
        if kind == PP2_TYPE_SSL:
            tls = _ssl_tlv(value)
    return ProxyHeader(local=False, source=source, tls=tls)


def _source(family: int, addresses: bytes) -> tuple[str, int] | None:
    if family == _INET:
        address = str(ipaddress.IPv4Address(addresses[0:4]))
        return address, struct.unpack("!H", addresses[8:10])[0]
    if family == _INET6:
        address = str(ipaddress.IPv6Address(addresses[0:16]))
        return address, struct.unpack("!H", addresses[32:34])[0]
    return None  # UNIX or UNSPEC: no address to speak of


def _tlvs(data: bytes) -> Iterable[tuple[int, bytes]]:
    offset = 0
    while offset < len(data):
        if offset + 3 > len(data):
            raise ProxyError("PROXY TLV truncated")
        kind, length = data[offset], struct.unpack("!H", data[offset + 1 : offset + 3])[0]
        value = data[offset + 3 : offset + 3 + length]
        if len(value) != length:
            raise ProxyError("PROXY TLV truncated")
        yield kind, value
        offset += 3 + length


def _ssl_tlv(value: bytes) -> ClientTls | None:
    if len(value) < 5:
        raise ProxyError("PP2_TYPE_SSL truncated")
    client, verify = value[0], struct.unpack("!I", value[1:5])[0]
    if not client & PP2_CLIENT_SSL:
        return None
    fields: dict[int, list[str]] = {}
    for kind, sub in _tlvs(value[5:]):
        fields.setdefault(kind, []).append(sub.decode("utf-8", "replace"))
    certificate = bool(client & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS))
    return ClientTls(
        version=_first(fields.get(PP2_SUBTYPE_SSL_VERSION)),
        certificate=certificate,
        verified=certificate and verify == 0,
        common_names=tuple(fields.get(PP2_SUBTYPE_SSL_CN, ())),
        cipher=_first(fields.get(PP2_SUBTYPE_SSL_CIPHER)),
    )


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def encode(
    source: tuple[str, int],
    destination: tuple[str, int],
    *,
    tls: ClientTls | None = None,
    verify: int | None = None,
) -> bytes:
    """A PROXY v2 header as HAProxy writes it (tests, and a reference for readers)."""
    src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
    family = _INET if src.version == 4 else _INET6
    addresses = src.packed + dst.packed + struct.pack("!HH", source[1], destination[1])
    tlvs = b""
    if tls is not None:
        client = PP2_CLIENT_SSL | (PP2_CLIENT_CERT_CONN if tls.certificate else 0)
        result = verify if verify is not None else (0 if tls.verified or not tls.certificate else 1)
        sub = b""
        if tls.version is not None:
            sub += _tlv(PP2_SUBTYPE_SSL_VERSION, tls.version.encode())
        for name in tls.common_names:
            sub += _tlv(PP2_SUBTYPE_SSL_CN, name.encode())
        tlvs = _tlv(PP2_TYPE_SSL, bytes([client]) + struct.pack("!I", result) + sub)
    body = addresses + tlvs
    return SIGNATURE + bytes([0x21, (family << 4) | 0x1]) + struct.pack("!H", len(body)) + body


def _tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def from_headers(headers: Mapping[str, str]) -> ClientTls | None:
    """The TLS session an HTTP proxy describes in X-SSL-* headers (None: no TLS)."""
    version = headers.get(HEADER_PROTOCOL)
    if not version:
        return None
    common_name = headers.get(HEADER_CN)
    certificate = bool(common_name)
    return ClientTls(
        version=version,
        certificate=certificate,
        verified=certificate and headers.get(HEADER_VERIFY, "").upper() in _VERIFIED,
        common_names=(common_name,) if common_name else (),
        organizations=tuple(filter(None, [headers.get(HEADER_O)])),
    )


class TrustedProxies:
    """The addresses whose PROXY header or X-SSL-* headers are believed."""

    def __init__(self, spec: str) -> None:
        self._networks = [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in spec.split(",")
            if part.strip()
        ]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: str | None) -> bool:
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self._networks)
