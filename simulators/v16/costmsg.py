"""OCPP 1.6 California Pricing: ``DataTransfer`` vendor ``org.openchargealliance.costmsg``.

The Open Charge Alliance's "OCPP & California Pricing Requirements" as described in
docs/reference/california-pricing.md: ``SetUserPrice``, ``RunningCost`` and ``FinalCost``
from the CSMS, each with its JSON in the ``data`` string, and the configuration keys a
station with ``CustomDisplayCostAndPrice=true`` reports. The schemas below are that page's
tables. A message of another shape, or for a transaction the station does not know, is
answered ``Rejected`` (EVerest libocpp's behaviour), never with a CALLERROR.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import fastjsonschema

from simulators.config import StationConfig
from simulators.context import StationContext
from simulators.display import Text
from simulators.schemas import FORMAT, SchemaViolation

Payload = dict[str, Any]

VENDOR_ID = "org.openchargealliance.costmsg"
ENABLED_KEY = "CustomDisplayCostAndPrice"
DEFAULT_PRICE_TEXT_KEY = "DefaultPriceText"
SUPPORTED_LANGUAGES = ("en", "de", "nl")

_READ_ONLY = {
    ENABLED_KEY: "true",
    "CustomMultiLanguageMessages": "true",
    "SupportedLanguages": ",".join(SUPPORTED_LANGUAGES),
    "NumberOfDecimalsForCostValues": "3",
}
_READ_WRITE = {
    "DefaultPrice": json.dumps(
        {
            "priceText": "No price information yet",
            "priceTextOffline": "The station is offline: no price information",
        }
    ),
    "Language": SUPPORTED_LANGUAGES[0],
    "TimeOffset": "+00:00",
    "NextTimeOffsetTransitionDateTime": "",
    "TimeOffsetNextTransition": "",
    "CustomIdleFeeAfterStop": "false",
    **{f"{DEFAULT_PRICE_TEXT_KEY},{language}": "" for language in SUPPORTED_LANGUAGES},
}

# -- the shapes (docs/reference/california-pricing.md) ---------------------------------------

_DECIMAL = {"type": "number"}
_DATE_TIME = {"type": "string", "format": "date-time"}
_CHARGING_PRICE = {
    "type": "object",
    "properties": {"kWhPrice": _DECIMAL, "hourPrice": _DECIMAL, "flatFee": _DECIMAL},
}
_IDLE_PRICE = {
    "type": "object",
    "properties": {"graceMinutes": {"type": "integer", "minimum": 0}, "hourPrice": _DECIMAL},
}
_MESSAGE_CONTENT = {
    "type": "object",
    "required": ["format", "content"],
    "properties": {
        "format": {"enum": ["ASCII", "HTML", "URI", "UTF8"]},
        "language": {"type": "string", "maxLength": 8},
        "content": {"type": "string", "maxLength": 512},
    },
}
_TEXTS = {
    "priceText": {"type": "string"},
    "priceTextExtra": {"type": "array", "items": _MESSAGE_CONTENT},
}
_TRANSACTION_ID = {"type": "integer"}
_CP_STATUSES = ["Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing"]

SCHEMAS: dict[str, dict[str, Any]] = {
    "SetUserPrice": {
        "type": "object",
        "required": ["idToken", "priceText"],
        "properties": {"idToken": {"type": "string"}, **_TEXTS},
    },
    "RunningCost": {
        "type": "object",
        "required": ["transactionId", "timestamp", "meterValue", "cost", "state"],
        "properties": {
            "transactionId": _TRANSACTION_ID,
            "timestamp": _DATE_TIME,
            "meterValue": {"type": "integer", "minimum": 0},
            "cost": _DECIMAL,
            "state": {"enum": ["Charging", "Idle"]},
            "chargingPrice": _CHARGING_PRICE,
            "idlePrice": _IDLE_PRICE,
            "nextPeriod": {
                "type": "object",
                "required": ["atTime", "chargingPrice"],
                "properties": {
                    "atTime": _DATE_TIME,
                    "chargingPrice": _CHARGING_PRICE,
                    "idlePrice": _IDLE_PRICE,
                },
            },
            "triggerMeterValue": {
                "type": "object",
                "properties": {
                    "atTime": _DATE_TIME,
                    "atEnergykWh": _DECIMAL,
                    "atPowerkW": _DECIMAL,
                    "atCPStatus": {"type": "array", "maxItems": 6, "items": {"enum": _CP_STATUSES}},
                },
            },
            **_TEXTS,
            "qrCodeText": {"type": "string"},
        },
        # the note's idle-after-stop example omits chargingPrice
        "if": {"required": ["state"], "properties": {"state": {"const": "Charging"}}},
        "then": {"required": ["chargingPrice"]},
    },
    "FinalCost": {
        "type": "object",
        "required": ["transactionId", "cost", "priceText"],
        "properties": {
            "transactionId": _TRANSACTION_ID,
            "cost": _DECIMAL,
            **_TEXTS,
            "qrCodeText": {"type": "string"},
        },
    },
    "DefaultPrice": {
        "type": "object",
        "required": ["priceText"],
        "properties": {
            "priceText": {"type": "string"},
            "priceTextOffline": {"type": "string"},
            "chargingPrice": _CHARGING_PRICE,
            "idlePrice": _IDLE_PRICE,
        },
    },
    DEFAULT_PRICE_TEXT_KEY: {
        "type": "object",
        "required": ["priceText"],
        "properties": {"priceText": {"type": "string"}, "priceTextOffline": {"type": "string"}},
    },
}


@cache
def _validator(name: str) -> Callable[[Any], Any]:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", **SCHEMAS[name]}
    validator: Callable[[Any], Any] = fastjsonschema.compile(schema)
    return validator


def parse(name: str, text: str | None) -> Payload:
    """The JSON object in ``text``, checked against the shape ``name``, numbers as Decimal.

    Raises :class:`~simulators.schemas.SchemaViolation` when it is missing, not JSON, or
    not of that shape.
    """
    if text is None:
        raise SchemaViolation(FORMAT, f"{name} needs its JSON in data")
    try:
        loose = json.loads(text)
    except ValueError as exc:
        raise SchemaViolation(FORMAT, f"data is not JSON: {exc}") from exc
    try:
        _validator(name)(loose)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise SchemaViolation(FORMAT, str(exc.message)) from exc
    exact: Payload = json.loads(text, parse_float=Decimal)
    return exact


# -- configuration keys -----------------------------------------------------------------------


def enabled(configuration: Mapping[str, str]) -> bool:
    """Whether the station reports ``CustomDisplayCostAndPrice=true``."""
    return configuration.get(ENABLED_KEY, "").lower() == "true"


def default_configuration(config: StationConfig) -> tuple[dict[str, str], set[str]]:
    """The extension's keys (none unless ``display_cost_and_price``), and the read-only ones."""
    if not config.display_cost_and_price:
        return {}, set()
    return _READ_ONLY | _READ_WRITE, set(_READ_ONLY)


