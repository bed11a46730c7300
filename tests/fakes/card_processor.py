"""A local fake of the card processor's API (Stripe-shaped), that tests start on port 0.

It keeps payment intents and refunds in memory and behaves as the real API does where the
CSMS depends on it: a bearer secret key; form-encoded requests; an ``Idempotency-Key`` whose
repeat with the same parameters replays the first answer (``Idempotent-Replayed: true``)
and with other parameters is refused (400 ``idempotency_error``); manual capture; a 402
``card_error`` carrying the intent when a card is declined; refunds never beyond what was
received; and signed webhooks (``Stripe-Signature: t=..,v1=..``) POSTed to the URL it is
given, after it answered.

Test cards: ``pm_card_visa`` pays; ``pm_card_chargeDeclined`` (and whatever a test adds to
``declined``) is declined. The driver's app confirms an intent with its ``client_secret``
(``confirm``). ``unavailable`` answers the next N API requests with 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csms.domain.payments import signature_header
from tests.timeouts import TIMEOUT

VISA = "pm_card_visa"
DECLINED = "pm_card_chargeDeclined"
CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
CANCELABLE = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "requires_capture",
)


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error(status: int, kind: str, message: str, **extra: Any) -> Response:
    return _json(status, {"error": {"type": kind, "message": message, **extra}})


@dataclass
class Delivery:
    event_id: str
    type: str
    status: int | None  # the answer of the webhook URL (None: not reachable)
    body: str


@dataclass
class FakeCardProcessor:
    api_key: str
    webhook_secret: str
    webhook_url: str | None = None
    send_webhooks: bool = True
    unavailable: int = 0
    declined: set[str] = field(default_factory=lambda: {DECLINED})
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    url: str = ""

    # -- the app -------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/payment_intents", self._create, methods=["POST"]),
                Route("/v1/payment_intents/{id}", self._get, methods=["GET"]),
                Route("/v1/payment_intents/{id}/confirm", self._confirm, methods=["POST"]),
                Route("/v1/payment_intents/{id}/capture", self._capture, methods=["POST"]),
                Route("/v1/payment_intents/{id}/cancel", self._cancel, methods=["POST"]),
                Route("/v1/refunds", self._refund, methods=["POST"]),
            ]
        )

    async def _guard(
        self, request: Request, *, client_secret_ok: bool = False
    ) -> Response | dict[str, str]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append((request.method, request.url.path, form))
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(503, "api_error", "The service is temporarily unavailable.")
        auth = request.headers.get("authorization", "")
        secret_ok = client_secret_ok and "client_secret" in form
        if auth != f"Bearer {self.api_key}" and not secret_ok:
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        return form

    async def _idempotent(self, request: Request, form: dict[str, str], handler: Any) -> Response:
        key = request.headers.get("idempotency-key")
        if key is None or request.method != "POST":
            response: Response = await handler(form)
            return response
        fingerprint = hashlib.sha256(
            orjson.dumps([request.url.path, sorted(form.items())])
        ).hexdigest()
        seen = self._idempotency.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            return Response(
                seen[2],
                seen[1],
                {"Idempotent-Replayed": "true"},
                media_type="application/json",
            )
        response = await handler(form)
        self._idempotency[key] = (fingerprint, response.status_code, bytes(response.body))
        return response

    async def _create(self, request: Request) -> Response:
        form = await self._guard(request)
        if isinstance(form, Response):
            return form
        return await self._idempotent(request, form, self._create_intent)

    async def _create_intent(self, form: dict[str, str]) -> Response:
        try:
            amount = int(form["amount"])
            currency = form["currency"]
        except (KeyError, ValueError):
            return _error(400, "invalid_request_error", "Missing or invalid amount/currency.")
        if amount < 1 or len(currency) != 3 or currency != currency.lower():
            return _error(400, "invalid_request_error", "Invalid amount or currency.")
        intent_id = _id("pi")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": currency,
            "capture_method": form.get("capture_method", "automatic"),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "description": form.get("description"),
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
            },
            "payment_method": form.get("payment_method"),
            "status": "requires_confirmation"
            if form.get("payment_method")
            else "requires_payment_method",
            "last_payment_error": None,
            "latest_charge": None,
            "created": int(time.time()),
        }
        self.intents[intent_id] = intent
        if form.get("confirm") == "true":
            if not intent["payment_method"]:
                return _error(
                    400, "invalid_request_error", "A payment method is required to confirm."
                )
            return self._confirm_intent(intent, intent["payment_method"])
        return _json(200, intent)

    def _confirm_intent(self, intent: dict[str, Any], payment_method: str) -> Response:
        intent["payment_method"] = payment_method
        if payment_method in self.declined:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
            self._emit("payment_intent.payment_failed", intent)
            return _error(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code="generic_decline",
                payment_intent=dict(intent),
            )
        intent["last_payment_error"] = None
        intent["latest_charge"] = _id("ch")
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self._emit("payment_intent.amount_capturable_updated", intent)
        else:
            self._succeed(intent, intent["amount"])
        return _json(200, intent)

    def _succeed(self, intent: dict[str, Any], amount: int) -> None:
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self._emit("payment_intent.succeeded", intent)

    async def _get(self, request: Request) -> Response:
        form = await self._guard(request)
        if isinstance(form, Response):
            return form
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return self._missing(request.path_params["id"])
        return _json(200, intent)

    def _missing(self, intent_id: str) -> Response:
        return _error(
            404,
            "invalid_request_error",
            f"No such payment_intent: '{intent_id}'",
            code="resource_missing",
        )

    async def _confirm(self, request: Request) -> Response:
        """The driver's app confirms an intent with its client secret and a card."""
        form = await self._guard(request, client_secret_ok=True)
        if isinstance(form, Response):
            return form
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return self._missing(request.path_params["id"])
        if "client_secret" in form and form["client_secret"] != intent["client_secret"]:
            return _error(401, "invalid_request_error", "The client_secret does not match.")

        async def confirm(form: dict[str, str]) -> Response:
            if intent["status"] not in CONFIRMABLE:
                return self._unexpected(intent)
            return self._confirm_intent(
                intent, form.get("payment_method") or intent["payment_method"]
            )

        return await self._idempotent(request, form, confirm)

    def _unexpected(self, intent: dict[str, Any]) -> Response:
        return _error(
            400,
            "invalid_request_error",
            f"This PaymentIntent's status is {intent['status']}.",
            code="payment_intent_unexpected_state",
        )

    async def _capture(self, request: Request) -> Response:
        form = await self._guard(request)
        if isinstance(form, Response):
            return form
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return self._missing(request.path_params["id"])

        async def capture(form: dict[str, str]) -> Response:
            if intent["status"] != "requires_capture":
                return self._unexpected(intent)
            self._succeed(intent, int(form.get("amount_to_capture") or intent["amount"]))
            return _json(200, intent)

        return await self._idempotent(request, form, capture)

    async def _cancel(self, request: Request) -> Response:
        form = await self._guard(request)
        if isinstance(form, Response):
            return form
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return self._missing(request.path_params["id"])

        async def cancel(form: dict[str, str]) -> Response:
            if intent["status"] not in CANCELABLE:
                return self._unexpected(intent)
            intent.update(status="canceled", amount_capturable=0)
            self._emit("payment_intent.canceled", intent)
            return _json(200, intent)

        return await self._idempotent(request, form, cancel)

    async def _refund(self, request: Request) -> Response:
        form = await self._guard(request)
        if isinstance(form, Response):
            return form
        return await self._idempotent(request, form, self._refund_intent)

    async def _refund_intent(self, form: dict[str, str]) -> Response:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None:
            return self._missing(form.get("payment_intent", ""))
        if intent["status"] != "succeeded":
            return _error(400, "invalid_request_error", "This PaymentIntent has not succeeded.")
        mine = [r for r in self.refunds.values() if r["payment_intent"] == intent["id"]]
        left = intent["amount_received"] - sum(r["amount"] for r in mine if r["status"] != "failed")
        amount = int(form.get("amount") or left)
        if amount < 1 or amount > left:
            return _error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
            )
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "charge": intent["latest_charge"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
            },
        }
        self.refunds[refund["id"]] = refund
        refunds = [r for r in self.refunds.values() if r["payment_intent"] == intent["id"]]
        refunded = sum(r["amount"] for r in refunds if r["status"] == "succeeded")
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount_received"],
            "amount_refunded": refunded,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "refunded": refunded >= intent["amount_received"],
            "refunds": {"object": "list", "data": list(reversed(refunds))},
        }
        self._emit("charge.refunded", charge)
        return _json(200, refund)

    # -- webhooks ------------------------------------------------------------------------------

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": _id("evt"),
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": orjson.loads(orjson.dumps(obj))},
        }
        self.events[event["id"]] = event
        return event

    def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        event = self.event(kind, obj)
        if self.send_webhooks and self.webhook_url:
            task = asyncio.get_running_loop().create_task(self.deliver(event["id"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def signed(
        self, event_id: str, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """An event's body and headers as the processor sends them."""
        body = orjson.dumps(self.events[event_id])
        stamp = int(time.time()) if timestamp is None else timestamp
        return body, {
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(body, self.webhook_secret, stamp),
        }

    async def deliver(self, event_id: str) -> Delivery:
        """POST the event, signed now, to the webhook URL (again, if it was sent before)."""
        assert self.webhook_url is not None
        body, headers = self.signed(event_id)
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                response = await client.post(self.webhook_url, content=body, headers=headers)
            delivery = Delivery(
                event_id, self.events[event_id]["type"], response.status_code, response.text
            )
        except httpx.HTTPError as exc:
            delivery = Delivery(event_id, self.events[event_id]["type"], None, str(exc))
        self.deliveries.append(delivery)
        return delivery

    async def delivered(self) -> None:
        """Wait until every webhook sent so far got its answer."""
        async with asyncio.timeout(TIMEOUT):
            while self._tasks:
                await asyncio.gather(*self._tasks)

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["type"] == kind]


@contextlib.asynccontextmanager
async def running_card_processor(
    *, api_key: str, webhook_secret: str
) -> AsyncIterator[FakeCardProcessor]:
    """The fake on uvicorn, port 0, in the running loop; ``.url`` is its base URL."""
    fake = FakeCardProcessor(api_key=api_key, webhook_secret=webhook_secret)
    config = uvicorn.Config(
        fake.app(),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(), name="card-processor")
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("the fake card processor did not start")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
        await fake.delivered()
    finally:
        server.should_exit = True
        await serving
