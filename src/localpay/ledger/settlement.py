"""Settlement: units on their way out of the city's money, as won to a bank account.

Won leave the trust account only through the bank, so the chain follows the bank in
three steps, each its own command and each idempotent by its id:

1. `payout` (the merchant, or the operator's daily batch): units leave the merchant's
   balance for settlement in transit, a pending payout keyed by the command's id, which
   the bank file carries as its EndToEndId. They stay in the supply: until the bank
   books the transfer, the won are still in the trust account. The account is the one
   the merchant registered with `set_payout_account` (a keyed digest; the number stays
   off the chain), so no one between the merchant and its bank can redirect the money.
   Citizens' payouts (a cancelled purchase, a balance refund: ledger/sales.py) are
   pending payouts already and go the same way.
2. `settle_payout` (the operator, from the bank's statement): the bank booked it; the
   units are burned against the won that left.
3. `return_payout` (the operator, from the bank's status report or a return): the bank
   refused it (e.g. AC04, a closed account). A merchant's units go back to its balance;
   a citizen's payout stays owed, pending with the reason, for a corrected account.

So at any moment: won in the trust account = units outstanding + units in transit,
once the statements up to then are reconciled (docs/reserves.md).
"""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.money import valid_amount
from localpay.ledger.results import Result, rejected
from localpay.ledger.state import (
    MERCHANT_ACTIVE,
    PAYOUT_PAID,
    PAYOUT_PENDING,
    PAYOUT_RETURNED,
    CityState,
)
from localpay.ledger.state import Payout as Owed

Outcome = tuple[Result, list[str]]
_NOTHING: list[str] = []


def set_payout_account(
    state: CityState, cmd: c.SetPayoutAccount, signers: frozenset[str], now: int
) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    # Only the merchant names where its money goes: no official or operator can.
    if not signers.intersection(merchant.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    merchant.payout_account = cmd.account
    return Result(code=Code.OK.value), [f"m:{merchant.id}"]


def payout(state: CityState, cmd: c.Payout, signers: frozenset[str], now: int) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    # The merchant asks (instant), or the operator runs the daily batch: the account
    # check below keeps the operator's payouts to the merchant's own account.
    if not signers.intersection(merchant.keys) and state.operator_key() not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), _NOTHING
    # A suspended merchant's units stay put: its customers' refunds are paid from them.
    if merchant.status != MERCHANT_ACTIVE:
        return rejected(Code.MERCHANT_NOT_ACTIVE), _NOTHING
    if not merchant.payout_account:
        return rejected(Code.PAYOUT_ACCOUNT_MISSING), _NOTHING
    if cmd.account != merchant.payout_account:
        return rejected(Code.PAYOUT_ACCOUNT_MISMATCH), _NOTHING
    if merchant.balance < cmd.amount:
        return rejected(Code.INSUFFICIENT_FUNDS), _NOTHING
    merchant.balance -= cmd.amount
    state.payouts[cmd.id] = Owed(
        cmd.id, "", cmd.amount, "merchant", merchant.id, now, merchant=merchant.id,
        account=cmd.account,
    )  # fmt: skip
    return Result(code=Code.OK.value, balance=merchant.balance), [f"m:{merchant.id}", f"q:{cmd.id}"]


def _pending(state: CityState, cmd: c.SettlePayout | c.ReturnPayout) -> Owed | Code:
    """The pending payout the command names, named with its own owner."""
    owed = state.payouts.get(cmd.payout)
    if owed is None:
        return Code.PAYOUT_NOT_FOUND
    # The owner field binds the history: a command naming another account is refused.
    if (cmd.merchant, cmd.wallet) != (owed.merchant, owed.wallet):
        return Code.PAYOUT_NOT_FOUND
    if owed.status != PAYOUT_PENDING:
        return Code.PAYOUT_CLOSED
    return owed


def settle_payout(
    state: CityState, cmd: c.SettlePayout, signers: frozenset[str], now: int
) -> Outcome:
    if state.operator_key() not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    owed = _pending(state, cmd)
    if isinstance(owed, Code):
        return rejected(owed), _NOTHING
    owed.status, owed.bank_ref, owed.settled_ms = PAYOUT_PAID, cmd.bank_ref, now
    state.totals.burned += owed.amount
    touched = [f"q:{owed.id}", "c"]
    merchant = state.merchants.get(owed.merchant)
    if merchant is not None:
        merchant.redeemed += owed.amount
        touched.append(f"m:{merchant.id}")
    # The amount burned, for readers of the log (the explorer's daily figures).
    return Result(code=Code.OK.value, lots=[(owed.id, owed.amount)]), touched


def return_payout(
    state: CityState, cmd: c.ReturnPayout, signers: frozenset[str], now: int
) -> Outcome:
    if state.operator_key() not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    owed = _pending(state, cmd)
    came_back: list[tuple[str, int]] = []
    if owed == Code.PAYOUT_CLOSED and cmd.bank_ref:
        owed = state.payouts[cmd.payout]
        if owed.status != PAYOUT_PAID:
            return rejected(Code.PAYOUT_CLOSED), _NOTHING
        # Paid, then sent back (a return the statement shows as a credit): the won are
        # in the trust account again, so the units burned on booking are made again.
        state.totals.minted += owed.amount
        came_back = [(owed.id, owed.amount)]
        owed.status = PAYOUT_PENDING
    elif isinstance(owed, Code):
        return rejected(owed), _NOTHING
    elif cmd.bank_ref:
        return rejected(Code.PAYOUT_CLOSED), _NOTHING  # nothing booked to come back
    owed.returned = cmd.reason
    touched = [f"q:{owed.id}"] + (["c"] if came_back else [])
    merchant = state.merchants.get(owed.merchant)
    if merchant is None:
        # A citizen's payout stays owed: still in the supply, sent again once the
        # citizen names an account that takes it.
        return Result(code=Code.OK.value, lots=came_back or None), touched
    owed.status, owed.settled_ms = PAYOUT_RETURNED, now
    if came_back:
        merchant.redeemed -= owed.amount
    merchant.balance += owed.amount
    touched.append(f"m:{merchant.id}")
    return Result(code=Code.OK.value, balance=merchant.balance, lots=came_back or None), touched
