"""Billing accounts for operators and drivers: open, change, block, close; their balances,
ledger and charges; which account a token bills to; whether a driver may start a session.

What the REST API (``/api/v1/accounts``, ``/api/v1/me/...``) and ``csms account`` call. The
rules are in :mod:`csms.domain.accounts`; money moves only in the ledger
(:mod:`csms.domain.ledger`), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from csms.domain.accounts import (
    Refusal,
    Standing,
    check_fields,
    check_status_change,
    refusal,
)
from csms.domain.billing import OPEN, Account, Charge, LedgerEntry, check_account
from csms.errors import InvalidInput, NotFound
from csms.services.ports import BillingStore

# what an operator may give when opening an account, beside kind, currency and name
OPENING_FIELDS = (
    "email",
    "address",
    "country",
    "vat_id",
    "invoicing",
    "hold_amount",
    "payment_method",
    "user_id",
)
# what may change afterwards (kind and currency never: the ledger is kept in them)
CHANGEABLE = frozenset({"name", "status", "status_reason", *OPENING_FIELDS})


@dataclass(frozen=True, slots=True)
class Balances:
    """An account's balances on their normal sides (docs/topics/billing.md)."""

    wallet: Decimal  # prepaid: what the driver may spend (holds are out of it)
    held: Decimal  # reserved for running sessions
    receivable: Decimal  # postpaid: what the account owes

    @classmethod
    def of(cls, found: Mapping[str, Decimal]) -> Balances:
        return cls(found["wallet"], found["held"], found["receivable"])

    def as_dict(self) -> dict[str, Decimal]:
        return {"wallet": self.wallet, "held": self.held, "receivable": self.receivable}


@dataclass(frozen=True, slots=True)
class AccountView:
    account: Account
    balances: Balances


class AccountService:
    def __init__(self, billing: BillingStore) -> None:
        self._billing = billing

    async def open(self, kind: str, currency: str, name: str, **fields: Any) -> Account:
        """A new account (status open); InvalidInput names a bad field, NotFound an unknown
        ``user_id``."""
        currency = currency.upper() if isinstance(currency, str) else currency
        check_account(kind, currency, name)
        unknown = sorted(set(fields) - set(OPENING_FIELDS))
        if unknown:
            raise InvalidInput(f"{unknown[0]}: not a field of a new account")
        checked = check_fields({"name": name, **fields}, currency)
        return await self._billing.add_account(kind=kind, currency=currency, **checked)

    async def account(self, account_id: int) -> Account:
        found = await self._billing.get_account(account_id)
        if found is None:
            raise NotFound(f"account {account_id} not found")
        return found

    async def view(self, account_id: int) -> AccountView:
        account = await self.account(account_id)
        return AccountView(account, await self.balances(account))

    async def balances(self, account: Account) -> Balances:
        return Balances.of(await self._billing.balances(account))

    async def of_user(self, user_id: int) -> Account:
        found = await self._billing.account_of_user(user_id)
        if found is None:
            raise NotFound("you have no billing account")
        return found

    async def accounts(
        self,
        *,
        after_id: int = 0,
        limit: int = 100,
        status: str | None = None,
        kind: str | None = None,
        currency: str | None = None,
        user_id: int | None = None,
        text: str | None = None,
    ) -> list[Account]:
        return await self._billing.find_accounts(
            after_id=after_id,
            limit=limit,
            status=status,
            kind=kind,
            currency=currency.upper() if currency else None,
            user_id=user_id,
            text=text,
        )

    async def change(self, account_id: int, **changes: Any) -> Account:
        """Change fields; ``status`` moves open <-> blocked, or to closed once every balance
        is zero (a closed account stays closed). InvalidInput names the field."""
        account = await self.account(account_id)
        for frozen in ("kind", "currency"):
            if frozen in changes:
                raise InvalidInput(
                    f"{frozen}: cannot change (the account's ledger is kept in it); "
                    "open a new account"
                )
        unknown = sorted(set(changes) - CHANGEABLE)
        if unknown:
            raise InvalidInput(f"{unknown[0]}: not a field of an account")
        checked = check_fields(changes, account.currency)
        status = checked.get("status")
        if status is not None and status != account.status:
            balances = await self.balances(account)
            check_status_change(
                account.id, account.status, status, balances.as_dict(), account.currency
            )
            if status == OPEN and "status_reason" not in checked:
                checked["status_reason"] = ""
        return await self._billing.update_account(account_id, **checked)

    async def link_token(self, id_token: str, account_id: int | None) -> Account | None:
        """Bill ``id_token`` to an account (None: to its driver's again). A closed account
        takes no tokens. NotFound (token or account)."""
        if account_id is not None:
            account = await self.account(account_id)
            if account.status == "closed":
                raise InvalidInput(f"account_id: account {account_id} is closed")
        await self._billing.link_token(id_token, account_id)
        return await self._billing.account_of_token(id_token)

    async def account_of_token(self, id_token: str) -> Account | None:
        return await self._billing.account_of_token(id_token)

    async def ledger(
        self, account_id: int, *, after_id: int = 0, limit: int = 100
    ) -> list[LedgerEntry]:
        await self.account(account_id)
        return await self._billing.entries(account_id=account_id, after_id=after_id, limit=limit)

    async def charges(
        self, account_id: int, *, uninvoiced: bool = False, after_id: int = 0, limit: int = 100
    ) -> list[Charge]:
        await self.account(account_id)
        return await self._billing.list_charges(
            account_id=account_id, uninvoiced=uninvoiced, after_id=after_id, limit=limit
        )

    async def refusal_to_start(self, account: Account) -> Refusal | None:
        """Why a token billing to ``account`` may not start a session now (the same rule
        the node applies at Authorize), or None."""
        balances = await self.balances(account)
        return refusal(
            Standing(
                account.id,
                account.kind,
                account.status,
                account.currency,
                account.hold_amount,
                balances.wallet if account.prepaid else Decimal(0),
            )
        )
