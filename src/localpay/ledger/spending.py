"""How money moves between lots: which lots a payment draws, caps, restores.

Payments draw eligible, unexpired lots soonest-expiring first (ties by lot id),
within each program's per-payment, daily and monthly caps. Refunds put the money
back into the very lots it came from, last drawn first.

A payment walks the wallet's lots, so their number is bounded: a credit or a gift
that would add a lot beyond LOTS_PER_WALLET_MAX is refused, and gifts merge into the
receiver's gift lot of the same program, version and expiry (5,000 one-won gifts make
one lot, not 5,000). A refund is never refused for either limit: it restores the exact
lots, which may leave a wallet above its holding cap or its lot limit until it spends.
"""

from __future__ import annotations

from typing import Final

from localpay.domain.calendar import day_key, month_key
from localpay.domain.codes import Code
from localpay.domain.limits import LOTS_PER_WALLET_MAX
from localpay.domain.policy import MerchantFacts, Policy, evaluate
from localpay.ledger import conditions
from localpay.ledger.results import Result
from localpay.ledger.state import (
    ACCRUAL_MONTHS_MAX,
    Accrual,
    CityState,
    Draw,
    Lot,
    Merchant,
    Payment,
    Program,
    Wallet,
    Window,
)

#: Lot origins of sales (ledger/sales.py): the buyer's own money, and its discount or
#: cashback. Kept here, below the sale rules, since payments and gifts read them too.
SALE_ORIGIN: Final = "sale:"
BONUS_ORIGIN: Final = "bonus:"

# A plan: (lot index in wallet.lots, amount to take), in drawing order.
Plan = list[tuple[int, int]]

#: The origin of lots made by a transfer.
GIFT: Final = "gift"


def is_purchased(lot: Lot) -> bool:
    """The buyer's own money: owed back in won at its end, never returned to a budget."""
    return lot.origin.startswith(SALE_ORIGIN)


def is_bonus(lot: Lot) -> bool:
    """A sale's discount or cashback: not refundable in cash, not giftable."""
    return lot.origin.startswith(BONUS_ORIGIN)


def _sort_key(lot: Lot) -> tuple[int, str]:
    return (lot.expires_ms, lot.id)


def insert_lot(wallet: Wallet, lot: Lot) -> None:
    wallet.lots.append(lot)
    wallet.lots.sort(key=_sort_key)


def room_for_lots(wallet: Wallet, new: int) -> bool:
    """May the wallet take `new` more lots under the lot limit?"""
    return len(wallet.lots) + new <= LOTS_PER_WALLET_MAX


def holding(wallet: Wallet, program: str) -> int:
    return sum(lot.amount for lot in wallet.lots if lot.program == program)


def on_order(wallet: Wallet, program: str) -> int:
    """What the wallet's open orders of the program will add once their won arrive: a
    holding limit counts it already, for a purchase, a credit and a gift alike."""
    return wallet.on_order_by.get(program, 0)


def hold_on_order(wallet: Wallet, program: str, amount: int) -> None:
    """Add (or, negative, take back) an open order's amount and discount."""
    wallet.on_order += amount
    left = wallet.on_order_by.get(program, 0) + amount
    if left:
        wallet.on_order_by[program] = left
    else:
        wallet.on_order_by.pop(program, None)


def policy_of(programs: dict[str, Program], lot: Lot) -> Policy:
    return programs[lot.program].versions[lot.version - 1]


def _window(wallet: Wallet, program: str, now: int) -> Window:
    """The wallet's spending window for a program, rolled over to today/this month."""
    day, month = day_key(now), month_key(now)
    window = wallet.windows.get(program)
    if window is None:
        return Window(day, 0, month, 0)
    return Window(
        day,
        window.day_spent if window.day == day else 0,
        month,
        window.month_spent if window.month == month else 0,
    )


def _room(policy: Policy, window: Window, drawn: int) -> tuple[int, Code]:
    """How much more this payment may take from a program, and which cap binds."""
    room, binding = 1 << 62, Code.OK
    for cap, used, code in (
        (policy.per_payment_cap, drawn, Code.PER_PAYMENT_LIMIT_EXCEEDED),
        (policy.daily_cap, window.day_spent + drawn, Code.DAILY_LIMIT_EXCEEDED),
        (policy.monthly_cap, window.month_spent + drawn, Code.MONTHLY_LIMIT_EXCEEDED),
    ):
        if cap and cap - used < room:
            room, binding = max(cap - used, 0), code
    return room, binding


def _failure(blocked: list[Code], total: int, amount: int) -> Code:
    """Why a payment cannot be covered: lack of money, else the first blocking rule."""
    if total < amount or not blocked:
        return Code.INSUFFICIENT_FUNDS
    return min(blocked, key=lambda code: code.precedence)


