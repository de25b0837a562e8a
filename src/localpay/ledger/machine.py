"""The city ledger as a pure state machine: apply(state, command) -> result.

Deterministic: given the same state, command, verified signer keys and block
time, it returns the same result and the same state change, on the operator's
sequencer and on every witness. No I/O, no clock (time comes from the block).
A rejected command changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS
from localpay.domain.codes import Code
from localpay.domain.limits import (
    REFUND_WINDOW_DAYS_MAX,
    REVENUE_MAX,
    SIGNATURES_MAX,
    VALID_DAYS_MAX,
)
from localpay.domain.money import valid_amount
from localpay.domain.policy import check_policy
from localpay.ledger import batches, conditions, grants, holds, offers, sales, settlement, spending
from localpay.ledger.results import OK, Result, rejected
from localpay.ledger.rotation import operator_keys, valid_point
from localpay.ledger.state import (
    MERCHANT_ACTIVE,
    MERCHANT_PENDING,
    MERCHANT_SUSPENDED,
    CityState,
    Merchant,
    Program,
    Rotation,
    Wallet,
)

Touched = list[str]
Outcome = tuple[Result, Touched]
NOTHING: Touched = []


def apply(state: CityState, cmd: c.Command, signers: frozenset[str], now_ms: int) -> Outcome:
    """Apply one command whose signatures were verified (their keys are `signers`).

    A rejection that no key known for the command signed is `unknown_signer`, which
    is never recorded: otherwise any stranger's key could fill the chain with junk.
    """
    handler: Callable[[CityState, Any, frozenset[str], int], Outcome] = _HANDLERS[type(cmd)]
    if state.genesis is None and not isinstance(cmd, c.CreateCity):
        return rejected(Code.CITY_NOT_FOUND), NOTHING
    outcome = handler(state, cmd, signers, now_ms)
    if not outcome[0].ok and state.genesis is not None and not _known_signer(state, cmd, signers):
        return rejected(Code.UNKNOWN_SIGNER), NOTHING
    return outcome


_PARTY_FIELDS: dict[type, tuple[str, ...]] = {
    kind: tuple(f for f in ("wallet", "merchant", "to") if f in kind.__struct_fields__)
    for kind in c.Command.__args__
}


def accounts_of(cmd: c.Command, payer: str | None = None) -> tuple[str, ...]:
    """The one rule of which accounts a command concerns: the accounts it names
    (wallet, merchant, recipient) and, for a refund, the payer of the refunded payment,
    which the caller looks up (in the state here, in the stored payment for the history
    index). The sequencer's parties, the history index and privacy all follow it."""
    # An optional owner field left empty (settle_payout names one of two) names no one.
    named = [n for f in _PARTY_FIELDS[type(cmd)] if (n := getattr(cmd, f))]
    if payer is not None and isinstance(cmd, c.Refund):
        named.append(payer)
    return tuple(dict.fromkeys(named))


def parties(state: CityState, cmd: c.Command) -> tuple[str, ...]:
    """The accounts a command concerns, for their histories (a refund: the payer too)."""
    payment = state.payments.get(cmd.payment) if isinstance(cmd, c.Refund) else None
    return accounts_of(cmd, payment.wallet if payment is not None else None)


# -- authority ---------------------------------------------------------------------


def _known_signer(state: CityState, cmd: c.Command, signers: frozenset[str]) -> bool:
    """Did a key the chain knows in a role for this command sign it: the operator, an
    official, or a key of an account the command names? (A new wallet's own key is not
    known yet: it counts only when its opening succeeds.)"""
    if state.operator_key() in signers or not signers.isdisjoint(state.authorities.officials):
        return True
    for field in _PARTY_FIELDS[type(cmd)]:
        name = getattr(cmd, field)
        wallet = state.wallets.get(name)
        # A wallet's bound cards sign its card holds: their keys are known too.
        if wallet is not None and not signers.isdisjoint(wallet.cards.values()):
            return True
        account = wallet or state.merchants.get(name)
        if account is not None and not signers.isdisjoint(account.keys):
            return True
    return False


