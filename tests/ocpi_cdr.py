"""The OCPI 2.2.1 CDR object as a JSON Schema, written from the CDRs module's object
definitions (CDR, CdrToken, CdrLocation, ChargingPeriod, CdrDimension, Price, GeoLocation)
and the Tariffs module's Tariff: every field's type, cardinality (required or not), length
and enum. Unknown fields are refused. Tests validate every CDR the CSMS produces with it."""

from __future__ import annotations

from typing import Any

import fastjsonschema


def _s(n: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": n}


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


DATETIME = {
    "type": "string",
    "maxLength": 25,
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?Z?$",
}
NUMBER = {"type": "number"}
PRICE = _obj({"excl_vat": NUMBER, "incl_vat": NUMBER}, ["excl_vat"])
TOKEN = _obj(
    {
        "country_code": _s(2),
        "party_id": _s(3),
        "uid": _s(36),
        "type": {"enum": ["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]},
        "contract_id": _s(36),
    },
    ["country_code", "party_id", "uid", "type", "contract_id"],
)
CONNECTOR_TYPES = [
    "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E",
    "DOMESTIC_F", "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K",
    "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N", "DOMESTIC_O", "GBT_AC", "GBT_DC",
    "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
    "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
    "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30", "NEMA_6_50",
    "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
]  # fmt: skip
LOCATION = _obj(
    {
        "id": _s(36),
        "name": _s(255),
        "address": _s(45),
        "city": _s(45),
        "postal_code": _s(10),
        "state": _s(20),
        "country": _s(3),
        "coordinates": _obj(
            {
                "latitude": {"type": "string", "pattern": r"^-?[0-9]{1,2}\.[0-9]{5,7}$"},
                "longitude": {"type": "string", "pattern": r"^-?[0-9]{1,3}\.[0-9]{5,7}$"},
            },
            ["latitude", "longitude"],
        ),
        "evse_uid": _s(36),
        "evse_id": _s(48),
        "connector_id": _s(36),
        "connector_standard": {"enum": CONNECTOR_TYPES},
        "connector_format": {"enum": ["SOCKET", "CABLE"]},
        "connector_power_type": {
            "enum": ["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
        },
    },
    [
        "id",
        "address",
        "city",
        "country",
        "coordinates",
        "evse_uid",
        "evse_id",
        "connector_id",
        "connector_standard",
        "connector_format",
        "connector_power_type",
    ],
)
DIMENSION = _obj(
    {
        "type": {
            "enum": [
                "CURRENT",
                "ENERGY",
                "ENERGY_EXPORT",
                "ENERGY_IMPORT",
                "MAX_CURRENT",
                "MIN_CURRENT",
                "MAX_POWER",
                "MIN_POWER",
                "PARKING_TIME",
                "POWER",
                "RESERVATION_TIME",
                "STATE_OF_CHARGE",
                "TIME",
            ]  # fmt: skip
        },
        "volume": NUMBER,
    },
    ["type", "volume"],
)
PERIOD = _obj(
    {
        "start_date_time": DATETIME,
        "dimensions": {"type": "array", "items": DIMENSION, "minItems": 1},
        "tariff_id": _s(36),
    },
    ["start_date_time", "dimensions"],
)
TIME_OF_DAY = {"type": "string", "pattern": r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"}
DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
RESTRICTIONS = _obj(
    {
        "start_time": TIME_OF_DAY,
        "end_time": TIME_OF_DAY,
        "start_date": DATE,
        "end_date": DATE,
        **dict.fromkeys(("min_kwh", "max_kwh", "min_current", "max_current"), NUMBER),
        **dict.fromkeys(("min_power", "max_power"), NUMBER),
        "min_duration": {"type": "integer"},
        "max_duration": {"type": "integer"},
        "day_of_week": {
            "type": "array",
            "items": {
                "enum": [
                    "MONDAY",
                    "TUESDAY",
                    "WEDNESDAY",
                    "THURSDAY",
                    "FRIDAY",
                    "SATURDAY",
                    "SUNDAY",
                ]  # fmt: skip
            },
        },
        "reservation": {"enum": ["RESERVATION", "RESERVATION_EXPIRES"]},
    },
    [],
)
COMPONENT = _obj(
    {
        "type": {"enum": ["ENERGY", "FLAT", "PARKING_TIME", "TIME"]},
        "price": NUMBER,
        "vat": NUMBER,
        "step_size": {"type": "integer"},
    },
    ["type", "price", "step_size"],
)
TARIFF = _obj(
    {
        "country_code": _s(2),
        "party_id": _s(3),
        "id": _s(36),
        "currency": _s(3),
        "type": {
            "enum": ["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
        },
        "tariff_alt_text": {
            "type": "array",
            "items": _obj({"language": _s(2), "text": _s(512)}, ["language", "text"]),
        },
        "tariff_alt_url": {"type": "string"},
        "min_price": PRICE,
        "max_price": PRICE,
        "elements": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "price_components": {"type": "array", "minItems": 1, "items": COMPONENT},
                    "restrictions": RESTRICTIONS,
                },
                ["price_components"],
            ),
        },
        "start_date_time": DATETIME,
        "end_date_time": DATETIME,
        "energy_mix": {"type": "object"},
        "last_updated": DATETIME,
    },
    ["country_code", "party_id", "id", "currency", "elements", "last_updated"],
)
CDR = _obj(
    {
        "country_code": _s(2),
        "party_id": _s(3),
        "id": _s(39),
        "start_date_time": DATETIME,
        "end_date_time": DATETIME,
        "session_id": _s(36),
        "cdr_token": TOKEN,
        "auth_method": {"enum": ["AUTH_REQUEST", "COMMAND", "WHITELIST"]},
        "authorization_reference": _s(36),
        "cdr_location": LOCATION,
        "meter_id": _s(255),
        "currency": _s(3),
        "tariffs": {"type": "array", "items": TARIFF},
        "charging_periods": {"type": "array", "items": PERIOD, "minItems": 1},
        "signed_data": {"type": "object"},
        "total_cost": PRICE,
        "total_fixed_cost": PRICE,
        "total_energy": NUMBER,
        "total_energy_cost": PRICE,
        "total_time": NUMBER,
        "total_time_cost": PRICE,
        "total_parking_time": NUMBER,
        "total_parking_cost": PRICE,
        "total_reservation_cost": PRICE,
        "remark": _s(255),
        "invoice_reference_id": _s(36),
        "credit": {"type": "boolean"},
        "credit_reference_id": _s(36),
        "home_charging_compensation": {"type": "boolean"},
        "last_updated": DATETIME,
    },
    [
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "end_date_time",
        "cdr_token",
        "auth_method",
        "cdr_location",
        "currency",
        "charging_periods",
        "total_cost",
        "total_energy",
        "total_time",
        "last_updated",
    ],
)

validate_cdr = fastjsonschema.compile(CDR)
"""Raises ``fastjsonschema.JsonSchemaException`` for an object that is not an OCPI 2.2.1
CDR; give it the object parsed from the CDR's JSON."""
