"""Sales (구매/충전): citizens buy a program's money with won, with a discount or cashback.

The life of a purchase, each step its own command on the chain:

1. `order_purchase` (the wallet): every limit is checked and the discount is held out
   of the program's budget *before any won moves*, so a budget is never oversold, also
   when thousands order at once: the one writer takes them in turn, and the budget an
   order sees is what earlier orders left.
2. `confirm_purchase` (the operator, relaying the bank's deposit notice): the won are
   in the trust account, so the purchased lot is minted and the held discount becomes
   its own lot, both linked to the deposit reference. A notice repeated changes
   nothing. A deposit that arrives after its order lapsed is still booked: as a
   purchase if the limits still allow it, else as won owed back (a payout), never lost.
3. `lapse_order` (the operator, after the deadline): an order whose won never came
   gives its discount back to the budget.
4. `cancel_purchase` / `refund_balance` (the wallet): won back through a pending payout.

Lot kinds are in their origins: `sale:<deposit ref>` is the buyer's own money (at its
end it is owed back in won, not returned to any budget), `bonus:<...>` a discount or
cashback (not refundable in cash, not giftable).
"""

from __future__ import annotations

from typing import Final

from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, month_key
from localpay.domain.codes import Code
from localpay.domain.money import valid_amount
from localpay.domain.policy import BP, Policy, Sale, lot_expiry_ms, sale_bonus
from localpay.ledger import spending
from localpay.ledger.results import Result, over_limit, rejected
from localpay.ledger.spending import BONUS_ORIGIN, SALE_ORIGIN
from localpay.ledger.state import (
    CANCELLED,
    LAPSED,
    ORDERED,
    PAID,
    REFUNDED,
    CityState,
    Lot,
    Payout,
    Program,
    Purchase,
    Wallet,
    Window,
)

Touched = list[str]
Outcome = tuple[Result, Touched]
NOTHING: Touched = []

RESERVED_ORIGINS: Final = (SALE_ORIGIN, BONUS_ORIGIN)
_MINUTE_MS: Final = 60_000


def _funded(program: Program) -> int:
    """What officials minted into the program's budget: its minted units less the
    purchased won, which are minted into the buyers' lots, not the budget."""
    return program.minted - program.sold


def sale_of(program: Program) -> tuple[Policy, Sale] | None:
    policy = program.versions[-1]
    return (policy, policy.sale) if policy.sale is not None else None


def _month_window(wallet: Wallet, key: str, now: int) -> Window:
    month = month_key(now)
    window = wallet.windows.get(key)
    if window is None or window.month != month:
        return Window(0, 0, month, 0)
    return window


def _charge(wallet: Wallet, key: str, amount: int, now: int) -> None:
    window = _month_window(wallet, key, now)
    window.month_spent += amount
    wallet.windows[key] = window


def _uncharge(wallet: Wallet, key: str, amount: int, at_ms: int, now: int) -> None:
    """Give back room taken in the month of `at_ms`, if that month is still this one."""
    window = wallet.windows.get(key)
    if window is not None and window.month == month_key(at_ms) == month_key(now):
        window.month_spent = max(window.month_spent - amount, 0)


def _owner(state: CityState, wallet_id: str, signers: frozenset[str]) -> Wallet | Code:
    wallet = state.wallets.get(wallet_id)
    if wallet is None:
        return Code.ACCOUNT_NOT_FOUND
    if not signers.intersection(wallet.keys):
        return Code.SIGNER_NOT_AUTHORIZED
    return wallet


def _operator(state: CityState, signers: frozenset[str]) -> bool:
    return state.operator_key() in signers


# -- 1. the order -------------------------------------------------------------------


def _limits(
    state: CityState, wallet: Wallet, program: Program, amount: int, now: int
) -> Result | int:
    """The bonus an order of `amount` gets, or the refusal naming the limit that binds."""
    found = sale_of(program)
    if found is None:
        return rejected(Code.NOT_FOR_SALE)
    policy, sale = found
    assert state.genesis is not None
    if lot_expiry_ms(policy, now, state.genesis.default_valid_days) <= now:
        return rejected(Code.PROGRAM_EXPIRED)
    bought = _month_window(wallet, f"buy:{program.id}", now).month_spent
    if sale.monthly_limit and bought + amount > sale.monthly_limit:
        return over_limit(
            Code.PURCHASE_LIMIT_EXCEEDED, sale.monthly_limit, sale.monthly_limit - bought
        )
    bonus = sale_bonus(sale, amount)
    if sale.bonus_monthly_cap:
        had = _month_window(wallet, f"bonus:{program.id}", now).month_spent
        bonus = max(min(bonus, sale.bonus_monthly_cap - had), 0)
    if bonus and program.budget < bonus:
        if sale.when_budget_out == "stop":
            return over_limit(Code.SALE_BUDGET_EXHAUSTED, _funded(program), program.budget)
        bonus = 0  # the sale goes on without discount, as the program says
    held = spending.holding(wallet, program.id) + spending.on_order(wallet, program.id)
    if policy.holding_cap and held + amount + bonus > policy.holding_cap:
        return over_limit(
            Code.HOLDING_LIMIT_EXCEEDED, policy.holding_cap, policy.holding_cap - held
        )
    if not spending.room_for_lots(wallet, 2):
        return rejected(Code.LOT_LIMIT_EXCEEDED)
    return bonus