def _official_verdict(state: CityState, kind: str, signers: frozenset[str]) -> Code:
    # `signers` is a set of keys: one official signing twice is still one official.
    assert state.genesis is not None
    approving = len(signers & state.authorities.officials.keys())
    if approving == 0:
        return Code.SIGNER_NOT_AUTHORIZED
    if approving < c.approvals_needed(state.genesis.approvals, kind):
        return Code.APPROVALS_MISSING
    return Code.OK


def _largest_rule(approvals: dict[str, int]) -> int:
    return max(c.approvals_needed(approvals, kind) for kind in c.OFFICIAL_COMMANDS)


def _approval_rules_fault(cmd: c.CreateCity) -> bool:
    """Are the genesis approval rules unusable or unsafe?"""
    rules = cmd.approvals
    if not rules.keys() <= c.OFFICIAL_COMMANDS:
        return True  # a misspelt action would silently keep the default
    if any(type(n) is not int or not 1 <= n <= SIGNATURES_MAX for n in rules.values()):
        return True  # 0 would let anyone act; above the signature limit, no one could
    if c.approvals_needed(rules, "mint") < c.MIN_MINT_APPROVALS:
        return True
    # Approval is also reinstatement: undoing a suspension takes at least as many.
    if c.approvals_needed(rules, "approve_merchant") < c.approvals_needed(
        rules, "suspend_merchant"
    ):
        return True
    # A rotation carries the operator's signature beside the officials': one slot less.
    if c.approvals_needed(rules, "rotate_operator") > SIGNATURES_MAX - 1:
        return True
    # A rule needing more distinct officials than the city has could never be met.
    return _largest_rule(rules) > len({o.key for o in cmd.officials})


def _is_official_or_operator(state: CityState, signers: frozenset[str]) -> bool:
    if state.operator_key() in signers:
        return True
    return not signers.isdisjoint(state.authorities.officials)


def _account_taken(state: CityState, account: str) -> bool:
    return account in state.wallets or account in state.merchants


# -- city and accounts ---------------------------------------------------------------


def _create_city(state: CityState, cmd: c.CreateCity, signers: frozenset[str], now: int) -> Outcome:
    if state.genesis is not None:
        return rejected(Code.CITY_EXISTS), NOTHING
    if cmd.operator_key not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    if not 1 <= cmd.default_valid_days <= VALID_DAYS_MAX or _approval_rules_fault(cmd):
        return rejected(Code.INVALID_POLICY), NOTHING
    if not 1 <= cmd.refund_window_days <= REFUND_WINDOW_DAYS_MAX:
        return rejected(Code.INVALID_POLICY), NOTHING
    state.genesis = cmd
    state.authorities.officials = {o.key: o.role for o in cmd.officials}
    return OK, ["g", "c", "o"]


