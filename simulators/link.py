"""Opening the OCPP-J WebSocket: endpoint URL, subprotocols, HTTP Basic authentication."""

from __future__ import annotations

import base64
import logging
import re
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from simulators.config import StationConfig
from simulators.security import Endpoint, initial_profile, ssl_context

#: Frames mentioning these are never logged verbatim.
SECRET_MARKERS = ("AuthorizationKey", "BasicAuthPassword")
_SECRET_VALUE = re.compile(r'("(?:value|attributeValue)"\s*:\s*)"(?:[^"\\]|\\.)*"')


class _MaskAuthorization(logging.Filter):
    """Masks the Authorization header in websockets' handshake DEBUG records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args[:1] == ("Authorization",):
            record.args = ("Authorization", "***")
        return True


#: The logger given to websockets (handshake and frame level DEBUG records).
wire_logger = logging.getLogger("simulators.wire")
wire_logger.addFilter(_MaskAuthorization())


def endpoint(config: StationConfig) -> str:
    """The CSMS URL with the charge point id appended as the last path segment."""
    return f"{config.url.rstrip('/')}/{quote(config.charge_point_id, safe='')}"


def basic_auth(charge_point_id: str, password: str) -> str:
    """The Authorization header value of security profile 1."""
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def redact(frame: str) -> str:
    """``frame`` for a log line: values next to a secret's name are masked."""
    if not any(marker in frame for marker in SECRET_MARKERS):
        return frame
    return _SECRET_VALUE.sub(r'\1"***"', frame)


async def open_connection(
    config: StationConfig, default_subprotocol: str, via: Endpoint | None = None
) -> ClientConnection:
    """Connect to the CSMS (``via`` one of the station's endpoints, else ``config.url``);
    raises ``websockets.exceptions.InvalidStatus`` on HTTP errors, ``ssl.SSLError`` when
    TLS fails."""
    via = via or Endpoint(config.url, initial_profile(config))
    headers = {}
    # profile 3: the certificate authenticates the station, no password is sent
    if config.password is not None and via.security_profile <= 2:
        headers["Authorization"] = basic_auth(config.charge_point_id, config.password)
    offered = config.subprotocols if config.subprotocols is not None else [default_subprotocol]
    return await connect(
        f"{via.url.rstrip('/')}/{quote(config.charge_point_id, safe='')}",
        ssl=ssl_context(config, via),
        subprotocols=[Subprotocol(name) for name in offered],
        additional_headers=headers,
        open_timeout=config.open_timeout,
        compression=None,
        proxy=None,
        logger=wire_logger,
    )
