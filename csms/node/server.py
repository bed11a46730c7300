"""The WebSocket node: handshake (path, identity, auth, subprotocol) and the connections."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from csms.cluster.routing import Owner
from csms.cluster.tasks import stop_task
from csms.domain.charge_points import valid_charge_point_id
from csms.domain.chargers import ACCEPTED, Charger
from csms.domain.security_profiles import DESCRIPTIONS, connection_profile
from csms.domain.transactions import Transaction
from csms.errors import NotFound
from csms.logs import ChargerLog
from csms.networks import parse_networks
from csms.node.connection import ChargerConnection
from csms.node.context import Context
from csms.node.edge import (
    EdgeConnection,
    EdgePolicy,
    EdgeRefusal,
    Transport,
    connection_class,
    transport_of,
)
from csms.node.journal import JournalSink
from csms.node.keepalive import Keepalive
from csms.node.limits import ChargerLimits, SourceLimits
from csms.node.membership import Membership
from csms.node.metrics import NodeMetrics
from csms.node.price_display import DisplayPusher
from csms.node.proxy import TrustedProxies
from csms.node.session_check import can_ask, check_open_sessions
from csms.node.tls import ServerTls
from csms.node.versions import BY_SUBPROTOCOL, PREFERRED
from csms.passwords import verify_password
from csms.scrape import BEARER_CHALLENGE, scrape_refusal
from csms.services import Services
from csms.services.hooks import ChargerBooted
from csms.services.link import ChargerLink
from csms.settings import NodeSettings

log = logging.getLogger(__name__)


class _MaskAuthorization(logging.Filter):
    """websockets logs request headers at DEBUG: never a charger's Basic credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args[:1] == ("Authorization",):
            record.args = ("Authorization", "***")
        return True


logging.getLogger("websockets.server").addFilter(_MaskAuthorization())

PATH_PREFIX = "/ocpp/"
METRICS_PATH = "/metrics"  # Prometheus text format
HEALTH_PATH = "/health"  # plain HTTP GET for load balancers: 200 while the node serves
# 200 while PostgreSQL and Redis answer, else 503 (a JSON body names what is not ready): a
# readiness probe, so a balancer sends chargers elsewhere. A draining node stops listening.
READY_PATH = "/ready"

# Whether the node's dependencies answer: {"postgres": "ok", "redis": "unavailable", ...}
ReadyChecks = Callable[[], Awaitable[dict[str, str]]]


# The order we prefer when a charger offers several.
SUPPORTED_SUBPROTOCOLS = [Subprotocol(v.subprotocol) for v in PREFERRED]

Connections = dict[str, ChargerConnection]


@dataclass(frozen=True, slots=True)
class NodeDeps:
    """What a node is built with, complete before it starts."""

    settings: NodeSettings
    services: Services
    flush_writes: Callable[[], Awaitable[None]]  # what batch writers hold, written now
    journal: JournalSink | None = None
    metrics: NodeMetrics | None = None
    ready_checks: ReadyChecks | None = None