def _appoint_official(
    state: CityState, cmd: c.AppointOfficial, signers: frozenset[str], now: int
) -> Outcome:
    verdict = _official_verdict(state, "appoint_official", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    officials = dict(state.authorities.officials)
    if cmd.active:
        officials[cmd.key] = cmd.role
    elif officials.pop(cmd.key, None) is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    assert state.genesis is not None
    # Never leave the city unable to act: enough officials for its largest approval rule.
    if len(officials) < _largest_rule(state.genesis.approvals):
        return rejected(Code.INVALID_POLICY), NOTHING
    state.authorities.officials = officials
    return OK, ["o"]


def _set_witnesses(
    state: CityState, cmd: c.SetWitnesses, signers: frozenset[str], now: int
) -> Outcome:
    verdict = _official_verdict(state, "set_witnesses", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    keys = [w.key for w in cmd.witnesses]
    if len(set(keys)) != len(keys) or not 0 <= cmd.quorum <= len(keys):
        return rejected(Code.INVALID_POLICY), NOTHING
    if keys and cmd.quorum == 0:
        return rejected(Code.INVALID_POLICY), NOTHING
    state.authorities.witnesses = {w.key: w.name for w in cmd.witnesses}
    state.authorities.quorum = cmd.quorum
    return OK, ["o"]


def _rotate_operator(
    state: CityState, cmd: c.RotateOperator, signers: frozenset[str], now: int
) -> Outcome:
    # Both: the operator alone cannot hand the chain to a key of its choosing, nor can
    # the officials take the signing of blocks away from the operator.
    current = state.operator_key()
    if current not in signers:
        return rejected(Code.OPERATOR_SIGNATURE_MISSING), NOTHING
    verdict = _official_verdict(state, "rotate_operator", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    if cmd.old_key != current:
        return rejected(Code.OPERATOR_KEY_MISMATCH), NOTHING
    # A retired key may be the stolen one: it never signs this chain again.
    if cmd.new_key in operator_keys(state) or not valid_point(cmd.new_key):
        return rejected(Code.INVALID_OPERATOR_KEY), NOTHING
    state.authorities.rotations = [*state.authorities.rotations, Rotation(cmd.id, cmd.new_key)]
    return OK, ["o"]


def _open_wallet(state: CityState, cmd: c.OpenWallet, signers: frozenset[str], now: int) -> Outcome:
    # The wallet proves it holds (one of) its keys by signing its own opening.
    if not signers.intersection(cmd.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    if _account_taken(state, cmd.wallet):
        return rejected(Code.ACCOUNT_EXISTS), NOTHING
    state.wallets[cmd.wallet] = Wallet(cmd.wallet, list(cmd.keys), cmd.custodial, [], {}, now)
    return OK, [f"w:{cmd.wallet}"]


def _register_merchant(
    state: CityState, cmd: c.RegisterMerchant, signers: frozenset[str], now: int
) -> Outcome:
    verdict = _official_verdict(state, "register_merchant", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    if _account_taken(state, cmd.merchant):
        return rejected(Code.ACCOUNT_EXISTS), NOTHING
    if type(cmd.annual_revenue) is not int or not 0 <= cmd.annual_revenue <= REVENUE_MAX:
        return rejected(Code.INVALID_AMOUNT), NOTHING
    state.merchants[cmd.merchant] = Merchant(
        id=cmd.merchant,
        keys=list(cmd.keys),
        category=cmd.category,
        area=cmd.area,
        annual_revenue=cmd.annual_revenue,
        registration_hash=cmd.registration_hash,
        status=MERCHANT_PENDING,
        balance=0,
        redeemed=0,
    )
    return OK, [f"m:{cmd.merchant}"]


def _set_merchant_status(
    state: CityState, kind: str, merchant_id: str, status: str, signers: frozenset[str]
) -> Outcome:
    verdict = _official_verdict(state, kind, signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    merchant = state.merchants.get(merchant_id)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    if merchant.status == status:
        return rejected(Code.MERCHANT_STATUS_UNCHANGED), NOTHING
    merchant.status = status
    return OK, [f"m:{merchant_id}"]


def _approve_merchant(
    state: CityState, cmd: c.ApproveMerchant, signers: frozenset[str], now: int
) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    barred = merchant is not None and now < merchant.barred_until_ms
    if barred and _official_verdict(state, "approve_merchant", signers) is Code.OK:
        return rejected(Code.MERCHANT_BARRED), NOTHING
    return _set_merchant_status(state, "approve_merchant", cmd.merchant, MERCHANT_ACTIVE, signers)


def _suspend_merchant(
    state: CityState, cmd: c.SuspendMerchant, signers: frozenset[str], now: int
) -> Outcome:
    outcome = _set_merchant_status(
        state, "suspend_merchant", cmd.merchant, MERCHANT_SUSPENDED, signers
    )
    if outcome[0].ok and cmd.reason == c.FRAUD_REASON:
        # Cash-out fraud (깡): no reinstatement for a year, whoever approves.
        state.merchants[cmd.merchant].barred_until_ms = now + FRAUD_BAR_DAYS * DAY_MS
    return outcome


#: How long a merchant suspended for cash-out fraud stays barred from approval.
FRAUD_BAR_DAYS = 365


# -- programs and issuance -------------------------------------------------------------


def _define_program(
    state: CityState, cmd: c.DefineProgram, signers: frozenset[str], now: int
) -> Outcome:
    verdict = _official_verdict(state, "define_program", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    if check_policy(cmd.policy) is not None or conditions.compile_error(cmd.policy) is not None:
        return rejected(Code.INVALID_POLICY), NOTHING
    program = state.programs.get(cmd.program)
    if program is None:
        state.programs[cmd.program] = Program(cmd.program, [cmd.policy], 0, 0, 0, 0)
    else:
        program.versions.append(cmd.policy)
    return OK, [f"p:{cmd.program}"]


def _mint(state: CityState, cmd: c.Mint, signers: frozenset[str], now: int) -> Outcome:
    verdict = _official_verdict(state, "mint", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    program = state.programs.get(cmd.program)
    if program is None:
        return rejected(Code.PROGRAM_NOT_FOUND), NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), NOTHING
    program.budget += cmd.amount
    program.minted += cmd.amount
    state.totals.minted += cmd.amount
    return Result(code=Code.OK.value, balance=program.budget), [f"p:{cmd.program}", "c"]


def _credit(state: CityState, cmd: c.Credit, signers: frozenset[str], now: int) -> Outcome:
    verdict = _official_verdict(state, "credit", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    if cmd.origin.startswith(sales.RESERVED_ORIGINS):
        return rejected(Code.RESERVED_ORIGIN), NOTHING
    return grants.grant(state, cmd.id, cmd.wallet, cmd.program, cmd.amount, cmd.origin, now)


def _approve_batch(
    state: CityState, cmd: c.ApproveBatch, signers: frozenset[str], now: int
) -> Outcome:
    verdict = _official_verdict(state, "approve_batch", signers)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    return batches.approve(state, cmd, now)


def _batch_credit(
    state: CityState, cmd: c.BatchCredit, signers: frozenset[str], now: int
) -> Outcome:
    if state.operator_key() not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    batch, verdict = batches.check_row(state, cmd)
    if verdict is not Code.OK:
        return rejected(verdict), NOTHING
    origin = f"batch:{batch.id}:{cmd.row}"
    outcome = grants.grant(state, cmd.id, cmd.wallet, batch.program, cmd.amount, origin, now)
    if outcome[0].ok:
        batches.record_paid(batch, cmd.row, cmd.amount)
        outcome[1].append(f"b:{batch.id}")
    return outcome


# -- spending ------------------------------------------------------------------------------


def _pay(state: CityState, cmd: c.Pay, signers: frozenset[str], now: int) -> Outcome:
    # The acting account first, then its signature, then the counterparty.
    wallet = state.wallets.get(cmd.wallet)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    if not signers.intersection(wallet.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), NOTHING
    if wallet.custodial and not cmd.evidence:
        return rejected(Code.EVIDENCE_MISSING), NOTHING
    if merchant.status != MERCHANT_ACTIVE:
        return rejected(Code.MERCHANT_NOT_ACTIVE), NOTHING
    paid = spending.pay_merchant(state, wallet, merchant, cmd.amount, cmd.id, now)
    if isinstance(paid, Code):
        return rejected(paid), NOTHING
    return paid, [f"w:{wallet.id}", f"m:{merchant.id}", f"x:{cmd.id}"]


def _refund(state: CityState, cmd: c.Refund, signers: frozenset[str], now: int) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    if not signers.intersection(merchant.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    payment = state.payments.get(cmd.payment)
    if payment is None or payment.merchant != merchant.id:
        return rejected(Code.PAYMENT_NOT_FOUND), NOTHING
    if not state.refundable(payment, now):
        return rejected(Code.REFUND_WINDOW_CLOSED), NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), NOTHING
    if cmd.amount > payment.amount - payment.refunded:
        return rejected(Code.REFUND_EXCEEDS_PAYMENT), NOTHING
    if merchant.balance < cmd.amount:
        return rejected(Code.INSUFFICIENT_FUNDS), NOTHING
    wallet = state.wallets[payment.wallet]
    restored = spending.restore(wallet, payment, cmd.amount, now)
    merchant.balance -= cmd.amount
    payment.refunded += cmd.amount
    result = Result(code=Code.OK.value, lots=restored, balance=wallet.balance())
    return result, [f"w:{wallet.id}", f"m:{merchant.id}", f"x:{payment.id}"]


def _transfer(state: CityState, cmd: c.Transfer, signers: frozenset[str], now: int) -> Outcome:
    source = state.wallets.get(cmd.wallet)
    if source is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    if not signers.intersection(source.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    target = state.wallets.get(cmd.to)
    if target is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), NOTHING
    if source.id == target.id:
        return rejected(Code.SAME_ACCOUNT), NOTHING
    if source.custodial and not cmd.evidence:
        return rejected(Code.EVIDENCE_MISSING), NOTHING
    plan = spending.plan_transfer(state.programs, source, target, cmd.amount, now)
    if isinstance(plan, Code):
        return rejected(plan), NOTHING
    if not spending.room_for_lots(target, spending.new_gift_lots(source, target, plan)):
        return rejected(Code.LOT_LIMIT_EXCEEDED), NOTHING
    moved = spending.move(source, target, plan, cmd.id, now)
    result = Result(code=Code.OK.value, lots=moved, balance=source.balance())
    return result, [f"w:{source.id}", f"w:{target.id}"]


def _expire(state: CityState, cmd: c.Expire, signers: frozenset[str], now: int) -> Outcome:
    if not _is_official_or_operator(state, signers):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    wallet = state.wallets.get(cmd.wallet)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    expired = [lot for lot in wallet.lots if lot.expires_ms <= now]
    if not expired:
        return rejected(Code.NOTHING_TO_EXPIRE), NOTHING
    wallet.lots = [lot for lot in wallet.lots if lot.expires_ms > now]
    touched = [f"w:{wallet.id}"]
    for lot in expired:
        if spending.is_purchased(lot):
            touched.append(sales.owe_expired(state, wallet, lot, now))
            continue
        program = state.programs[lot.program]
        program.budget += lot.amount
        program.returned += lot.amount
        touched.append(f"p:{lot.program}")
    result = Result(
        code=Code.OK.value, lots=[(lot.id, lot.amount) for lot in expired], balance=wallet.balance()
    )
    return result, sorted(set(touched))


def _redeem(state: CityState, cmd: c.Redeem, signers: frozenset[str], now: int) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), NOTHING
    # Only the merchant itself: no official or operator pays won out of the trust account
    # for a merchant that did not ask.
    if not signers.intersection(merchant.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), NOTHING
    # A suspended merchant's units stay put: its customers' refunds are paid from them.
    if merchant.status != MERCHANT_ACTIVE:
        return rejected(Code.MERCHANT_NOT_ACTIVE), NOTHING
    if merchant.balance < cmd.amount:
        return rejected(Code.INSUFFICIENT_FUNDS), NOTHING
    merchant.balance -= cmd.amount
    merchant.redeemed += cmd.amount
    state.totals.burned += cmd.amount
    return Result(code=Code.OK.value, balance=merchant.balance), [f"m:{merchant.id}", "c"]


_HANDLERS: dict[type, Callable[[CityState, Any, frozenset[str], int], Outcome]] = {
    c.CreateCity: _create_city,
    c.AppointOfficial: _appoint_official,
    c.SetWitnesses: _set_witnesses,
    c.OpenWallet: _open_wallet,
    c.RegisterMerchant: _register_merchant,
    c.ApproveMerchant: _approve_merchant,
    c.SuspendMerchant: _suspend_merchant,
    c.DefineProgram: _define_program,
    c.Mint: _mint,
    c.Credit: _credit,
    c.ApproveBatch: _approve_batch,
    c.BatchCredit: _batch_credit,
    c.Pay: _pay,
    c.Refund: _refund,
    c.Transfer: _transfer,
    c.OrderPurchase: sales.order_purchase,
    c.ConfirmPurchase: sales.confirm_purchase,
    c.LapseOrder: sales.lapse_order,
    c.CancelPurchase: sales.cancel_purchase,
    c.RefundBalance: sales.refund_balance,
    c.Cashback: sales.cashback,
    c.BindCard: holds.bind_card,
    c.Hold: holds.hold,
    c.Capture: holds.capture,
    c.Release: holds.release,
    c.PresentCode: offers.present_code,
    c.ClaimCode: offers.claim_code,
    c.Expire: _expire,
    c.Redeem: _redeem,
    c.SetPayoutAccount: settlement.set_payout_account,
    c.Payout: settlement.payout,
    c.SettlePayout: settlement.settle_payout,
    c.ReturnPayout: settlement.return_payout,
    c.RotateOperator: _rotate_operator,
}
