"""Policy money paid into a wallet out of its program's budget: a `credit` by the
officials, or one row of an approved batch (ledger/batches.py). One rule for both."""

from __future__ import annotations

from localpay.domain.codes import Code
from localpay.domain.money import valid_amount
from localpay.domain.policy import Policy, grant_period_key, lot_expiry_ms
from localpay.ledger import spending
from localpay.ledger.results import Result, over_limit, rejected
from localpay.ledger.state import CityState, Lot, Wallet, Window

Touched = list[str]
Outcome = tuple[Result, Touched]


def grant(
    state: CityState,
    lot_id: str,
    wallet_id: str,
    program_id: str,
    amount: int,
    origin: str,
    now: int,
) -> Outcome:
    """Move `amount` of the program's budget into a new lot `lot_id` of the wallet."""
    wallet = state.wallets.get(wallet_id)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), []
    program = state.programs.get(program_id)
    if program is None:
        return rejected(Code.PROGRAM_NOT_FOUND), []
    if not valid_amount(amount):
        return rejected(Code.INVALID_AMOUNT), []
    policy = program.versions[-1]
    assert state.genesis is not None
    expires = lot_expiry_ms(policy, now, state.genesis.default_valid_days)
    if expires <= now:
        return rejected(Code.PROGRAM_EXPIRED), []
    held = spending.holding(wallet, program_id) + spending.on_order(wallet, program_id)
    if policy.holding_cap and held + amount > policy.holding_cap:
        return rejected(Code.HOLDING_LIMIT_EXCEEDED), []
    if not spending.room_for_lots(wallet, 1):
        return rejected(Code.LOT_LIMIT_EXCEEDED), []
    granted = _granted(wallet, policy, program_id, now)
    if granted is not None and granted.day_spent + amount > _cap(policy):
        return over_limit(
            Code.GRANT_LIMIT_EXCEEDED, _cap(policy), _cap(policy) - granted.day_spent
        ), []
    if program.budget < amount:
        return rejected(Code.INSUFFICIENT_FUNDS), []
    program.budget -= amount
    program.credited += amount
    if granted is not None:
        granted.day_spent += amount
        wallet.windows[f"grant:{program_id}"] = granted
    lot = Lot(lot_id, program_id, len(program.versions), amount, expires, origin, now)
    spending.insert_lot(wallet, lot)
    result = Result(code=Code.OK.value, lots=[(lot.id, lot.amount)], balance=wallet.balance())
    return result, [f"w:{wallet_id}", f"p:{program_id}"]


def _cap(policy: Policy) -> int:
    assert policy.grant is not None
    return policy.grant.per_person


def _granted(wallet: Wallet, policy: Policy, program: str, now: int) -> Window | None:
    """What the wallet received of a capped grant in this period (the window's `day` is
    the period's key, `day_spent` the amount), or None when the program caps nothing."""
    if policy.grant is None or not policy.grant.per_person:
        return None
    period = grant_period_key(policy.grant.period, now)
    window = wallet.windows.get(f"grant:{program}")
    if window is None or window.day != period:
        return Window(period, 0, 0, 0)
    return Window(window.day, window.day_spent, 0, 0)
