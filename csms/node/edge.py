"""How a charger reached the node: TLS on the node's own socket, or a trusted load
balancer's word (PROXY v2 TLVs, X-SSL-* headers), and nothing else (docs/topics/security.md).

:class:`EdgeConnection` is the websockets connection of both listeners: on the plain one it
reads a PROXY v2 header first when ``CSMS_PROXY_MODE=proxy-v2`` (refusing it from an address
not in ``CSMS_TRUSTED_PROXIES``). :func:`transport_of` then tells the handshake what the
connection proves: TLS or not, its version, the verified client certificate's subject.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

from csms.node import proxy
from csms.node.proxy import ClientTls, ProxyError, ProxyHeader, Start, TrustedProxies
from csms.node.tls import ClientSubject, client_subject

log = logging.getLogger(__name__)

DIRECT, PROXY_V2, HEADERS = "direct", "proxy-v2", "headers"


class EdgeRefusal(Exception):
    """The connection cannot be believed: refused with an HTTP status before the upgrade."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EdgePolicy:
    """What a listener believes (``CSMS_PROXY_MODE``, ``CSMS_TRUSTED_PROXIES``)."""

    mode: str  # off, proxy-v2, headers
    trusted: TrustedProxies
    on_refused: Callable[[str], None] = lambda reason: None


@dataclass(frozen=True, slots=True)
class Transport:
    """What the node knows of a connection's transport."""

    tls: bool
    tls_version: str | None
    subject: ClientSubject | None  # of a verified client certificate
    via: str  # direct, proxy-v2, headers
    client_address: str | None

    @property
    def organization_known(self) -> bool:
        """PROXY v2 TLVs carry the CN only: the proxy itself checks the O (its config)."""
        return self.via != PROXY_V2


class EdgeConnection(ServerConnection):
    """A websockets server connection that may start with a PROXY v2 header."""

    policy: EdgePolicy = EdgePolicy("off", TrustedProxies(""))
    expect_proxy = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peer_address: str | None = None
        self.proxy_header: ProxyHeader | None = None
        self._pending: bytes | None = b"" if self.expect_proxy else None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer_address = peer[0] if isinstance(peer, tuple) and peer else None
        super().connection_made(transport)

    @property
    def client_address(self) -> str | None:
        """The charger's address: the proxy's word for it, else the socket's peer."""
        header = self.proxy_header
        if header is not None and header.source is not None:
            return header.source[0]
        return self.peer_address

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._pending is None:
            super().data_received(data)
            return
        buffer = self._pending + data
        start = proxy.classify(buffer)
        if start is Start.MORE:
            self._pending = buffer
            return
        if start is Start.PLAIN:  # a direct connection (or a health check): plain
            self._pending = None
            super().data_received(buffer)
            return
        if not self.policy.trusted.trusts(self.peer_address):
            self._refuse(f"PROXY header from {self.peer_address}, not a trusted proxy")
            return
        try:
            length = proxy.header_length(buffer)
            if length is None or len(buffer) < length:
                self._pending = buffer
                return
            self.proxy_header = proxy.parse(buffer[:length])
        except ProxyError as exc:
            self._refuse(f"bad PROXY header from {self.peer_address}: {exc}")
            return
        self._pending = None
        header = self.proxy_header
        client = None if header.local or header.source is None else header.source[0]
        if not self.admit_client(client):  # an abuse limit refused it: a reset, quietly
            self._refused = True
            self.transport.abort()
            return
        if len(buffer) > length:
            super().data_received(buffer[length:])

    def admit_client(self, address: str | None) -> bool:
        """Whether the client a PROXY header names (None: the proxy's own connection) may
        go on; the node's abuse limits override it (csms.node.server)."""
        return True

    def _refuse(self, reason: str) -> None:
        log.warning("connection refused: %s", reason)
        self._refused = True
        self._pending = None
        self.policy.on_refused("proxy")
        self.transport.abort()


def connection_class(policy: EdgePolicy, *, expect_proxy: bool) -> type[EdgeConnection]:
    """The connection class of one listener."""

    class ListenerConnection(EdgeConnection):
        pass

    ListenerConnection.policy = policy
    ListenerConnection.expect_proxy = expect_proxy
    return ListenerConnection


def _believed(tls: ClientTls | None, via: str, client: str | None) -> Transport:
    if tls is None:
        return Transport(False, None, None, via, client)
    if tls.version_too_old:
        raise EdgeRefusal(403, f"TLS 1.2 or above is required, not {tls.version}")
    if tls.certificate and not tls.verified:
        raise EdgeRefusal(403, "the client certificate was not verified by the proxy")
    subject = ClientSubject(tls.common_names, tls.organizations) if tls.verified else None
    return Transport(True, tls.version, subject, via, client)


def transport_of(connection: ServerConnection, headers: Headers) -> Transport:
    """What ``connection`` proves; raises EdgeRefusal for a claim it may not make."""
    ssl_object = connection.transport.get_extra_info("ssl_object")
    edge = connection if isinstance(connection, EdgeConnection) else None
    client = edge.client_address if edge is not None else None
    if ssl_object is not None:  # the node's own TLS listener: OpenSSL verified the chain
        return Transport(True, ssl_object.version(), client_subject(ssl_object), DIRECT, client)
    if edge is None:
        return Transport(False, None, None, DIRECT, client)
    header = edge.proxy_header
    if header is not None and not header.local:
        return _believed(header.tls, PROXY_V2, client)
    if edge.policy.mode == HEADERS and any(name in headers for name in proxy.SSL_HEADERS):
        if not edge.policy.trusted.trusts(edge.peer_address):
            edge.policy.on_refused("headers")
            raise EdgeRefusal(403, "X-SSL-* headers from an address that is not a trusted proxy")
        values = {name: headers[name] for name in proxy.SSL_HEADERS if name in headers}
        return _believed(proxy.from_headers(values), HEADERS, client)
    return Transport(False, None, None, DIRECT, client)
