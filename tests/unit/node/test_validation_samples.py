"""Sampled values are checked by hand (csms/node/validation.py, ``with_fast_samples``): the
outcome must be exactly the full fastjsonschema validator's, for valid and invalid payloads
alike: valid or not, the same error (message, field, rule), the same defaults filled in."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import fastjsonschema
import pytest

from csms.node import v16, v201
from csms.node.validation import _compile, bounded, with_fast_samples
from csms.node.version import OcppVersion

NOW = "2026-01-01T12:00:00Z"


def _v16_samples() -> list[dict[str, Any]]:
    return [
        {"value": "1234.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh",
         "context": "Sample.Periodic"},
        {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A",
         "location": "Outlet", "format": "Raw"},
        {"value": "42"},
    ]  # fmt: skip


def _v201_samples() -> list[dict[str, Any]]:
    return [
        {"value": 1234.5, "measurand": "Energy.Active.Import.Register",
         "context": "Sample.Periodic", "unitOfMeasure": {"unit": "Wh"}},
        {"value": 16, "measurand": "Current.Import", "phase": "L1",
         "unitOfMeasure": {"unit": "A", "multiplier": 0}, "location": "Outlet"},
        {"value": 42, "customData": {"vendorId": "acme", "extra": [1]}},
        {"value": 1.5, "signedMeterValue": {"signedMeterData": "ZGF0YQ==", "signingMethod": "x",
         "encodingMethod": "y", "publicKey": "a2V5"}},
    ]  # fmt: skip


PAYLOADS: list[tuple[OcppVersion, str, dict[str, Any]]] = [
    (v16.VERSION, "MeterValues",
     {"connectorId": 1, "transactionId": 7,
      "meterValue": [{"timestamp": NOW, "sampledValue": _v16_samples()}]}),
    (v16.VERSION, "StopTransaction",
     {"transactionId": 7, "meterStop": 10, "timestamp": NOW,
      "transactionData": [{"timestamp": NOW, "sampledValue": _v16_samples()}]}),
    (v201.VERSION, "TransactionEvent",
     {"eventType": "Updated", "timestamp": NOW, "triggerReason": "MeterValuePeriodic",
      "seqNo": 3, "transactionInfo": {"transactionId": "T-1"},
      "meterValue": [{"timestamp": NOW, "sampledValue": _v201_samples()}]}),
    (v201.VERSION, "MeterValues",
     {"evseId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": _v201_samples()}]}),
]  # fmt: skip

ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 2.5, -(2**40), 2**31, "", "Wh", "L1", "x" * 21,
    "x" * 300, "Sample.Periodic", "Energy.Active.Import.Register", [], [1], {}, {"unit": "kWh"},
    {"unit": 5}, {"multiplier": 3}, {"multiplier": 1.0}, {"multiplier": 2**33}, {"x": 1},
    {"vendorId": "v"}, {"vendorId": "v" * 256}, {"signedMeterData": "d"},
]  # fmt: skip
KEYS = [
    "value", "measurand", "phase", "unit", "unitOfMeasure", "context", "location", "format",
    "customData", "signedMeterValue", "other",
]  # fmt: skip


def _validators(version: OcppVersion, action: str) -> tuple[Any, Any, list[int]]:
    schema = json.loads(version.schemas.path(action, False).read_text(encoding="utf-8"))
    schema.pop("$id", None)
    bounded(schema)
    full_calls = [0]

    def counting(sub: Any) -> Any:
        compiled = _compile(sub)
        if sub is not schema:
            return compiled

        def full(payload: Any) -> Any:
            full_calls[0] += 1
            return compiled(payload)

        return full

    return _compile(copy.deepcopy(schema)), with_fast_samples(schema, counting), full_calls


def _outcome(validate: Any, payload: Any) -> tuple[Any, ...]:
    try:
        validate(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        return ("error", exc.message, exc.name, exc.rule, payload)
    return ("valid", payload)


def _mutate(rng: random.Random, payload: dict[str, Any], outer: str) -> None:
    elements = payload[outer]
    element = rng.choice(elements)
    choice = rng.random()
    if choice < 0.05:
        payload[outer] = rng.choice([None, "x", [], [1], {}])
    elif choice < 0.12:
        element["sampledValue"] = rng.choice([None, "x", [], [None], {}])
    elif choice < 0.18:
        del element["timestamp"]
    else:
        sample = rng.choice(element["sampledValue"])
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(KEYS)
            if rng.random() < 0.25:
                sample.pop(key, None)
            else:
                sample[key] = copy.deepcopy(rng.choice(ODD_VALUES))


@pytest.mark.parametrize(
    ("version", "action", "payload"), PAYLOADS, ids=lambda p: getattr(p, "subprotocol", p)
)
def test_the_hand_check_decides_as_the_full_validator(
    version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    full, fast, full_calls = _validators(version, action)
    outer = "transactionData" if action == "StopTransaction" else "meterValue"

    # a valid payload never reaches the full validator (the hand check is in use), and
    # comes out as the full validator leaves it (unitOfMeasure's defaults filled in)
    assert _outcome(fast, copy.deepcopy(payload)) == _outcome(full, copy.deepcopy(payload))
    assert _outcome(fast, copy.deepcopy(payload))[0] == "valid"
    assert full_calls[0] == 0

    rng = random.Random(f"{version.subprotocol}-{action}")
    errors = 0
    for _ in range(3000):
        mutated = copy.deepcopy(payload)
        _mutate(rng, mutated, outer)
        expected = _outcome(full, copy.deepcopy(mutated))
        assert _outcome(fast, mutated) == expected, mutated
        errors += expected[0] == "error"
    assert 500 < errors < 3000  # both outcomes were exercised


def test_a_valid_sample_with_defaults_gets_them_filled() -> None:
    """2.0.1 unitOfMeasure: fastjsonschema fills unit "Wh" and multiplier 0; so does the
    hand check (the handlers see the same payload either way)."""
    payload = copy.deepcopy(PAYLOADS[2][2])
    payload["meterValue"][0]["sampledValue"] = [{"value": 1, "unitOfMeasure": {}}]
    v201.VERSION.schemas.validate("TransactionEvent", payload)
    assert payload["meterValue"][0]["sampledValue"][0]["unitOfMeasure"] == {
        "unit": "Wh",
        "multiplier": 0,
    }
