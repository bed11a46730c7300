"""The audit middleware without servers: which requests it records, what a row holds, the
request id, and a database that refuses the row (the answer still goes out, counted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from backoffice import audit
from backoffice.audit import AuditMiddleware
from backoffice.metrics import Metrics


@dataclass
class FakePool:
    fail: bool = False
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    async def fetchval(self, query: str, *args: Any) -> int:
        if self.fail:
            raise OSError("the database is down")
        self.rows.append(args)
        return len(self.rows)


@dataclass
class FakeState:
    pool: FakePool
    metrics: Metrics = field(default_factory=Metrics)


def make_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/things/{thing_id}", tags=["things"])
    async def poke_thing(thing_id: str, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        if thing_id == "noted":
            audit.note(request, action="things.noted", result={"answer": 42})
        return {"thing_id": thing_id, "secret": "hidden-" + thing_id}

    @app.delete("/api/v1/things/{thing_id}", tags=["things"], status_code=204)
    async def drop_thing(thing_id: str) -> Response:
        return Response(status_code=204)

    @app.get("/api/v1/things/{thing_id}")
    async def read_thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    @app.post("/uploads/{token}")
    async def upload(token: str) -> dict[str, str]:
        return {}

    app.add_middleware(AuditMiddleware, state=state)
    return app


def columns(args: tuple[Any, ...]) -> dict[str, Any]:
    names = (
        "source actor_user_id actor actor_role action method route target target_params "
        "params status outcome result client request_id"
    ).split()
    return dict(zip(names, args, strict=True))


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


@pytest.fixture
async def client(pool: FakePool) -> Any:
    app = make_app(FakeState(pool))
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_state_changing_request_is_recorded(
    client: httpx.AsyncClient, pool: FakePool
) -> None:
    response = await client.post(
        "/api/v1/things/T1?dry=1&password=p",
        json={"name": "x", "webhook_secret": "abc"},
        headers={"X-Request-ID": "req-1"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-1"
    (row,) = [columns(r) for r in pool.rows]
    assert row["action"] == "things.poke_thing"
    assert (row["method"], row["route"], row["target"]) == (
        "POST",
        "/api/v1/things/{thing_id}",
        "T1",
    )
    assert row["target_params"] == {"thing_id": "T1"}
    assert row["params"] == {
        "query": {"dry": "1", "password": "[redacted]"},
        "body": {"name": "x", "webhook_secret": "[redacted]"},
    }
    assert row["result"] == {"thing_id": "T1", "secret": "[redacted]"}
    assert (row["status"], row["outcome"], row["client"]) == (200, "ok", "10.0.0.7")
    assert row["actor"] is None  # no authentication on this app


async def test_notes_refusals_and_no_content(client: httpx.AsyncClient, pool: FakePool) -> None:
    await client.post("/api/v1/things/noted", json={})
    await client.post(
        "/api/v1/things/T2", content=b"{not json", headers={"content-type": "application/json"}
    )
    await client.delete("/api/v1/things/T3", headers={"X-Request-ID": "bad id with spaces"})
    await client.post("/api/v1/nowhere", json={})
    noted, invalid, deleted, unmatched = [columns(r) for r in pool.rows]
    assert noted["action"] == "things.noted" and noted["result"] == {"answer": 42}
    assert (invalid["status"], invalid["outcome"]) == (422, "failed")
    assert invalid["params"]["body"]["invalid"] is True
    assert (deleted["status"], deleted["result"]) == (204, None)
    assert deleted["request_id"] != "bad id with spaces" and len(deleted["request_id"]) == 32
    assert (unmatched["action"], unmatched["route"], unmatched["status"]) == (
        "unmatched.post",
        None,
        404,
    )


async def test_reads_and_non_api_routes_are_not_recorded(
    client: httpx.AsyncClient, pool: FakePool
) -> None:
    assert (await client.get("/api/v1/things/T1")).status_code == 200
    assert (await client.post("/uploads/tok")).status_code == 200
    assert pool.rows == []


async def test_a_row_that_cannot_be_written_does_not_lose_the_answer() -> None:
    state = FakeState(FakePool(fail=True))
    transport = httpx.ASGITransport(app=make_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/v1/things/T1", json={})
    assert response.status_code == 200 and response.json()["thing_id"] == "T1"
    assert state.metrics.registry.get_sample_value("csms_backoffice_audit_failures_total") == 1
