"""The ledger's program rules (sales, grants, batches, expiry) under random command
sequences: a Hypothesis state machine over test_machine's City, whose `run` already
checks after every step that a rejected command changed nothing, that an accepted one
reported every entity it changed, and `state.check_invariants()`.

On top of those, after every step:
- no budget ever pays out more than it holds: per program budget >= 0, reserved >= 0,
  and discounts + cashback + credits - returns <= what the officials minted into it;
  more exactly, budget + reserved = minted by officials - credited + returned - bonus
  (every unit that left a budget is accounted for, and nothing else ever enters it);
- the discounts held for open orders equal each program's `reserved`;
- no purchase is owed back more won than was paid for it;
- a batch pays at most its approved total, each row at most once;
- a grant never pays one person more than its per-period cap.
And per command: a repeat of an applied deposit notice (a new command id, the same
notice) is refused and changes nothing.
"""

from __future__ import annotations

import nacl.signing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, month_key
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX
from localpay.domain.policy import Grant, default_sale, grant_period_key
from localpay.ledger.batches import row_leaf
from localpay.ledger.log import merkle
from localpay.ledger.state import ORDERED, PAID
from localpay.testing.machine_city import CHECKER, CITY, MAKER, OPERATOR, City, policy

MINUTE = 60_000
WALLETS = ("alice", "bob", "carol")
#: Amounts around the sale's edges: its monthly limit is 700,000, the holding cap 800,000.
AMOUNTS = st.sampled_from([-1, 0, 1, 999, 10_000, 99_999, 350_000, 700_000, AMOUNT_MAX + 1])
SPENDS = st.sampled_from([1, 500, 9_999, 40_000, 120_000, 400_000])
GRANT_CAP = 300_000

PROGRAMS = {
    # A discount sale with little budget: it runs out part way and goes on without discount.
    "sale": policy(holding_cap=800_000, transferable=True, sale=default_sale()),
    # A sale that stops once its budget is out.
    "stop": policy(sale=default_sale(when_budget_out="stop", rate_bp=2000)),
    # A cashback sale whose money is valid 40 days: expiry turns purchased money into payouts.
    "cb": policy(
        valid_days=40, sale=default_sale(mode="cashback", rate_bp=500, cashback_cap=3_000)
    ),
    # Policy money capped per person per quarter.
    "grant": policy(
        valid_days=60, grant=Grant("quarter", GRANT_CAP, 0, 0, 0, 0, []), transferable=True
    ),
}
BUDGETS = {"sale": 60_000, "stop": 40_000, "cb": 20_000, "grant": 1_000_000}


