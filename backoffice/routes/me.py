"""The caller's own money and sessions: what a driver's app calls (docs/api.md, "Me").

Everything here is the caller's own, whatever their role: their billing account (the one
opened for their user), the sessions of their id tokens with running and final cost and
what each was charged, and starting or stopping a session with one of their tokens (every
role but the read-only monitor). A session or token that is not theirs answers 404,
exactly like one that does not exist.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import AwareDatetime

from backoffice.deps import AnyUser, PageDep, PoolDep, StateDep
from backoffice.errors import Conflict
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.permissions import Allow, Principal, Role
from backoffice.routes import API
from backoffice.routes.accounts import account_detail, charge_public
from backoffice.routes.chargers import existing
from backoffice.routes.transactions import transactions_public
from backoffice.schemas.accounts import AccountDetail
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.me import (
    MySession,
    Settlement,
    StartRequested,
    StartSession,
    StopRequested,
)
from backoffice.services.billing import BillingDep
from backoffice.state import State
from csms.domain.billing import WAIVED, Charge, Review
from csms.domain.charge_points import MAX_CHARGE_POINT_ID
from csms.domain.clock import utc_now
from csms.domain.commands import new_request_id
from csms.domain.id_tokens import IdToken, authorize
from csms.domain.transactions import Transaction
from csms.errors import CommandError, NotFound
from csms.store import billing as billing_store
from csms.store import id_tokens, token_owners, transactions
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/me", tags=["me"])

# starting and stopping changes something: every role but monitor (read-only)
MayCharge = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.OPERATOR, Role.DRIVER))]

MySessionPk = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="`id` of /me/sessions")]
ACCEPTED = "Accepted"


def settlement_of(session: Transaction, charge: Charge | None, review: Review | None) -> Settlement:
    if session.active:
        return "charging"
    if charge is not None:
        return "charged"
    if review is not None:
        return "waived" if review.resolution == WAIVED else "review"
    return "pending"


async def _own_token(db: Executor, caller: Principal, id_token: str) -> IdToken:
    token = await id_tokens.get_id_token(db, id_token)
    if token is None or await token_owners.owner_of(db, token.id_token) != caller.user_id:
        raise NotFound(f"id token {id_token} not found")
    return token


async def _own_session(db: Executor, caller: Principal, transaction_pk: int) -> Transaction:
    session = await transactions.get_by_pk(db, transaction_pk)
    if (
        session is None
        or session.id_token is None
        or await token_owners.owner_of(db, session.id_token) != caller.user_id
    ):
        raise NotFound(f"session {transaction_pk} not found")
    return session


async def _send(
    state: State, charge_point_id: str, command: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The charger's answer to ``command``, through its node (as the command route sends)."""
    started = time.perf_counter()
    try:
        result = await state.commands.send(
            charge_point_id, command, params, timeout=state.settings.command_timeout
        )
    except CommandError as exc:
        state.metrics.observe_command(command, exc.code, time.perf_counter() - started)
        raise
    state.metrics.observe_command(command, "ok", time.perf_counter() - started)
    response = result.get("response")
    return response if isinstance(response, dict) else {}


@router.get("/account", response_model=AccountDetail)
async def my_account(caller: AnyUser, billing: BillingDep) -> AccountDetail:
    """Your billing account with its balances (prepaid: the wallet you may spend, what is
    held for running sessions) and whether your tokens may start a session now. 404 when
    you have none."""
    account = await billing.accounts.of_user(caller.user_id)
    return await account_detail(billing.accounts, await billing.accounts.view(account.id))


@router.get("/sessions", response_model=Page[MySession])
async def my_sessions(
    caller: AnyUser,
    pool: PoolDep,
    page: PageDep,
    active: Annotated[bool | None, Query(description="Only ongoing (true) or ended")] = None,
    charge_point_id: Annotated[str | None, Query(max_length=MAX_CHARGE_POINT_ID)] = None,
    since: Annotated[AwareDatetime | None, Query(description="Started at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Started before")] = None,
) -> Page[MySession]:
    """The sessions of your id tokens, newest first, with their cost (running while they
    charge, final once ended) and, once settled, what each was charged."""
    before = decode_cursor(page.cursor, int)
    rows = await token_owners.list_transactions_of_user(
        pool,
        caller.user_id,
        charge_point_id=charge_point_id,
        active=active,
        since=since,
        until=until,
        limit=page.limit + 1,
        before_pk=before,
    )
    items, cursor = page_of(rows, page.limit, lambda t: t.id)
    public = await transactions_public(pool, items)
    settled = await billing_store.settlement_of_sessions(pool, [t.id for t in items])
    sessions = []
    for session, shown in zip(items, public, strict=True):
        charge, review = settled.get(session.id, (None, None))
        sessions.append(
            MySession(
                **shown.model_dump(),
                settlement=settlement_of(session, charge, review),
                charge=None if charge is None else charge_public(charge),
            )
        )
    return Page(items=sessions, next_cursor=cursor)


