"""What a wallet may still buy of a sale program, computed by the ledger's own rules
(ledger/sales.py `_limits`) from the state as stored: the monthly purchase room, the
holding room and the discount room. The ledger stays the judge; these figures are for
the buy page and for naming the limit when a refusal's receipt does not carry it."""

from __future__ import annotations

from dataclasses import dataclass

from localpay.domain.calendar import month_key
from localpay.domain.codes import Code
from localpay.domain.policy import sale_bonus
from localpay.ledger import spending
from localpay.ledger.state import Program, Wallet

#: No limit configured: the room is shown as this (the page says "no limit").
UNLIMITED = -1


@dataclass(frozen=True)
class SaleRoom:
    program: str
    monthly_limit: int
    monthly_room: int
    holding_limit: int
    holding_room: int
    discount_cap: int
    discount_room: int
    rate_bp: int

    def discount_for(self, amount: int, budget: int) -> int:
        """The discount an order of `amount` would get now (the ledger decides it)."""
        bonus = amount * self.rate_bp // 10_000
        if self.discount_room != UNLIMITED:
            bonus = min(bonus, self.discount_room)
        return max(min(bonus, budget), 0)


def _this_month(wallet: Wallet | None, key: str, now: int) -> int:
    window = wallet.windows.get(key) if wallet is not None else None
    return window.month_spent if window is not None and window.month == month_key(now) else 0


def sale_room(program: Program, wallet: Wallet | None, now: int) -> SaleRoom | None:
    """None if the program is not for sale."""
    policy = program.versions[-1]
    sale = policy.sale
    if sale is None:
        return None
    bought = _this_month(wallet, f"buy:{program.id}", now)
    had = _this_month(wallet, f"bonus:{program.id}", now)
    held = (
        (spending.holding(wallet, program.id) + spending.on_order(wallet, program.id))
        if wallet
        else 0
    )
    rate = sale.rate_bp if sale.mode == "discount" else 0
    return SaleRoom(
        program=program.id,
        monthly_limit=sale.monthly_limit,
        monthly_room=max(sale.monthly_limit - bought, 0) if sale.monthly_limit else UNLIMITED,
        holding_limit=policy.holding_cap,
        holding_room=max(policy.holding_cap - held, 0) if policy.holding_cap else UNLIMITED,
        discount_cap=sale.bonus_monthly_cap,
        discount_room=max(sale.bonus_monthly_cap - had, 0) if sale.bonus_monthly_cap else UNLIMITED,
        rate_bp=rate,
    )


def refusal_limit(
    code: str, program: Program, room: SaleRoom | None, amount: int
) -> tuple[int, int] | None:
    """(limit, room) naming what refused an order of `amount`, as the ledger names it."""
    if room is None:
        return None
    if code == Code.PURCHASE_LIMIT_EXCEEDED:
        return room.monthly_limit, room.monthly_room
    if code == Code.HOLDING_LIMIT_EXCEEDED:
        return room.holding_limit, room.holding_room
    if code == Code.SALE_BUDGET_EXHAUSTED:
        return program.minted, program.budget
    return None


def bonus_of(program: Program, amount: int) -> int:
    """The discount before the monthly cap and the budget (for the buy page's preview)."""
    sale = program.versions[-1].sale
    return sale_bonus(sale, amount) if sale is not None else 0