def order_purchase(
    state: CityState, cmd: c.OrderPurchase, signers: frozenset[str], now: int
) -> Outcome:
    wallet = _owner(state, cmd.wallet, signers)
    if isinstance(wallet, Code):
        return rejected(wallet), NOTHING
    program = state.programs.get(cmd.program)
    if program is None:
        return rejected(Code.PROGRAM_NOT_FOUND), NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), NOTHING
    bonus = _limits(state, wallet, program, cmd.amount, now)
    if isinstance(bonus, Result):
        return bonus, NOTHING
    sale = program.versions[-1].sale
    assert sale is not None
    program.budget -= bonus
    program.reserved += bonus
    spending.hold_on_order(wallet, program.id, cmd.amount + bonus)
    _charge(wallet, f"buy:{program.id}", cmd.amount, now)
    _charge(wallet, f"bonus:{program.id}", bonus, now)
    deadline = now + sale.order_minutes * _MINUTE_MS
    version = len(program.versions)
    state.add_purchase(
        Purchase(cmd.id, wallet.id, program.id, version, cmd.amount, bonus, ORDERED, now, deadline)
    )
    result = Result(code=Code.OK.value, lots=[(cmd.id, cmd.amount), (f"{cmd.id}.d", bonus)])
    return result, [f"w:{wallet.id}", f"p:{program.id}", f"u:{cmd.id}"]


# -- 2. the deposit, 3. the lapse ---------------------------------------------------------


def _release(state: CityState, purchase: Purchase, wallet: Wallet, now: int) -> None:
    """An order's holds let go: the discount back to the budget, the holding room back."""
    program = state.programs[purchase.program]
    program.reserved -= purchase.bonus
    program.budget += purchase.bonus
    spending.hold_on_order(wallet, program.id, -(purchase.amount + purchase.bonus))
    _uncharge(wallet, f"buy:{program.id}", purchase.amount, purchase.ordered_ms, now)
    _uncharge(wallet, f"bonus:{program.id}", purchase.bonus, purchase.ordered_ms, now)


def _own_purchase(state: CityState, wallet: str, ident: str) -> Purchase | None:
    purchase = state.purchases.get(ident)
    return purchase if purchase is not None and purchase.wallet == wallet else None


def confirm_purchase(
    state: CityState, cmd: c.ConfirmPurchase, signers: frozenset[str], now: int
) -> Outcome:
    if not _operator(state, signers):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    purchase = _own_purchase(state, cmd.wallet, cmd.order)
    if purchase is None:
        return rejected(Code.PURCHASE_NOT_FOUND), NOTHING
    if purchase.status not in (ORDERED, LAPSED):
        return rejected(Code.PURCHASE_CLOSED), NOTHING
    if cmd.amount != purchase.amount:
        return rejected(Code.DEPOSIT_MISMATCH), NOTHING
    if cmd.deposit_ref in state.deposits:
        return rejected(Code.DEPOSIT_REF_USED), NOTHING
    wallet = state.wallets[purchase.wallet]
    program = state.programs[purchase.program]
    touched = [f"w:{wallet.id}", f"p:{program.id}", f"u:{purchase.id}", "c"]
    if purchase.status == ORDERED and now >= purchase.deadline_ms:
        # Its time ran out before the lapse job came: as if lapsed, judged as of now (so
        # its room is taken in the month the won arrived, as _charged_ms says).
        _release(state, purchase, wallet, now)
        purchase.status = LAPSED
    if purchase.status == LAPSED:
        # Its holds were let go: judge it afresh, and owe the won back if it no longer fits.
        bonus = _limits(state, wallet, program, purchase.amount, now)
        if isinstance(bonus, Result):
            return _return_deposit(state, purchase, cmd, now), [*touched, f"q:{purchase.id}"]
        program.budget -= bonus
        program.reserved += bonus
        purchase.bonus = bonus
        _charge(wallet, f"buy:{program.id}", purchase.amount, now)
        _charge(wallet, f"bonus:{program.id}", bonus, now)
    else:
        spending.hold_on_order(wallet, program.id, -(purchase.amount + purchase.bonus))
    return _book(state, purchase, wallet, program, cmd, now), touched