def plan_payment(
    programs: dict[str, Program], wallet: Wallet, merchant: Merchant, amount: int, now: int
) -> Plan | Code:
    facts = MerchantFacts(merchant.category, merchant.area, merchant.annual_revenue)
    verdicts: dict[tuple[str, int], Code] = {}
    drawn: dict[str, int] = {}
    plan: Plan = []
    blocked: list[Code] = []
    remaining, total = amount, 0
    for index, lot in enumerate(wallet.lots):
        total += lot.amount
        if remaining == 0:
            continue
        if lot.expires_ms <= now:
            blocked.append(Code.PROGRAM_EXPIRED)
            continue
        key = (lot.program, lot.version)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = evaluate(policy_of(programs, lot), facts)
        if verdict is not Code.OK:
            blocked.append(verdict)
            continue
        if not _condition_met(programs, wallet, lot, facts, amount, now):
            blocked.append(Code.CONDITION_NOT_MET)
            continue
        room, binding = _room(
            policy_of(programs, lot), _window(wallet, lot.program, now), drawn.get(lot.program, 0)
        )
        take = min(lot.amount, remaining, room)
        if take < min(lot.amount, remaining):
            blocked.append(binding)
        if take:
            plan.append((index, take))
            drawn[lot.program] = drawn.get(lot.program, 0) + take
            remaining -= take
    if remaining:
        return _failure(blocked, total, amount)
    return plan


def _condition_met(
    programs: dict[str, Program],
    wallet: Wallet,
    lot: Lot,
    facts: MerchantFacts,
    amount: int,
    now: int,
) -> bool:
    policy = policy_of(programs, lot)
    if not policy.condition:
        return True
    ctx = conditions.context(
        amount=amount,
        category=facts.category,
        area=facts.area,
        now_ms=now,
        opened_ms=wallet.opened_ms,
        lot_ms=lot.at_ms,
        program=lot.program,
    )
    return conditions.allows(policy, ctx)


def _charge_window(wallet: Wallet, program: str, amount: int, now: int) -> None:
    window = _window(wallet, program, now)
    window.day_spent += amount
    window.month_spent += amount
    wallet.windows[program] = window


def _cashback_sale(programs: dict[str, Program], lot: Lot) -> bool:
    sale = policy_of(programs, lot).sale
    return sale is not None and sale.mode == "cashback"


def take(programs: dict[str, Program], wallet: Wallet, plan: Plan, now: int) -> list[Draw]:
    """Carry out a payment plan; returns the draws (kept with the payment for refunds)."""
    draws = []
    for index, amount in plan:
        lot = wallet.lots[index]
        lot.amount -= amount
        draws.append(Draw(lot.id, lot.program, lot.version, amount, lot.expires_ms, lot.origin))
        _charge_window(wallet, lot.program, amount, now)
        if lot.origin.startswith(SALE_ORIGIN) and _cashback_sale(programs, lot):
            accrue(wallet, lot.program, amount, now)
    wallet.lots = [lot for lot in wallet.lots if lot.amount > 0]
    return draws


def pay_merchant(
    state: CityState, wallet: Wallet, merchant: Merchant, amount: int, payment: str, now: int
) -> Result | Code:
    """A payment after its command's own checks: the plan, the draws, the merchant paid and
    the payment record (id `payment`, for refunds). The one body of `pay` and of a claimed
    one-time code; a refusal (the plan's code) changes nothing."""
    plan = plan_payment(state.programs, wallet, merchant, amount, now)
    if isinstance(plan, Code):
        return plan
    draws = take(state.programs, wallet, plan, now)
    merchant.balance += amount
    state.add_payment(Payment(payment, wallet.id, merchant.id, amount, 0, now, draws))
    lots = [(d.lot, d.amount) for d in draws]
    return Result(code=Code.OK.value, lots=lots, balance=wallet.balance())


def restore(wallet: Wallet, payment: Payment, amount: int, now: int) -> list[tuple[str, int]]:
    """Return `amount` of a payment to the lots it came from, last drawn first.

    A refund also gives back the room it used under today's and this month's caps.
    """
    already = payment.refunded
    by_id = {lot.id: lot for lot in wallet.lots}
    restored: list[tuple[str, int]] = []
    for draw in reversed(payment.draws):
        # Skip the part of this draw that earlier partial refunds already returned.
        back = min(draw.amount, already)
        already -= back
        give = min(draw.amount - back, amount)
        if give <= 0:
            continue
        amount -= give
        lot = by_id.get(draw.lot)
        if lot is None:
            lot = Lot(draw.lot, draw.program, draw.version, 0, draw.expires_ms, draw.origin)
            insert_lot(wallet, lot)
            by_id[lot.id] = lot
        lot.amount += give
        _uncharge_window(wallet, draw.program, give, payment.at_ms, now)
        if draw.origin.startswith(SALE_ORIGIN):
            unaccrue(wallet, draw.program, give, payment.at_ms)
        restored.append((draw.lot, give))
        if amount == 0:
            break
    return restored


