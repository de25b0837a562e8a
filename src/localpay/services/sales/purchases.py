"""A wallet's purchases as its owner sees them: status, what is left, whether it may be
cancelled (and until when) or its rest refunded, and the won owed back (payouts).
The ledger judges cancel_purchase and refund_balance; these flags follow its rules."""

from __future__ import annotations

from dataclasses import dataclass

from localpay.domain.calendar import DAY_MS
from localpay.ledger.state import Payout, Program, Purchase, Wallet
from localpay.services.sales.service import Sales, entity


@dataclass(frozen=True)
class PurchaseLine:
    id: str
    program: str
    amount: int
    bonus: int
    status: str  # ordered, lapsed, paid, cancelled, refunded
    ordered_ms: int
    deadline_ms: int
    paid_ms: int
    left: int  # purchased money and discount still in the wallet
    cancellable_until_ms: int | None  # set while cancel_purchase would be accepted
    refundable: bool  # refund_balance would be accepted
    account: str | None  # the virtual account, for an order still waiting for its won
    payout: Payout | None


def _left(wallet: Wallet, purchase: Purchase) -> tuple[int, int]:
    amounts = {lot.id: lot.amount for lot in wallet.lots}
    return amounts.get(purchase.id, 0), amounts.get(f"{purchase.id}.d", 0)


def line_of(
    purchase: Purchase,
    program: Program,
    wallet: Wallet,
    now: int,
    account: str | None,
    payout: Payout | None,
) -> PurchaseLine:
    sale = program.versions[purchase.version - 1].sale
    own, bonus = _left(wallet, purchase)
    paid = purchase.status == "paid"
    until = None
    refundable = False
    if paid and sale is not None:
        window_end = purchase.paid_ms + sale.cancel_days * DAY_MS
        if now < window_end and (own, bonus) == (purchase.amount, purchase.bonus):
            until = window_end
        face = purchase.amount + purchase.bonus
        used = face - own - bonus
        refundable = own + bonus > 0 and used * 100 >= sale.refund_used_percent * face
    return PurchaseLine(
        purchase.id,
        purchase.program,
        purchase.amount,
        purchase.bonus,
        purchase.status,
        purchase.ordered_ms,
        purchase.deadline_ms,
        purchase.paid_ms,
        own + bonus,
        until,
        refundable,
        account if purchase.status == "ordered" else None,
        payout,
    )


def purchases(sales: Sales, city: str, wallet_id: str) -> list[PurchaseLine]:
    """Newest first."""
    wallet = sales.wallet(city, wallet_id)
    accounts = {o.order: o.account for o in sales.repo.orders(city, wallet_id)}
    now = sales.clock()
    lines = []
    for ident in sales.purchase_ids(city, wallet_id):
        purchase = sales.purchase(city, ident)
        if purchase is None or purchase.wallet != wallet_id:
            continue
        program = entity(sales.store, city, f"p:{purchase.program}", Program)
        assert program is not None
        payout = sales.payout(city, ident)
        lines.append(line_of(purchase, program, wallet, now, accounts.get(ident), payout))
    return sorted(lines, key=lambda line: line.ordered_ms, reverse=True)


def payouts(lines: list[PurchaseLine]) -> list[Payout]:
    """The won owed back to the wallet's owner, still to be paid."""
    return [line.payout for line in lines if line.payout and line.payout.status == "pending"]