class ProgramsModel(RuleBasedStateMachine):
    orders = Bundle("orders")
    batches = Bundle("batches")

    @initialize()
    def city(self) -> None:
        self.town = City()
        for name, rules in PROGRAMS.items():
            self.town.program(name, budget=BUDGETS[name], **_fields(rules))
        for wallet in WALLETS:
            self.town.wallet(wallet)
        self.town.merchant("bakery")
        self.refs = 0
        self.notices: list[c.ConfirmPurchase] = []  # deposit notices applied
        self.payments: list[str] = []
        self.leaves: dict[str, list[tuple[str, int]]] = {}  # batch -> rows

    # -- helpers ---------------------------------------------------------------------

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.town.state

    def new_ref(self) -> str:
        self.refs += 1
        return f"va-{self.refs}"

    # -- sales -----------------------------------------------------------------------

    @rule(
        target=orders,
        wallet=st.sampled_from(WALLETS),
        program=st.sampled_from(["sale", "stop", "cb", "grant", "none"]),
        amount=AMOUNTS,
    )
    def order(self, wallet: str, program: str, amount: int) -> str:
        command = c.OrderPurchase(
            id=self.town.new_id(), city=CITY, wallet=wallet, program=program, amount=amount
        )
        budget = self.state.programs[program].budget if program in self.state.programs else 0
        result = self.town.run(command, self.town.keys[wallet])
        if result.ok:
            assert result.lots is not None
            bonus = result.lots[1][1]
            assert bonus <= budget, "a discount larger than the budget left"
            assert self.state.programs[program].budget == budget - bonus
        elif result.code in (Code.PURCHASE_LIMIT_EXCEEDED, Code.HOLDING_LIMIT_EXCEEDED):
            assert result.limit is not None and result.room is not None
            assert 0 <= result.room < amount + amount // 10  # short of the order and its discount
        return command.id

    @rule(
        target=orders,
        wallet=st.sampled_from(WALLETS),
        program=st.sampled_from(["sale", "stop", "cb"]),
        amount=st.sampled_from([10_000, 100_000, 350_000]),
    )
    def buy(self, wallet: str, program: str, amount: int) -> str:
        """An order and its deposit at once: the common case, so later rules find purchases."""
        order = self.order(wallet, program, amount)
        self.confirm(order, "exact")
        return order

    @rule(
        order=orders,
        how=st.sampled_from(["exact", "short", "fresh-ref", "reused-ref"]),
    )
    def confirm(self, order: str, how: str) -> None:
        purchase = self.state.purchases.get(order)
        wallet = purchase.wallet if purchase else "alice"
        amount = purchase.amount if purchase else 1
        ref = self.new_ref()
        if how == "short":
            amount = max(amount - 1, 1) if amount > 1 else 2
        if how == "reused-ref":
            if not self.notices:
                return
            ref = self.notices[0].deposit_ref
        notice = c.ConfirmPurchase(
            id=self.town.new_id(),
            city=CITY,
            wallet=wallet,
            order=order,
            amount=amount,
            deposit_ref=ref,
        )
        status = purchase.status if purchase else None
        result = self.town.run(notice, OPERATOR)
        if result.ok:
            assert status in (ORDERED, "lapsed") and how in ("exact", "fresh-ref")
            self.notices.append(notice)
        elif purchase is None:
            assert result.code == Code.PURCHASE_NOT_FOUND

    @precondition(lambda self: bool(self.notices))
    @rule(data=st.data())
    def repeat_a_deposit_notice(self, data: st.DataObject) -> None:
        """The bank's notice again (a new command id): refused, nothing changes."""
        notice = data.draw(st.sampled_from(self.notices))
        again = c.ConfirmPurchase(
            id=self.town.new_id(),
            city=CITY,
            wallet=notice.wallet,
            order=notice.order,
            amount=notice.amount,
            deposit_ref=notice.deposit_ref,
        )
        assert self.town.run(again, OPERATOR).code == Code.PURCHASE_CLOSED

    @rule(order=orders)
    def lapse(self, order: str) -> None:
        purchase = self.state.purchases.get(order)
        wallet = purchase.wallet if purchase else "alice"
        due = purchase is not None and self.town.now >= purchase.deadline_ms
        status = purchase.status if purchase else None
        command = c.LapseOrder(id=self.town.new_id(), city=CITY, wallet=wallet, order=order)
        result = self.town.run(command, OPERATOR)
        assert result.ok == (due and status == ORDERED), result.code

    @rule(order=orders, refund=st.booleans())
    def money_back(self, order: str, refund: bool) -> None:
        purchase = self.state.purchases.get(order)
        wallet = purchase.wallet if purchase else "alice"
        command: c.Command = (
            c.RefundBalance(id=self.town.new_id(), city=CITY, wallet=wallet, purchase=order)
            if refund
            else c.CancelPurchase(id=self.town.new_id(), city=CITY, wallet=wallet, purchase=order)
        )
        status = purchase.status if purchase else None
        result = self.town.run(command, self.town.keys[wallet])
        if result.ok:
            assert status == PAID

    @rule(order=orders, share=st.sampled_from([59, 60, 61, 100]))
    def use_then_refund_the_rest(self, order: str, share: int) -> None:
        """Spend a share of a purchase (with its discount), then ask for the rest in won."""
        purchase = self.state.purchases.get(order)
        if purchase is None or purchase.status != PAID:
            return
        face = purchase.amount + purchase.bonus
        self.pay(purchase.wallet, max(face * share // 100, 1), 0)
        self.money_back(order, refund=True)

    @rule(wallet=st.sampled_from(WALLETS))
    def month_end_cashback(self, wallet: str) -> None:
        """The first day of the next month: last month's cashback is due."""
        month = month_key(self.town.now)
        while month_key(self.town.now) == month:
            self.town.now += DAY_MS
        self.cashback(wallet, 1)

    @rule(wallet=st.sampled_from(WALLETS), months_ago=st.integers(min_value=0, max_value=2))
    def cashback(self, wallet: str, months_ago: int) -> None:
        month = month_key(self.town.now) - months_ago
        command = c.Cashback(
            id=self.town.new_id(), city=CITY, wallet=wallet, program="cb", month=month
        )
        result = self.town.run(command, OPERATOR)
        if months_ago == 0:
            assert result.code == Code.CASHBACK_NOT_DUE  # the month is not over
        if result.ok:
            assert result.lots is not None and 0 < result.lots[0][1] <= 3_000

    # -- spending ---------------------------------------------------------------------

    @rule(
        wallet=st.sampled_from(WALLETS),
        amount=SPENDS,
        share=st.sampled_from([0, 59, 60, 61, 90, 100]),
    )
    def pay(self, wallet: str, amount: int, share: int) -> None:
        """A fixed amount, or a share (percent) of the wallet's balance."""
        if share:
            amount = max(self.state.wallets[wallet].balance() * share // 100, 1)
        command = self.town.pay_cmd(wallet, "bakery", amount)
        if self.town.run(command, self.town.keys[wallet]).ok:
            self.payments.append(command.id)

    @precondition(lambda self: bool(self.payments))
    @rule(data=st.data(), amount=SPENDS)
    def merchant_refund(self, data: st.DataObject, amount: int) -> None:
        payment = data.draw(st.sampled_from(self.payments))
        self.town.refund("bakery", payment, amount)

    @rule(source=st.sampled_from(WALLETS), to=st.sampled_from(WALLETS), amount=SPENDS)
    def gift(self, source: str, to: str, amount: int) -> None:
        result = self.town.transfer(source, to, amount)
        if result.ok:
            moved = {lot for lot, _ in result.lots or []}
            given = [lot for lot in self.state.wallets[to].lots if lot.id in moved]
            assert not any(lot.origin.startswith("bonus:") for lot in given)

    @rule(wallet=st.sampled_from(WALLETS))
    def expire(self, wallet: str) -> None:
        lots = {lot.id: lot for lot in self.state.wallets[wallet].lots}
        result = self.town.expire(wallet)
        for lot_id, _ in result.lots or []:
            if lots[lot_id].origin.startswith("sale:"):
                owed = self.state.payouts[f"{lot_id}.x"]
                assert (owed.amount, owed.reason) == (lots[lot_id].amount, "expired")

    # -- grants and batches ---------------------------------------------------------------

    @rule(wallet=st.sampled_from(WALLETS), amount=st.sampled_from([1, 100_000, 200_000, 300_001]))
    def credit(self, wallet: str, amount: int) -> None:
        self.town.run(self.town.credit_cmd(wallet, "grant", amount), *self.officials())

    def officials(self) -> tuple[nacl.signing.SigningKey, ...]:
        return (MAKER, CHECKER)

    @rule(
        target=batches,
        rows=st.lists(
            st.tuples(st.sampled_from(WALLETS), st.sampled_from([1, 50_000, 150_000])),
            min_size=1,
            max_size=5,
        ),
    )
    def approve_batch(self, rows: list[tuple[str, int]]) -> str:
        name = f"b{len(self.leaves)}"
        leaves = [row_leaf(name, "grant", n, w, a, "") for n, (w, a) in enumerate(rows)]
        command = c.ApproveBatch(
            id=self.town.new_id(),
            city=CITY,
            batch=name,
            program="grant",
            rows=len(rows),
            total=sum(a for _, a in rows),
            root=merkle.root(leaves).hex(),
        )
        assert self.town.run(command, *self.officials()).code == Code.OK
        self.leaves[name] = rows
        return name

    @rule(batch=batches, data=st.data(), tamper=st.booleans())
    def batch_credit(self, batch: str, data: st.DataObject, tamper: bool) -> None:
        rows = self.leaves[batch]
        n = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
        wallet, amount = rows[n]
        leaves = [row_leaf(batch, "grant", i, w, a, "") for i, (w, a) in enumerate(rows)]
        proof = [p.hex() for p in merkle.inclusion_proof(leaves, n, len(leaves))]
        was_paid = self.state.batches[batch].paid_rows
        command = c.BatchCredit(
            id=self.town.new_id(),
            city=CITY,
            batch=batch,
            row=n,
            wallet=wallet,
            amount=amount + 1 if tamper else amount,
            evidence="",
            proof=proof,
        )
        result = self.town.run(command, OPERATOR)
        if tamper:
            assert result.code == Code.ROW_NOT_IN_BATCH
        if result.ok:
            assert self.state.batches[batch].paid_rows == was_paid + 1

    # -- time --------------------------------------------------------------------------------

    @rule(
        step=st.sampled_from(
            [MINUTE, 15 * MINUTE, DAY_MS - 1, 7 * DAY_MS, 31 * DAY_MS, 41 * DAY_MS]
        )
    )
    def time_passes(self, step: int) -> None:
        self.town.now += step

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def no_budget_pays_out_more_than_it_holds(self) -> None:
        for p in self.state.programs.values():
            into = p.minted - p.sold  # what the officials minted into the budget
            assert p.budget >= 0 and p.reserved >= 0, p
            assert p.bonus + p.credited - p.returned <= into, p
            assert p.budget + p.reserved == into - p.credited + p.returned - p.bonus, p

    @invariant()
    def discounts_held_are_reserved_per_program(self) -> None:
        held: dict[str, int] = {}
        for u in self.state.purchases.values():
            if u.status == ORDERED:
                held[u.program] = held.get(u.program, 0) + u.bonus
        for p in self.state.programs.values():
            assert held.get(p.id, 0) == p.reserved, p.id

    @invariant()
    def no_purchase_is_owed_more_than_was_paid(self) -> None:
        for q in self.state.payouts.values():
            purchase = self.state.purchases.get(q.source)
            if purchase is not None:
                assert q.amount <= purchase.amount, q

    @invariant()
    def batches_pay_at_most_their_total(self) -> None:
        for b in self.state.batches.values():
            assert b.paid_total <= b.total and b.paid_rows <= b.rows

    @invariant()
    def a_grant_pays_one_person_at_most_its_cap_per_period(self) -> None:
        period = grant_period_key("quarter", self.town.now)
        for w in self.state.wallets.values():
            window = w.windows.get("grant:grant")
            if window is not None and window.day == period:
                assert window.day_spent <= GRANT_CAP


def _fields(rules):  # type: ignore[no-untyped-def]
    """A policy's fields other than its name, for City.program(**rules)."""
    return {f: getattr(rules, f) for f in rules.__struct_fields__ if f != "name"}


def test_random_program_commands_keep_every_invariant() -> None:
    run_state_machine_as_test(
        ProgramsModel,
        settings=settings(
            max_examples=150,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