def _uncharge_window(wallet: Wallet, program: str, amount: int, paid_at: int, now: int) -> None:
    window = wallet.windows.get(program)
    if window is None:
        return
    if window.day == day_key(paid_at) == day_key(now):
        window.day_spent = max(window.day_spent - amount, 0)
    if window.month == month_key(paid_at) == month_key(now):
        window.month_spent = max(window.month_spent - amount, 0)


def plan_transfer(
    programs: dict[str, Program], source: Wallet, target: Wallet, amount: int, now: int
) -> Plan | Code:
    """Transferable, unexpired lots, soonest-expiring first, within the receiver's caps."""
    plan: Plan = []
    remaining, total = amount, 0
    incoming: dict[str, int] = {}
    held_out = untransferable = False
    for index, lot in enumerate(source.lots):
        total += lot.amount
        policy = policy_of(programs, lot)
        if remaining == 0 or lot.expires_ms <= now:
            continue
        if not policy.transferable or lot.origin.startswith(BONUS_ORIGIN):
            untransferable = True  # a discount or cashback is the buyer's alone
            continue
        room = remaining
        if policy.holding_cap:
            held = holding(target, lot.program) + on_order(target, lot.program)
            held += incoming.get(lot.program, 0)
            room = max(policy.holding_cap - held, 0)
        take = min(lot.amount, remaining, room)
        held_out = held_out or take < min(lot.amount, remaining)
        if take:
            plan.append((index, take))
            incoming[lot.program] = incoming.get(lot.program, 0) + take
            remaining -= take
    if not remaining:
        return plan
    if total < amount:
        return Code.INSUFFICIENT_FUNDS
    # Precedence: not_transferable comes before holding_limit_exceeded.
    return Code.HOLDING_LIMIT_EXCEEDED if held_out and not untransferable else Code.NOT_TRANSFERABLE


GiftKey = tuple[str, int, int]


def _gift_key(lot: Lot) -> GiftKey:
    # Money that shares program, version and expiry is judged and expires alike.
    return (lot.program, lot.version, lot.expires_ms)


def _gift_lots(wallet: Wallet) -> dict[GiftKey, Lot]:
    return {_gift_key(lot): lot for lot in wallet.lots if lot.origin == GIFT}


def new_gift_lots(source: Wallet, target: Wallet, plan: Plan) -> int:
    """How many lots a transfer plan would add to the receiver (the rest merge)."""
    existing = _gift_lots(target)
    return len({_gift_key(source.lots[i]) for i, _ in plan} - existing.keys())


def move(
    source: Wallet, target: Wallet, plan: Plan, command_id: str, now: int
) -> list[tuple[str, int]]:
    """Carry out a transfer: the money joins the receiver's gift lot of the same program,
    version and expiry, or a new lot `<transfer id>.<n>` that keeps all three."""
    gifts = _gift_lots(target)
    moved: dict[str, int] = {}
    made = 0
    for index, amount in plan:
        lot = source.lots[index]
        lot.amount -= amount
        gift = gifts.get(_gift_key(lot))
        if gift is None:
            gift = Lot(f"{command_id}.{made}", lot.program, lot.version, 0, lot.expires_ms, GIFT)
            gifts[_gift_key(lot)] = gift
            insert_lot(target, gift)
            made += 1
        gift.amount += amount
        moved[gift.id] = moved.get(gift.id, 0) + amount
    source.lots = [lot for lot in source.lots if lot.amount > 0]
    return list(moved.items())


# -- cashback bases ---------------------------------------------------------------------


def accrue(wallet: Wallet, program: str, amount: int, now: int) -> None:
    """Add spending of purchased money to a cashback sale's base for this month."""
    month = month_key(now)
    acc = wallet.accruals.get(program) or Accrual({}, -1)
    acc.spent[str(month)] = acc.spent.get(str(month), 0) + amount
    while len(acc.spent) > ACCRUAL_MONTHS_MAX:
        del acc.spent[min(acc.spent, key=int)]
    wallet.accruals[program] = acc


def unaccrue(wallet: Wallet, program: str, amount: int, paid_at: int) -> None:
    """A refund of a payment takes its spending back out of the base it went into, if
    that month's cashback is not paid yet."""
    acc = wallet.accruals.get(program)
    if acc is None:
        return
    month = month_key(paid_at)
    if str(month) in acc.spent and month > acc.paid_month:
        acc.spent[str(month)] = max(acc.spent[str(month)] - amount, 0)