def _book(
    state: CityState,
    purchase: Purchase,
    wallet: Wallet,
    program: Program,
    cmd: c.ConfirmPurchase,
    now: int,
) -> Result:
    assert state.genesis is not None
    version = purchase.version
    expires = lot_expiry_ms(program.versions[version - 1], now, state.genesis.default_valid_days)
    ref = cmd.deposit_ref
    spending.insert_lot(
        wallet,
        Lot(purchase.id, program.id, version, purchase.amount, expires, SALE_ORIGIN + ref, now),
    )
    lots = [(purchase.id, purchase.amount)]
    if purchase.bonus:
        bonus_id = f"{purchase.id}.d"
        spending.insert_lot(
            wallet,
            Lot(bonus_id, program.id, version, purchase.bonus, expires, BONUS_ORIGIN + ref, now),
        )
        lots.append((bonus_id, purchase.bonus))
    program.reserved -= purchase.bonus
    program.bonus += purchase.bonus
    program.sold += purchase.amount
    program.minted += purchase.amount
    state.totals.minted += purchase.amount
    purchase.status, purchase.paid_ms, purchase.deposit_ref = PAID, now, ref
    state.deposits.add(ref)
    return Result(code=Code.OK.value, lots=lots, balance=wallet.balance())


def _return_deposit(
    state: CityState, purchase: Purchase, cmd: c.ConfirmPurchase, now: int
) -> Result:
    """Won that came for a lapsed order that no longer fits: minted straight into a
    payout back to the buyer, so the trust account and the chain still agree."""
    state.totals.minted += purchase.amount
    state.payouts[purchase.id] = Payout(
        purchase.id, purchase.wallet, purchase.amount, "deposit_returned", purchase.id, now
    )
    purchase.status, purchase.paid_ms, purchase.deposit_ref = CANCELLED, now, cmd.deposit_ref
    purchase.bonus = 0
    state.deposits.add(cmd.deposit_ref)
    return Result(code=Code.OK.value, lots=[(purchase.id, 0)])


def lapse_order(state: CityState, cmd: c.LapseOrder, signers: frozenset[str], now: int) -> Outcome:
    if not _operator(state, signers):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    purchase = _own_purchase(state, cmd.wallet, cmd.order)
    if purchase is None:
        return rejected(Code.PURCHASE_NOT_FOUND), NOTHING
    if purchase.status != ORDERED or now < purchase.deadline_ms:
        return rejected(Code.PURCHASE_CLOSED), NOTHING
    _release(state, purchase, state.wallets[purchase.wallet], now)
    purchase.status = LAPSED
    return Result(code=Code.OK.value), [
        f"w:{purchase.wallet}",
        f"p:{purchase.program}",
        f"u:{purchase.id}",
    ]


# -- 4. money back ------------------------------------------------------------------------


def _remaining(wallet: Wallet, purchase: Purchase) -> tuple[int, int]:
    """What is left of the purchased lot and of its discount lot."""
    left = {
        lot.id: lot.amount for lot in wallet.lots if lot.id in (purchase.id, f"{purchase.id}.d")
    }
    return left.get(purchase.id, 0), left.get(f"{purchase.id}.d", 0)


def _drop_lots(wallet: Wallet, purchase: Purchase) -> None:
    ids = (purchase.id, f"{purchase.id}.d")
    wallet.lots = [lot for lot in wallet.lots if lot.id not in ids]


def _paid_purchase(
    state: CityState, wallet_id: str, ident: str, signers: frozenset[str]
) -> tuple[Wallet, Purchase, Sale] | Code:
    wallet = _owner(state, wallet_id, signers)
    if isinstance(wallet, Code):
        return wallet
    purchase = _own_purchase(state, wallet.id, ident)
    if purchase is None:
        return Code.PURCHASE_NOT_FOUND
    if purchase.status != PAID:
        return Code.PURCHASE_CLOSED
    sale = state.programs[purchase.program].versions[purchase.version - 1].sale
    assert sale is not None  # a purchase is only ordered under a version with sale rules
    return wallet, purchase, sale


def _charged_ms(purchase: Purchase) -> int:
    """When a paid purchase took its room under the monthly limits: at its order if the
    won came in time, else when they came (a late deposit is judged afresh, then)."""
    return purchase.ordered_ms if purchase.paid_ms < purchase.deadline_ms else purchase.paid_ms


def _owe(state: CityState, purchase: Purchase, amount: int, reason: str, now: int) -> None:
    state.payouts[purchase.id] = Payout(
        purchase.id, purchase.wallet, amount, reason, purchase.id, now
    )


