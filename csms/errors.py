"""The one exception tree of the ``csms`` package.

::

    CsmsError
     ├── ConfigurationError          unsafe settings (a default secret outside dev)
     ├── NotFound                    a charger, token or transaction that does not exist
     ├── AlreadyExists               create of something that is already there
 ├── InUse                       removal of something records must keep (billed sessions)
     ├── InvalidInput                a value an operator gave that cannot be accepted
     ├── PaymentError                a payment provider could not do what was asked
     │    ├── ProviderUnavailable    unreachable, timed out, rate limited or 5xx: try later
     │    └── WebhookRejected        a webhook whose signature, timestamp or body is not valid
     ├── CommandError                a command to a charger did not get the charger's answer
     │    ├── ChargerNotConnected    no live connection (or its node is gone)
     │    │    └── ChargerMoved      the node the command went to no longer holds the charger
     │    ├── CommandTimeout         no answer before the deadline
     │    ├── NodeUnavailable        the owning node's circuit breaker is open
     │    ├── CommandRejected        invalid parameters, unsupported by the version, queue full
     │    ├── ChargerCallError       the charger answered with a CALLERROR
     │    └── UpgradeRefused         the charger refused a step of a security profile upgrade
     └── OcppError                   becomes a CALLERROR at exactly one place (node.connection)
          ├── FormatViolation        payload syntactically wrong / not the PDU structure
          ├── OccurrenceViolation    a required field missing, too many items
          ├── TypeViolation          a field with the wrong JSON type
          ├── PropertyViolation      a field with an invalid value (enum, length, range)
          ├── ProtocolViolation      frame that is not a valid OCPP-J frame
          ├── RpcFrameworkViolation  frame whose message id cannot be read (2.0.1)
          ├── MessageTypeNotSupported an unknown message type number
          ├── NotImplementedAction   an action this version does not define
          ├── NotSupportedAction     an action we know but do not support
          ├── SecurityViolation      a call before BootNotification was accepted, ...
          ├── InternalFailure        our fault; the details never reach the charger
          └── RateLimited            over the charger's message rate (GenericError)

``OcppError.kind`` is version neutral; ``csms.node.rpc`` turns it into the error code name of
the charger's OCPP version.
"""

from __future__ import annotations

from enum import Enum


class CsmsError(Exception):
    """Base of every error raised on purpose by csms."""


class ConfigurationError(CsmsError):
    """Settings that must not be used."""


class NotFound(CsmsError):
    """The object asked for does not exist."""


class AlreadyExists(CsmsError):
    """The object to create exists already."""


class InUse(CsmsError):
    """The object cannot be removed: records that must be kept refer to it."""


class InvalidInput(CsmsError):
    """A value given by an operator cannot be accepted."""


class PaymentError(CsmsError):
    """A payment provider refused or failed a request (not a declined card: that is a
    payment's outcome, ``failed``)."""


class ProviderUnavailable(PaymentError):
    """The provider could not be asked now (network, timeout, 429, 5xx); asking again with
    the same idempotency key is safe."""


class WebhookRejected(PaymentError):
    """A webhook that is not the provider's: bad or missing signature, a timestamp outside
    the tolerance, or a body that is not an event."""


class CommandError(CsmsError):
    """A command sent to a charger through the cluster did not succeed.

    ``code`` names the error to operators (CLI, API problem details); ``outcome`` is what a
    node answers on the command bus, turned back into the same class by the caller with
    :func:`command_error` (one registry for both sides: ``COMMAND_OUTCOMES``).
    """

    code = "error"
    outcome = "internal"  # the node failed to carry the command out (see its log)

    def __init__(self, detail: str, extra: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, object] = extra or {}


class ChargerNotConnected(CommandError):
    code = outcome = "not_connected"


class ChargerMoved(ChargerNotConnected):
    """The command was routed with an owner that is no longer current (the caller looks
    the owner up again once)."""

    outcome = "moved"


class CommandTimeout(CommandError):
    code = outcome = "timeout"


class NodeUnavailable(CommandError):
    code = "node_unavailable"
    outcome = "unavailable"


class CommandRejected(CommandError):
    code = outcome = "rejected"


class ChargerCallError(CommandError):
    code = outcome = "call_error"


class UpgradeRefused(CommandError):
    """The charger answered a step of a security profile upgrade with something else than
    Accepted (it keeps its profile); not a bus outcome."""

    code = "refused"


COMMAND_OUTCOMES: dict[str, type[CommandError]] = {
    cls.outcome: cls
    for cls in (
        CommandError,
        ChargerNotConnected,
        ChargerMoved,
        CommandTimeout,
        NodeUnavailable,
        CommandRejected,
        ChargerCallError,
    )
}
"""Bus outcome code -> the error it stands for."""


def command_error(
    outcome: object, detail: str, extra: dict[str, object] | None = None
) -> CommandError:
    """The error a node's answer ``outcome`` stands for (an unknown one: CommandError)."""
    cls = COMMAND_OUTCOMES.get(outcome, CommandError) if isinstance(outcome, str) else CommandError
    return cls(detail or f"command failed ({outcome})", extra)


class ErrorKind(Enum):
    FORMAT = "format"
    OCCURRENCE = "occurrence"
    TYPE = "type"
    PROPERTY = "property"
    PROTOCOL = "protocol"
    RPC_FRAMEWORK = "rpc_framework"
    MESSAGE_TYPE = "message_type"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    SECURITY = "security"
    INTERNAL = "internal"
    GENERIC = "generic"


class OcppError(CsmsError):
    """An error that is answered with a CALLERROR."""

    kind: ErrorKind = ErrorKind.GENERIC

    def __init__(self, description: str = "", details: dict[str, object] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.details: dict[str, object] = details or {}


class FormatViolation(OcppError):
    kind = ErrorKind.FORMAT


class OccurrenceViolation(OcppError):
    kind = ErrorKind.OCCURRENCE


class TypeViolation(OcppError):
    kind = ErrorKind.TYPE


class PropertyViolation(OcppError):
    kind = ErrorKind.PROPERTY


class ProtocolViolation(OcppError):
    kind = ErrorKind.PROTOCOL


class RpcFrameworkViolation(OcppError):
    kind = ErrorKind.RPC_FRAMEWORK


class MessageTypeNotSupported(OcppError):
    kind = ErrorKind.MESSAGE_TYPE


class NotImplementedAction(OcppError):
    kind = ErrorKind.NOT_IMPLEMENTED


class NotSupportedAction(OcppError):
    kind = ErrorKind.NOT_SUPPORTED


class SecurityViolation(OcppError):
    kind = ErrorKind.SECURITY


class InternalFailure(OcppError):
    kind = ErrorKind.INTERNAL


class RateLimited(OcppError):
    """The charger sent more than its message rate allows (``CSMS_CHARGER_MESSAGE_RATE``):
    GenericError in both versions, nothing was handled, the charger may send it again."""

    kind = ErrorKind.GENERIC