_OFFSET = re.compile(r"^[+-]?\d{2}:\d{2}$")


def _is_json(name: str, value: str) -> bool:
    try:
        parse(name, value)
    except SchemaViolation:
        return False
    return True


def _is_date_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _languages(configuration: Mapping[str, str]) -> list[str]:
    return [code.strip() for code in configuration.get("SupportedLanguages", "").split(",")]


def refused(configuration: Mapping[str, str], key: str, value: str) -> bool:
    """Whether ChangeConfiguration of one of the extension's keys must be ``Rejected``."""
    if not enabled(configuration):
        return False
    if key.startswith(f"{DEFAULT_PRICE_TEXT_KEY},"):
        language = key.split(",", 1)[1].strip()
        if language not in _languages(configuration):
            return True
        return value != "" and not _is_json(DEFAULT_PRICE_TEXT_KEY, value)
    checks: dict[str, Callable[[str], bool]] = {
        "DefaultPrice": lambda v: _is_json("DefaultPrice", v),
        "Language": lambda v: v in _languages(configuration),
        "TimeOffset": lambda v: bool(_OFFSET.match(v)),
        "TimeOffsetNextTransition": lambda v: v == "" or bool(_OFFSET.match(v)),
        "NextTimeOffsetTransitionDateTime": lambda v: v == "" or _is_date_time(v),
        "CustomIdleFeeAfterStop": lambda v: v.lower() in ("true", "false"),
    }
    check = checks.get(key)
    return check is not None and not check(value)


# -- the DataTransfer messages ----------------------------------------------------------------


def _texts(data: Payload, language: str | None) -> list[Text]:
    texts = [Text(data["priceText"], language)] if "priceText" in data else []
    for extra in data.get("priceTextExtra", []):
        texts.append(Text(extra["content"], extra.get("language"), extra["format"]))
    return texts


def _money(value: Decimal | int) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _set_user_price(ctx: StationContext, data: Payload) -> str:
    id_token = data["idToken"]
    transaction = next(
        (tx for tx in ctx.state.transactions.values() if tx.id_token == id_token), None
    )
    language = ctx.state.configuration.get("Language")
    ctx.display.show_tariff(
        _texts(data, language),
        id_token=id_token,
        transaction_id=transaction.transaction_id if transaction else None,
    )
    return "Accepted"


def _running_cost(ctx: StationContext, data: Payload) -> str:
    if ctx.state.find_known_transaction(data["transactionId"]) is None:
        return "Rejected"
    prices: dict[str, Any] = {
        name: data[name]
        for name in ("chargingPrice", "idlePrice", "nextPeriod", "triggerMeterValue")
        if name in data
    }
    ctx.display.show_running_cost(
        data["transactionId"],
        _money(data["cost"]),
        state=data["state"],
        meter_wh=data["meterValue"],
        timestamp=data["timestamp"],
        prices=prices,
        texts=_texts(data, ctx.state.configuration.get("Language")),
        qr_code_text=data.get("qrCodeText"),
    )
    return "Accepted"


def _final_cost(ctx: StationContext, data: Payload) -> str:
    if ctx.state.find_known_transaction(data["transactionId"]) is None:
        return "Rejected"
    ctx.display.show_final_cost(
        data["transactionId"],
        _money(data["cost"]),
        texts=_texts(data, ctx.state.configuration.get("Language")),
        qr_code_text=data.get("qrCodeText"),
    )
    return "Accepted"


MESSAGES: dict[str, Callable[[StationContext, Payload], str]] = {
    "SetUserPrice": _set_user_price,
    "RunningCost": _running_cost,
    "FinalCost": _final_cost,
}


def data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    """Answer a ``DataTransfer`` of vendor ``org.openchargealliance.costmsg``."""
    message_id = payload.get("messageId", "")
    show = MESSAGES.get(message_id)
    if show is None:
        return {"status": "UnknownMessageId"}
    try:
        data = parse(message_id, payload.get("data"))
    except SchemaViolation as exc:
        ctx.log.warning("refused %s %s: %s", VENDOR_ID, message_id, exc.message)
        return {"status": "Rejected", "data": exc.message[:500]}
    status = show(ctx, data)
    if status != "Accepted":
        ctx.log.warning("refused %s %s: unknown transaction", VENDOR_ID, message_id)
        return {"status": status, "data": "unknown transaction"}
    return {"status": status}