def cancel_purchase(
    state: CityState, cmd: c.CancelPurchase, signers: frozenset[str], now: int
) -> Outcome:
    found = _paid_purchase(state, cmd.wallet, cmd.purchase, signers)
    if isinstance(found, Code):
        return rejected(found), NOTHING
    wallet, purchase, sale = found
    if now >= purchase.paid_ms + sale.cancel_days * DAY_MS:
        return rejected(Code.CANCEL_WINDOW_CLOSED), NOTHING
    if _remaining(wallet, purchase) != (purchase.amount, purchase.bonus):
        return rejected(Code.PURCHASE_USED), NOTHING
    program = state.programs[purchase.program]
    _drop_lots(wallet, purchase)
    program.budget += purchase.bonus
    program.bonus -= purchase.bonus
    charged = _charged_ms(purchase)
    _uncharge(wallet, f"buy:{program.id}", purchase.amount, charged, now)
    _uncharge(wallet, f"bonus:{program.id}", purchase.bonus, charged, now)
    _owe(state, purchase, purchase.amount, "cancelled", now)
    purchase.status = CANCELLED
    result = Result(
        code=Code.OK.value, lots=[(purchase.id, purchase.amount)], balance=wallet.balance()
    )
    return result, [f"w:{wallet.id}", f"p:{program.id}", f"u:{purchase.id}", f"q:{purchase.id}"]


def refund_balance(
    state: CityState, cmd: c.RefundBalance, signers: frozenset[str], now: int
) -> Outcome:
    found = _paid_purchase(state, cmd.wallet, cmd.purchase, signers)
    if isinstance(found, Code):
        return rejected(found), NOTHING
    wallet, purchase, sale = found
    own, bonus = _remaining(wallet, purchase)
    face = purchase.amount + purchase.bonus
    used = face - own - bonus
    if used * 100 < sale.refund_used_percent * face or own + bonus == 0:
        return rejected(Code.REFUND_THRESHOLD_NOT_MET), NOTHING
    won = max(own + bonus - purchase.bonus, 0)
    program = state.programs[purchase.program]
    _drop_lots(wallet, purchase)
    back = own + bonus - won  # the discount's worth goes back where it came from
    program.budget += back
    program.bonus -= back  # and is no longer counted as paid (as a cancellation does)
    touched = [f"w:{wallet.id}", f"p:{program.id}", f"u:{purchase.id}"]
    if won:
        _owe(state, purchase, won, "balance_refund", now)
        touched.append(f"q:{purchase.id}")
    purchase.status = REFUNDED
    return Result(code=Code.OK.value, lots=[(purchase.id, won)], balance=wallet.balance()), touched


# -- cashback --------------------------------------------------------------------------------


def cashback(state: CityState, cmd: c.Cashback, signers: frozenset[str], now: int) -> Outcome:
    if not _operator(state, signers):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    wallet = state.wallets.get(cmd.wallet)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    program = state.programs.get(cmd.program)
    if program is None:
        return rejected(Code.PROGRAM_NOT_FOUND), NOTHING
    found = sale_of(program)
    if found is None or found[1].mode != "cashback":
        return rejected(Code.NOT_FOR_SALE), NOTHING
    policy, sale = found
    acc = wallet.accruals.get(program.id)
    spent = acc.base(cmd.month) if acc is not None else 0
    due = spent * sale.rate_bp // BP
    if sale.cashback_cap:
        due = min(due, sale.cashback_cap)
    if acc is None or cmd.month >= month_key(now) or acc.paid_month >= cmd.month or due == 0:
        return rejected(Code.CASHBACK_NOT_DUE), NOTHING
    if program.budget < due:
        return over_limit(Code.SALE_BUDGET_EXHAUSTED, _funded(program), program.budget), NOTHING
    if not spending.room_for_lots(wallet, 1):
        return rejected(Code.LOT_LIMIT_EXCEEDED), NOTHING
    assert state.genesis is not None
    expires = lot_expiry_ms(policy, now, state.genesis.default_valid_days)
    lot = Lot(
        cmd.id,
        program.id,
        len(program.versions),
        due,
        expires,
        f"{BONUS_ORIGIN}cashback-{cmd.month}",
        now,
    )
    spending.insert_lot(wallet, lot)
    acc.paid_month = cmd.month
    acc.spent = {month: won for month, won in acc.spent.items() if int(month) > cmd.month}
    program.budget -= due
    program.bonus += due
    result = Result(code=Code.OK.value, lots=[(lot.id, due)], balance=wallet.balance())
    return result, [f"w:{wallet.id}", f"p:{program.id}"]


def owe_expired(state: CityState, wallet: Wallet, lot: Lot, now: int) -> str:
    """A purchased lot at the end of its validity stays the buyer's: owed back in won.
    Returns the payout's state key."""
    ident = f"{lot.id}.x"
    state.payouts[ident] = Payout(ident, wallet.id, lot.amount, "expired", lot.id, now)
    return f"q:{ident}"
