"""The double-entry ledger (ADR 0004). Pure: no I/O.

An :class:`Entry` is one movement of money: postings on ledger accounts whose amounts sum to
zero per currency (a debit is positive, a credit negative). Entries are only ever added; a
balance is a sum of postings. Each entry carries an idempotency key, unique in the store, so
the same movement recorded twice is recorded once.

Ledger accounts (``kind:owner``):

| account | nature | normal side | meaning |
|---|---|---|---|
| ``wallet:<account>`` | liability | credit | a prepaid account's money we hold |
| ``hold:<account>`` | liability | credit | wallet money reserved for a running session |
| ``receivable:<account>`` | asset | debit | what a postpaid account owes us |
| ``clearing:<provider>`` | asset | debit | money at a payment provider, on its way to the bank |
| ``revenue`` | income | credit | charging sold, excl. VAT |
| ``vat_payable`` | liability | credit | VAT owed to the tax office |
| ``write_off`` | expense | debit | receivables given up on |

So a wallet's balance (what the driver has) is minus the sum of its postings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

REVENUE = "revenue"
VAT_PAYABLE = "vat_payable"
WRITE_OFF = "write_off"

# entry kinds
CHARGE = "charge"
HOLD = "hold"
RELEASE = "release"
TOPUP = "topup"
PAYMENT = "payment"
REFUND = "refund"
WRITTEN_OFF = "write_off"
ADJUSTMENT = "adjustment"


def wallet(account_id: int) -> str:
    return f"wallet:{account_id}"


def hold(account_id: int) -> str:
    return f"hold:{account_id}"


def receivable(account_id: int) -> str:
    return f"receivable:{account_id}"


def clearing(provider: str) -> str:
    return f"clearing:{provider}"


class Unbalanced(ValueError):
    """An entry whose postings do not sum to zero in some currency."""


@dataclass(frozen=True, slots=True)
class Posting:
    ledger_account: str
    currency: str
    amount: Decimal  # debit > 0, credit < 0


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    idempotency_key: str
    postings: tuple[Posting, ...]
    account_id: int | None = None
    transaction_pk: int | None = None
    payment_id: int | None = None
    invoice_id: int | None = None
    memo: str = ""
    created_by: str | None = None
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("an entry needs an idempotency key")
        merged = _merged(self.postings)
        if not merged:
            raise Unbalanced(f"entry {self.idempotency_key} moves nothing")
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for posting in merged:
            totals[posting.currency] += posting.amount
        for currency, total in totals.items():
            if total != 0:
                raise Unbalanced(
                    f"entry {self.idempotency_key} does not balance in {currency}: {total}"
                )
        object.__setattr__(self, "postings", merged)


def _merged(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """One posting per (account, currency), zeros dropped, in first-seen order."""
    sums: dict[tuple[str, str], Decimal] = {}
    for posting in postings:
        key = (posting.ledger_account, posting.currency)
        sums[key] = sums.get(key, Decimal(0)) + posting.amount
    return tuple(Posting(a, c, amount) for (a, c), amount in sums.items() if amount != 0)


def debit(ledger_account: str, currency: str, amount: Decimal) -> Posting:
    return Posting(ledger_account, currency, amount)


def credit(ledger_account: str, currency: str, amount: Decimal) -> Posting:
    return Posting(ledger_account, currency, -amount)


def balance(postings: Iterable[Posting], ledger_account: str, currency: str) -> Decimal:
    """The sum of an account's postings (debit-positive)."""
    return sum(
        (
            p.amount
            for p in postings
            if p.ledger_account == ledger_account and p.currency == currency
        ),
        Decimal(0),
    )


# -- the movements --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VatLine:
    """Amounts of one VAT rate (None: no VAT applies)."""

    rate: Decimal | None
    excl_vat: Decimal
    vat: Decimal


def _sale(
    account_id: int,
    prepaid: bool,
    currency: str,
    incl_vat: Decimal,
    vat_lines: Sequence[VatLine],
    *,
    reverse: bool,
) -> tuple[Posting, ...]:
    """The payer (wallet or receivable) owes ``incl_vat``; revenue and VAT payable earn it
    per VAT line. ``reverse``: the same undone (a credit note)."""
    owes, earns = (credit, debit) if reverse else (debit, credit)
    payer = wallet(account_id) if prepaid else receivable(account_id)
    postings = [owes(payer, currency, incl_vat)]
    for line in vat_lines:
        postings.append(earns(REVENUE, currency, line.excl_vat))
        postings.append(earns(VAT_PAYABLE, currency, line.vat))
    return tuple(postings)


