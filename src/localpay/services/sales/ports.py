"""What the sales service needs from outside: a bank that takes the won in, and a table
of what is kept off the chain (orders <-> virtual accounts <-> the notices received).

The `Bank` port is named for deposits: opening a deposit for an order (a virtual account
number of its own) and, where the bank offers it, debiting a linked account. Money out
(payout files, the bank's status reports and statements) is settlement's own port,
`services.settlement.ports.PayoutBank`: one bank may implement both, and a bank that
takes deposits in one way and payout files in another is two adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from localpay.domain.errors import Refused, Unavailable


@dataclass(frozen=True)
class Deposit:
    """Where and how much a citizen pays for one order, and until when."""

    order: str
    account: str  # the virtual account number, unique to the order
    amount: int
    deadline_ms: int
    bank: str  # the bank's name, for people ("모의은행")


@dataclass(frozen=True)
class DepositNotice:
    """The bank's word that won arrived in a virtual account (its webhook body)."""

    notice: str  # the bank's own id of this notice: a repeat carries the same one
    account: str
    amount: int
    deposit_ref: str  # the bank's reference of the transfer, recorded on the chain
    paid_ms: int


@dataclass(frozen=True)
class SaleOrder:
    """An order placed through the sales service, with its virtual account."""

    city: str
    order: str  # the order_purchase command id = the purchase id on the chain
    wallet: str
    program: str
    amount: int
    bonus: int
    account: str
    deadline_ms: int
    created_ms: int


@dataclass(frozen=True)
class NoticeRecord:
    """A deposit notice as received, and the confirm_purchase it became."""

    notice: str
    city: str
    order: str
    amount: int
    deposit_ref: str
    tx: str  # the confirm_purchase command id
    code: str  # its result code ("" until the ledger answered)


class BankUnavailable(Unavailable):
    """The bank did not answer or refused to open the deposit; retry the same order."""


class DebitUnsupported(Refused):
    """This bank takes deposits only, not debits of a linked account."""

    code = "debit_unsupported"


class Bank(Protocol):
    """A bank holding the city's trust account, for the won coming in."""

    name: str

    def open_deposit(self, city: str, order: str, amount: int, deadline_ms: int) -> Deposit:
        """A virtual account for `order` (the same one when asked again for it)."""
        ...

    def request_debit(self, city: str, order: str, linked_account: str, amount: int) -> Deposit:
        """Debit the citizen's linked account for `order`; the deposit notice follows.
        Raises DebitUnsupported where the bank offers no debits."""
        ...


class SaleRepository(Protocol):
    def add_order(self, order: SaleOrder) -> SaleOrder:
        """Record `order`; if one with its id is recorded already, that one (idempotent)."""
        ...

    def order(self, city: str, order: str) -> SaleOrder | None: ...

    def by_account(self, account: str) -> SaleOrder | None: ...

    def orders(self, city: str, wallet: str | None = None, limit: int = 100) -> list[SaleOrder]:
        """Newest first."""
        ...

    def add_notice(self, record: NoticeRecord) -> NoticeRecord:
        """Record a notice; if its id is recorded already, the first record (idempotent)."""
        ...

    def answered(self, notice: str, code: str) -> None:
        """The ledger's result code for the notice's confirm_purchase."""
        ...

    def notices(self, city: str, limit: int = 100) -> list[NoticeRecord]: ...