@router.post("/sessions", response_model=StartRequested, status_code=status.HTTP_202_ACCEPTED)
async def start_session(
    caller: MayCharge, state: StateDep, billing: BillingDep, body: StartSession
) -> StartRequested:
    """Start charging with one of your id tokens: the charger's node is asked to start
    (1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction). 202 when the charger
    accepted; the session shows in /me/sessions once it begins. 404 a token that is not
    yours or a charger that does not exist; 409 your token or account may not charge now
    (``reason``: token_not_accepted, account_blocked, account_closed, no_credit), the
    charger is not connected, or it did not accept; 422 bad input; 504 no answer."""
    pool = state.pool
    token = await _own_token(pool, caller, body.id_token)
    decision = authorize(token, utc_now())
    if not decision.accepted:
        raise Conflict(
            f"id token {token.id_token} is {decision.status.value}",
            extra={"reason": "token_not_accepted", "token_status": decision.status.value},
        )
    await existing(pool, body.charge_point_id)
    if state.settings.billing_enabled:
        account = await billing.accounts.account_of_token(token.id_token)
        refused = None if account is None else await billing.accounts.refusal_to_start(account)
        if account is not None and refused is not None:
            balances = await billing.accounts.balances(account)
            raise Conflict(
                refused.detail,
                extra={
                    "reason": refused.reason,
                    "account_id": account.id,
                    "currency": account.currency,
                    "available": f"{balances.wallet:f}" if account.prepaid else None,
                    "minimum": f"{account.hold_amount:f}" if account.prepaid else None,
                },
            )
    remote_start_id = new_request_id()
    params: dict[str, Any] = {
        "id_token": token.id_token,
        "id_token_type": token.token_type,
        "remote_start_id": remote_start_id,
    }
    if body.evse_id is not None:
        params["evse_id"] = body.evse_id
    if body.connector_id is not None:
        params["connector_id"] = body.connector_id
    answer = await _send(state, body.charge_point_id, "remote_start", params)
    answered = str(answer.get("status", ""))
    if answered != ACCEPTED:
        raise Conflict(
            f"charger {body.charge_point_id} did not start: it answered {answered or 'nothing'}",
            extra={"reason": "charger_rejected", "charger_status": answered},
        )
    return StartRequested(
        charge_point_id=body.charge_point_id,
        id_token=token.id_token,
        evse_id=body.evse_id,
        connector_id=body.connector_id,
        status=answered,
        remote_start_id=remote_start_id,
    )


@router.post(
    "/sessions/{transaction_pk}/stop",
    response_model=StopRequested,
    status_code=status.HTTP_202_ACCEPTED,
)
async def stop_session(
    caller: MayCharge, state: StateDep, transaction_pk: MySessionPk
) -> StopRequested:
    """Stop one of your sessions that is charging (1.6 RemoteStopTransaction, 2.0.1
    RequestStopTransaction). 202 when the charger accepted; the session ends when the
    charger says so. 404 not your session; 409 it has ended, the charger is not connected
    or did not accept."""
    session = await _own_session(state.pool, caller, transaction_pk)
    if not session.active:
        raise Conflict(f"session {transaction_pk} has ended", extra={"reason": "session_ended"})
    answer = await _send(
        state,
        session.charge_point_id,
        "remote_stop",
        {"transaction_id": session.transaction_id},
    )
    answered = str(answer.get("status", ""))
    if answered != ACCEPTED:
        raise Conflict(
            f"charger {session.charge_point_id} did not stop session {transaction_pk}: it "
            f"answered {answered or 'nothing'}",
            extra={"reason": "charger_rejected", "charger_status": answered},
        )
    return StopRequested(transaction_pk=transaction_pk, status=answered)