def charge_entry(
    *,
    account_id: int,
    prepaid: bool,
    currency: str,
    incl_vat: Decimal,
    vat_lines: Sequence[VatLine],
    transaction_pk: int,
    memo: str,
    created_by: str | None = None,
) -> Entry:
    """A session's charge: the driver's wallet (prepaid) or receivable (postpaid) is debited
    its total; revenue and VAT payable are credited."""
    return Entry(
        CHARGE,
        f"charge:{transaction_pk}",
        _sale(account_id, prepaid, currency, incl_vat, vat_lines, reverse=False),
        account_id=account_id,
        transaction_pk=transaction_pk,
        memo=memo,
        created_by=created_by,
    )


def hold_entry(*, account_id: int, currency: str, amount: Decimal, transaction_pk: int) -> Entry:
    """Reserve wallet money for a running session."""
    return Entry(
        HOLD,
        f"hold:{transaction_pk}",
        (debit(wallet(account_id), currency, amount), credit(hold(account_id), currency, amount)),
        account_id=account_id,
        transaction_pk=transaction_pk,
        memo="held for the session",
    )


def release_entry(*, account_id: int, currency: str, amount: Decimal, transaction_pk: int) -> Entry:
    """Give a session's hold back to the wallet (its charge is then taken from the wallet)."""
    return Entry(
        RELEASE,
        f"release:{transaction_pk}",
        (debit(hold(account_id), currency, amount), credit(wallet(account_id), currency, amount)),
        account_id=account_id,
        transaction_pk=transaction_pk,
        memo="hold released",
    )


def topup_entry(
    *,
    account_id: int,
    provider: str,
    currency: str,
    amount: Decimal,
    payment_id: int,
    created_by: str | None = None,
) -> Entry:
    """Money paid into a wallet: the provider holds it for us, we owe it to the driver."""
    return Entry(
        TOPUP,
        f"payment:{payment_id}",
        (debit(clearing(provider), currency, amount), credit(wallet(account_id), currency, amount)),
        account_id=account_id,
        payment_id=payment_id,
        memo="top-up",
        created_by=created_by,
    )


def invoice_payment_entry(
    *,
    account_id: int,
    provider: str,
    currency: str,
    amount: Decimal,
    payment_id: int,
    invoice_id: int | None,
) -> Entry:
    """A postpaid account paid (an invoice): the receivable is settled."""
    return Entry(
        PAYMENT,
        f"payment:{payment_id}",
        (
            debit(clearing(provider), currency, amount),
            credit(receivable(account_id), currency, amount),
        ),
        account_id=account_id,
        payment_id=payment_id,
        invoice_id=invoice_id,
        memo="payment",
    )


def refund_entry(
    *,
    account_id: int,
    prepaid: bool,
    provider: str,
    currency: str,
    amount: Decimal,
    payment_id: int,
    created_by: str | None = None,
) -> Entry:
    """Money paid back to the driver: out of their wallet (prepaid) or back onto their
    receivable (postpaid), out of the provider's clearing account."""
    payer = wallet(account_id) if prepaid else receivable(account_id)
    return Entry(
        REFUND,
        f"payment:{payment_id}",
        (debit(payer, currency, amount), credit(clearing(provider), currency, amount)),
        account_id=account_id,
        payment_id=payment_id,
        memo="refund",
        created_by=created_by,
    )


def write_off_entry(
    *,
    account_id: int,
    currency: str,
    amount: Decimal,
    key: str,
    memo: str,
    created_by: str | None,
) -> Entry:
    """Give up on what a postpaid account owes."""
    return Entry(
        WRITTEN_OFF,
        key,
        (debit(WRITE_OFF, currency, amount), credit(receivable(account_id), currency, amount)),
        account_id=account_id,
        memo=memo,
        created_by=created_by,
    )


def credit_note_entry(
    *,
    account_id: int,
    prepaid: bool,
    currency: str,
    incl_vat: Decimal,
    vat_lines: Sequence[VatLine],
    invoice_id: int,
    memo: str,
    created_by: str | None,
) -> Entry:
    """A credit note: the opposite of a charge, back to the wallet or off the receivable."""
    return Entry(
        ADJUSTMENT,
        f"credit_note:{invoice_id}",
        _sale(account_id, prepaid, currency, incl_vat, vat_lines, reverse=True),
        account_id=account_id,
        invoice_id=invoice_id,
        memo=memo,
        created_by=created_by,
    )
