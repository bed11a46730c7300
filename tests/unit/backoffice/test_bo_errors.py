from __future__ import annotations

import orjson
import pytest

from backoffice.errors import PROBLEM_JSON, problem, status_of
from csms.errors import (
    AlreadyExists,
    ChargerCallError,
    ChargerNotConnected,
    CommandRejected,
    CommandTimeout,
    CsmsError,
    InvalidInput,
    NodeUnavailable,
    NotFound,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (AlreadyExists("x"), 409),
        (InvalidInput("x"), 422),
        (ChargerNotConnected("x"), 409),
        (CommandTimeout("x"), 504),
        (NodeUnavailable("x"), 503),
        (CommandRejected("x"), 422),
        (ChargerCallError("x"), 502),
        (CsmsError("x"), 500),
    ],
)
def test_csms_errors_map_to_statuses(error: CsmsError, status: int) -> None:
    assert status_of(error)[0] == status


def test_problem_is_rfc9457() -> None:
    response = problem(409, "CP-1 is not connected", instance="/x", code="not_connected")
    assert response.status_code == 409
    assert response.media_type == PROBLEM_JSON
    assert orjson.loads(response.body) == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "CP-1 is not connected",
        "instance": "/x",
        "code": "not_connected",
    }
