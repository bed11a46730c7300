"""Exceptions raised by the simulators.

Exception tree::

    SimulatorError
    ├── CallError               a CALLERROR: received from the CSMS, or raised by a
    │                           handler to answer a CSMS-initiated CALL with one
    ├── FramingError            a frame that is not valid OCPP-J
    ├── NotConnectedError       a CALL was attempted while no connection is open
    ├── ConnectionLostError     the connection closed while a CALL was outstanding
    ├── OutstandingCallError    a second CALL was started while one is outstanding
    └── ScenarioError           a scenario cannot go on (boot rejected, token refused...)

A handler's :class:`CallError` becomes a CALLERROR frame in exactly one place,
:mod:`simulators.dispatcher`.
"""

from __future__ import annotations

from typing import Any


class SimulatorError(Exception):
    """Base class of every exception raised by the simulators."""


class CallError(SimulatorError):
    """An OCPP CALLERROR with its error code, description and details."""

    def __init__(
        self, code: str, description: str = "", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, description, details or {})
        self.code = code
        self.description = description
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.description}" if self.description else self.code


class FramingError(SimulatorError):
    """A frame that cannot be parsed as an OCPP-J message.

    ``message_id`` is set when the frame was readable enough to recover one, so that the
    receiver can still answer with a CALLERROR.
    """

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id


class NotConnectedError(SimulatorError, ConnectionError):
    """A CALL was attempted while the station has no open connection."""


class ConnectionLostError(SimulatorError, ConnectionError):
    """The connection closed before the outstanding CALL was answered."""


class OutstandingCallError(SimulatorError):
    """A CALL was started while another one is still waiting for its answer."""


class ScenarioError(SimulatorError):
    """A scenario cannot go on: the CSMS refused something it needs."""