def charge_point_id_from_path(path: str) -> str | None:
    """The id in ``/ocpp/{id}``, or None when the path is not that or the id is not valid."""
    path = path.split("?", 1)[0]
    if not path.startswith(PATH_PREFIX):
        return None
    charge_point_id = unquote(path[len(PATH_PREFIX) :])
    if not valid_charge_point_id(charge_point_id):
        return None
    return charge_point_id


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization")
    if not value or not value[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class CredentialCache:
    """Remembers successful verifications so a reconnect storm costs no Argon2 work.

    Keyed by charger and its current hash; holds an HMAC of the password under a key that
    lives only in this process, never the password.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: dict[str, tuple[str, bytes]] = {}
        self._max_entries = max_entries

    def _mac(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    def known(self, charge_point_id: str, password_hash: str, password: str) -> bool:
        entry = self._entries.get(charge_point_id)
        return (
            entry is not None
            and entry[0] == password_hash
            and hmac.compare_digest(entry[1], self._mac(password))
        )

    def remember(self, charge_point_id: str, password_hash: str, password: str) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[charge_point_id] = (password_hash, self._mac(password))


def limited_connections(
    base: type[EdgeConnection], limits: SourceLimits, metrics: NodeMetrics | None
) -> type[EdgeConnection]:
    """A connection class (``base``: a listener's, csms.node.edge) that applies ``limits``
    to each accepted connection before anything else is done for it: one refused is reset
    at once (no HTTP response, no handler task), so a flood costs the node as little as it
    can.

    Behind a trusted balancer that sends a PROXY v2 header (``CSMS_PROXY_MODE=proxy-v2``)
    the source is the client the header names, counted once the header is read; the
    balancer's own connections (health checks: a LOCAL header or none) are not limited.
    """

    class LimitedConnection(base):  # type: ignore[valid-type,misc]
        _source: str | None = None
        _limited = False  # refused at accept: nothing was set up for it

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            source = peer_host(transport)
            if self.expect_proxy and self.policy.trusted.trusts(source):
                super().connection_made(transport)  # counted by its PROXY header's source
                return
            refused = limits.admit(source)
            if refused is not None:
                self._limited = True
                if metrics is not None:
                    metrics.limited(refused)
                # a reset, not a close handshake (uvloop's transports are no
                # asyncio.Transport instances, but have abort())
                getattr(transport, "abort", transport.close)()
                return
            self._source = source
            super().connection_made(transport)

        def admit_client(self, address: str | None) -> bool:
            if address is None:
                return True
            refused = limits.admit(address)
            if refused is not None:
                if metrics is not None:
                    metrics.limited(refused)
                return False
            self._source = address
            return True

        def connection_lost(self, exc: Exception | None) -> None:
            if not self._limited:  # a refused one never set anything up
                super().connection_lost(exc)

        async def handshake(self, *args: Any, **kwargs: Any) -> None:
            try:
                await super().handshake(*args, **kwargs)
            finally:  # done, refused, timed out or dropped: no longer in progress
                limits.done(self._source)

    return LimitedConnection


def peer_host(transport: asyncio.BaseTransport) -> str | None:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None


class Node:
    """A charger-facing node: accepts OCPP-J sockets and serves each with a ChargerConnection."""

    def __init__(
        self,
        deps: NodeDeps,
        *,
        connections: Connections | None = None,
        membership: Membership | None = None,
    ) -> None:
        self.deps = deps
        self.services = deps.services
        self.settings = deps.settings
        self.membership = membership
        self.connections: Connections = {} if connections is None else connections
        # Without a cluster, epochs are local: they still fence DB connection records.
        self._local_epochs = itertools.count(1)
        self._handshakes: weakref.WeakKeyDictionary[ServerConnection, tuple[Charger, int]] = (
            weakref.WeakKeyDictionary()
        )
        self._credentials = CredentialCache()
        settings = self.settings
        self.source_limits = SourceLimits(
            rate=settings.connection_rate_per_address,
            burst=settings.connection_burst_per_address,
            max_handshakes=settings.handshakes_per_address,
            exempt=parse_networks(settings.limit_exempt_addresses),
            clock=time.monotonic,
        )
        self.charger_limits = ChargerLimits(
            message_rate=settings.charger_message_rate,
            message_burst=settings.charger_message_burst,
            refusals_before_close=settings.charger_refusals_before_close,
            max_pending_calls=settings.charger_max_pending_calls,
        )
        self._server: Server | None = None
        self._tls_server: Server | None = None
        self._tls_watch: asyncio.Task[None] | None = None
        # the TLS files are loaded now: a node with unreadable ones refuses to start
        self.tls = (
            ServerTls(self.settings, on_refused=lambda kind, _: self._refused(f"tls_{kind}"))
            if self.settings.tls_port is not None
            else None
        )
        self._keepalive: asyncio.Task[None] | None = None
        self.pusher = DisplayPusher(
            self.connections,
            self.services,
            interval=self.settings.tariff_push_interval,
            total_cost_fallback=self.settings.total_cost_fallback_message,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets = self._server.sockets
        return int(sockets[0].getsockname()[1])

    @property
    def tls_port(self) -> int | None:
        """The wss:// listener's port (None without one)."""
        if self._tls_server is None:
            return None
        return int(self._tls_server.sockets[0].getsockname()[1])

    def _refused(self, reason: str) -> None:
        if self.deps.metrics is not None:
            self.deps.metrics.refused(reason)

    def reload_tls(self) -> bool:
        """Load renewed certificate files now (SIGHUP): new handshakes use them, open
        connections keep theirs. False without TLS or when the files do not load."""
        return self.tls.reload(force=True) if self.tls is not None else False

    async def start(self) -> None:
        settings = self.settings
        policy = EdgePolicy(
            settings.proxy_mode, TrustedProxies(settings.trusted_proxies), self._refused
        )
        options: dict[str, Any] = {
            "subprotocols": SUPPORTED_SUBPROTOCOLS,
            "select_subprotocol": self._select_subprotocol,
            "process_request": self._process_request,
            "compression": "deflate" if settings.ws_compression else None,
            "max_size": settings.max_frame_bytes,
            "open_timeout": settings.open_timeout,
            "ping_interval": None,  # one Keepalive task for all connections
            "server_header": None,
            "backlog": settings.listen_backlog,
        }
        self._server = await serve(
            self._serve,
            settings.host,
            settings.port,
            create_connection=limited_connections(
                connection_class(policy, expect_proxy=settings.proxy_mode == "proxy-v2"),
                self.source_limits,
                self.deps.metrics,
            ),
            **options,
        )
        if self.tls is not None:
            self._tls_server = await serve(
                self._serve,
                settings.host,
                settings.tls_port,
                ssl=self.tls.context,
                create_connection=limited_connections(
                    connection_class(policy, expect_proxy=False),
                    self.source_limits,
                    self.deps.metrics,
                ),
                **options,
            )
            if settings.tls_reload_interval:
                self._tls_watch = asyncio.create_task(
                    self.tls.watch(settings.tls_reload_interval), name="tls-reload"
                )
        if settings.ws_ping_interval:
            keepalive = Keepalive(
                lambda: (c.websocket for c in self.connections.values()),
                settings.ws_ping_interval,
            )
            self._keepalive = asyncio.create_task(keepalive.run(), name="keepalive")
        log.info(
            "node %s listening on ws://%s:%d%s{id}",
            settings.node_id,
            settings.host,
            self.port,
            PATH_PREFIX,
        )
        if self._tls_server is not None:
            log.info(
                "node %s listening on wss://%s:%d%s{id}",
                settings.node_id,
                settings.host,
                self.tls_port,
                PATH_PREFIX,
            )
        if settings.metrics_token is None and not settings.is_dev:
            log.warning("GET /metrics is disabled: set CSMS_METRICS_TOKEN to scrape this node")

    async def stop(self, *, batch: int = 500, pause: float = 0.05) -> None:
        """Drain: stop accepting, then close sockets with 1001 in batches so chargers
        reconnect elsewhere without a thundering herd; each close releases ownership."""
        if self._server is None:
            return
        server, self._server = self._server, None
        tls_server, self._tls_server = self._tls_server, None
        if self._keepalive is not None:
            await stop_task(self._keepalive)
            self._keepalive = None
        if self._tls_watch is not None:
            await stop_task(self._tls_watch)
            self._tls_watch = None
        server.close(close_connections=False)
        if tls_server is not None:
            tls_server.close(close_connections=False)
        open_connections = list(self.connections.values())
        for start in range(0, len(open_connections), batch):
            chunk = open_connections[start : start + batch]
            await asyncio.gather(
                *(c.websocket.close(CloseCode.GOING_AWAY, "node shutting down") for c in chunk),
                return_exceptions=True,
            )
            if start + batch < len(open_connections):
                await asyncio.sleep(pause)
        # handlers may be waiting for a batch to fill: write it now so they can finish
        await self.deps.flush_writes()
        await server.wait_closed()
        if tls_server is not None:
            await tls_server.wait_closed()

    async def on_booted(self, booted: ChargerBooted) -> None:
        """Hook: a charger booted; once Accepted has been answered, ask it about the
        sessions open now (the charger delivers its queued messages meanwhile)."""
        connection = self.connections.get(booted.charge_point_id)
        if connection is None or booted.registration_status != ACCEPTED:
            return
        connection.link.display = None  # its firmware (and price display) may have changed
        connection.after_answer(lambda: self.pusher.charger_back(connection))
        if can_ask(connection):
            opened = await self.services.sessions.open_sessions(booted.charge_point_id)
            if opened:
                connection.after_answer(lambda: self._check_sessions(connection, opened))

    async def _check_sessions(
        self, connection: ChargerConnection, sessions: Sequence[Transaction] | None
    ) -> None:
        if sessions is None:  # beside the connection, off its connect path
            sessions = await self.services.sessions.open_sessions(connection.charge_point_id)
        await check_open_sessions(
            connection, self.services, sessions, timeout=self.settings.session_check_timeout
        )

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if request.path == HEALTH_PATH:
            return connection.respond(HTTPStatus.OK, "ok\n")
        if request.path == READY_PATH:
            return await self._ready(connection)
        if request.path == METRICS_PATH and self.deps.metrics is not None:
            return self._metrics(connection, request)
        charge_point_id = charge_point_id_from_path(request.path)
        if charge_point_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "expected /ocpp/{charge_point_id}\n")
        try:
            transport = transport_of(connection, request.headers)
        except EdgeRefusal as exc:
            log.warning("connection refused for %s: %s", charge_point_id, exc.reason)
            return connection.respond(exc.status, exc.reason + "\n")
        charger = await self.services.chargers.lookup(charge_point_id)
        if charger is None:
            log.warning("connection refused: unknown charger %s", charge_point_id)
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charge point\n")
        certificate = self._certificate_refusal(charger, transport)
        if certificate is not None:
            log.warning("connection refused for %s: %s", charge_point_id, certificate)
            self._refused("certificate")
            return connection.respond(HTTPStatus.FORBIDDEN, certificate + "\n")
        has_certificate = transport.subject is not None
        if not has_certificate and not await self._authenticated(charger, request.headers):
            log.warning("connection refused: bad credentials for %s", charge_point_id)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "authentication required\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="csms", charset="UTF-8"'
            return response
        profile = connection_profile(
            tls=transport.tls,
            certificate=has_certificate,
            basic=not has_certificate and charger.auth_mode != "none",
        )
        refusal = await self._profile_refusal(charger, profile, transport)
        if refusal is not None:
            return connection.respond(HTTPStatus.FORBIDDEN, refusal + "\n")
        self._handshakes[connection] = (charger, profile)
        return None

    async def _ready(self, connection: ServerConnection) -> Response:
        checks = {} if self.deps.ready_checks is None else await self.deps.ready_checks()
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "unavailable", **checks}
        response = connection.respond(
            HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE,
            orjson.dumps(body).decode() + "\n",
        )
        response.headers["Content-Type"] = "application/json"
        return response

    def _metrics(self, connection: ServerConnection, request: Request) -> Response:
        assert self.deps.metrics is not None
        settings = self.settings
        refusal = scrape_refusal(
            request.headers.get("Authorization"), settings.metrics_token, dev=settings.is_dev
        )
        if refusal is None:
            return connection.respond(HTTPStatus.OK, self.deps.metrics.render())
        response = connection.respond(refusal[0], refusal[1] + "\n")
        if refusal[0] == HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = BEARER_CHALLENGE
        return response

    def _certificate_refusal(self, charger: Charger, transport: Transport) -> str | None:
        """Why a verified client certificate is not this charger's (A00.FR.404/405)."""
        subject = transport.subject
        if subject is None:
            return None
        if subject.common_names != (charger.charge_point_id,):
            return (
                f"client certificate CN {', '.join(subject.common_names) or '(none)'} is not "
                "the charge point id"
            )
        organization = self.settings.tls_client_organization
        if (
            organization is not None
            and transport.organization_known
            and organization not in subject.organizations
        ):
            return f"client certificate O is not {organization}"
        return None

    async def _profile_refusal(
        self, charger: Charger, profile: int, transport: Transport
    ) -> str | None:
        """Why a connection at ``profile`` may not be admitted: below this node's floor or
        below the charger's recorded minimum (a downgrade, refused before it can displace
        the charger's open connection). Admitted connections raise the minimum."""
        cid = charger.charge_point_id
        floor = self.settings.min_security_profile
        if profile < floor:
            self._refused("profile")
            log.warning(
                "connection refused for %s from %s: security profile %d, this node needs %d",
                cid,
                transport.client_address,
                profile,
                floor,
            )
            return f"security profile {floor} or higher is required"
        try:
            admission = await self.services.security_profiles.admit(cid, profile)
        except NotFound:
            return "unknown charge point"
        if admission.admitted:
            return None
        self._refused("downgrade")
        log.warning(
            "connection refused for %s from %s: security profile %d (%s) is below its minimum %d",
            cid,
            transport.client_address,
            profile,
            DESCRIPTIONS[profile],
            admission.minimum,
        )
        return f"security profile {admission.minimum} or higher is required for this charger"

    async def _authenticated(self, charger: Charger, headers: Headers) -> bool:
        if charger.auth_mode == "none":
            return self.settings.is_dev or self.settings.allow_unauthenticated_chargers
        credentials = basic_credentials(headers)
        if credentials is None or charger.password_hash is None:
            return False
        username, password = credentials
        if username != charger.charge_point_id:
            return False
        cid, stored = charger.charge_point_id, charger.password_hash
        if self._credentials.known(cid, stored, password):
            return True
        if not await asyncio.to_thread(verify_password, stored, password):
            # the new password of a rotation under way? (it then becomes the only one)
            promoted = await self.services.passwords.accept_new(cid, password)
            if promoted is None:
                return False
            stored = promoted
        self._credentials.remember(cid, stored, password)
        return True

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        handshake = self._handshakes.get(connection)
        charger = handshake[0] if handshake is not None else None
        for subprotocol in SUPPORTED_SUBPROTOCOLS:
            if subprotocol not in offered:
                continue
            if charger is not None and charger.ocpp_version not in (None, subprotocol):
                continue
            return subprotocol
        return None  # the handler closes the socket at once

    async def _serve(self, websocket: ServerConnection) -> None:
        handshake = self._handshakes.pop(websocket, None)
        if handshake is None:  # cannot happen: process_request let it through
            await websocket.close(CloseCode.INTERNAL_ERROR, "no handshake state")
            return
        charger, profile = handshake
        charge_point_id = charger.charge_point_id
        charger_log = ChargerLog(log, charge_point_id)
        subprotocol = websocket.subprotocol
        if subprotocol is None:
            charger_log.warning("no supported subprotocol offered: closing")
            await websocket.close(CloseCode.PROTOCOL_ERROR, "no supported OCPP subprotocol")
            return
        version = BY_SUBPROTOCOL[subprotocol]
        link = ChargerLink(
            charge_point_id,
            subprotocol,
            charger_log,
            registration_status=charger.registration_status,
        )
        connection = ChargerConnection(
            websocket,
            Context(link, self.services, call_timeout=self.settings.tariff_push_timeout),
            version,
            journal=self.deps.journal,
            metrics=self.deps.metrics,
            validate_responses=self.settings.validate_responses,
            limits=self.charger_limits,
        )
        previous = self.connections.get(charge_point_id)
        self.connections[charge_point_id] = connection
        node_id = self.settings.node_id
        chargers = self.services.chargers
        epoch = 0  # as recorded in the database (a later claim does not change the row)
        try:  # from here on, whatever fails, the connection is let go of below
            if previous is not None:
                charger_log.warning("newer connection replaces the open one")
                await previous.websocket.close(
                    CloseCode.POLICY_VIOLATION, "replaced by a newer connection"
                )
            if self.membership is not None:
                await self.membership.claim(connection)
            else:
                connection.owner = Owner(node_id, next(self._local_epochs))
            epoch = connection.owner.epoch if connection.owner is not None else 0
            connection.recorded_epoch = epoch
            await chargers.connected(link, node_id, epoch)
            charger_log.info(
                "connected with %s, security profile %d (epoch %d)", subprotocol, profile, epoch
            )
            if link.accepted:  # back without a reboot
                if can_ask(connection):
                    connection.start_background(lambda: self._check_sessions(connection, None))
                connection.start_background(lambda: self.pusher.charger_back(connection))
            await connection.serve()
        finally:
            if self.connections.get(charge_point_id) is connection:
                del self.connections[charge_point_id]
            if self.membership is not None:
                await self.membership.release(connection)
            await chargers.disconnected(link, node_id, epoch)
            charger_log.info("disconnected (%s)", websocket.close_code)
