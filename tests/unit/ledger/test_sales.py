"""Sales on the ledger: order, deposit, lapse, cancellation, balance refund, cashback.

Runs through test_machine's City, which checks after every command that a rejection
changed nothing, that every change was reported, and the invariants (supply, holds)."""

from __future__ import annotations

import pytest

from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, month_key
from localpay.domain.codes import Code
from localpay.domain.policy import default_sale
from localpay.ledger.results import Result
from localpay.testing.machine_city import CHECKER, CITY, MAKER, OPERATOR, City, policy

MINUTE = 60_000


class Sales(City):
    def order(self, wallet: str, amount: int, program: str = "general") -> tuple[str, Result]:
        command = c.OrderPurchase(
            id=self.new_id(), city=CITY, wallet=wallet, program=program, amount=amount
        )
        return command.id, self.run(command, self.keys[wallet])

    def confirm(self, wallet: str, order: str, amount: int, ref: str) -> Result:
        command = c.ConfirmPurchase(
            id=self.new_id(), city=CITY, wallet=wallet, order=order, amount=amount, deposit_ref=ref
        )
        return self.run(command, OPERATOR)

    def buy(self, wallet: str, amount: int, program: str = "general") -> str:
        order, result = self.order(wallet, amount, program)
        assert result.code == Code.OK, result
        assert self.confirm(wallet, order, amount, f"va-{order[-6:]}").code == Code.OK
        return order

    def cancel(self, wallet: str, purchase: str) -> Result:
        command = c.CancelPurchase(id=self.new_id(), city=CITY, wallet=wallet, purchase=purchase)
        return self.run(command, self.keys[wallet])

    def refund_rest(self, wallet: str, purchase: str) -> Result:
        command = c.RefundBalance(id=self.new_id(), city=CITY, wallet=wallet, purchase=purchase)
        return self.run(command, self.keys[wallet])

    def lapse(self, wallet: str, order: str) -> Result:
        command = c.LapseOrder(id=self.new_id(), city=CITY, wallet=wallet, order=order)
        return self.run(command, OPERATOR)


@pytest.fixture
def sale() -> Sales:
    city = Sales()
    city.program("general", budget=100_000, holding_cap=1_500_000, sale=default_sale())
    city.wallet("alice")
    city.merchant("bakery")
    return city


def test_a_purchase_mints_the_won_and_pays_the_discount_as_its_own_lot(sale: Sales) -> None:
    order = sale.buy("alice", 100_000)
    assert sale.lots("alice") == [(order, 100_000), (f"{order}.d", 10_000)]
    general = sale.state.programs["general"]
    assert (general.budget, general.reserved, general.sold, general.bonus) == (
        90_000,
        0,
        100_000,
        10_000,
    )
    origins = {lot.origin for lot in sale.state.wallets["alice"].lots}
    assert origins == {f"sale:va-{order[-6:]}", f"bonus:va-{order[-6:]}"}


def test_a_repeated_deposit_notice_changes_nothing(sale: Sales) -> None:
    order = sale.buy("alice", 100_000)
    again = sale.confirm("alice", order, 100_000, f"va-{order[-6:]}")
    assert again.code == Code.PURCHASE_CLOSED
    assert sale.balance("alice") == 110_000


def test_the_monthly_limit_exactly_reached_then_refused_with_the_room_left(sale: Sales) -> None:
    sale.buy("alice", 700_000 - 10_000)
    assert sale.order("alice", 10_000)[1].code == Code.OK
    _, refused = sale.order("alice", 1)
    assert (refused.code, refused.limit, refused.room) == (Code.PURCHASE_LIMIT_EXCEEDED, 700_000, 0)


def test_the_discount_is_held_at_order_so_the_budget_is_never_oversold(sale: Sales) -> None:
    sale.wallet("bob")
    # 100,000 of budget: two orders of 500,000 would each want 50,000.
    first, one = sale.order("alice", 500_000)
    second, two = sale.order("bob", 500_000)
    assert one.lots == [(first, 500_000), (f"{first}.d", 50_000)]
    assert two.lots == [(second, 500_000), (f"{second}.d", 50_000)]
    sale.wallet("carol")
    _, three = sale.order("carol", 10_000)
    assert three.lots is not None and three.lots[1][1] == 0  # no discount left: none given
    assert sale.state.programs["general"].budget == 0


def test_a_stopped_sale_refuses_once_the_budget_is_out(sale: Sales) -> None:
    assert sale.official(sale.define("stopper", sale_policy(when_budget_out="stop"))) == Code.OK
    assert sale.official(sale.mint("stopper", 10_000)) == Code.OK
    assert sale.order("alice", 100_000, "stopper")[1].code == Code.OK
    _, refused = sale.order("alice", 10, "stopper")
    assert (refused.code, refused.room) == (Code.SALE_BUDGET_EXHAUSTED, 0)


def sale_policy(**overrides: object):  # type: ignore[no-untyped-def]
    return policy(sale=default_sale(**overrides))


def test_an_order_that_lapses_gives_its_discount_back(sale: Sales) -> None:
    order, _ = sale.order("alice", 100_000)
    assert sale.lapse("alice", order).code == Code.PURCHASE_CLOSED  # not yet due
    sale.now += 15 * MINUTE
    assert sale.lapse("alice", order).code == Code.OK
    assert sale.state.programs["general"].budget == 100_000
    # The won came anyway: booked as a purchase, judged afresh.
    assert sale.confirm("alice", order, 100_000, "va-late").code == Code.OK
    assert sale.balance("alice") == 110_000


def test_cancel_within_seven_days_owes_the_won_and_takes_the_discount_back(sale: Sales) -> None:
    order = sale.buy("alice", 100_000)
    sale.now += 7 * DAY_MS - 1
    result = sale.cancel("alice", order)
    assert result.code == Code.OK
    assert sale.balance("alice") == 0
    payout = sale.state.payouts[order]
    assert (payout.amount, payout.reason, payout.status) == (100_000, "cancelled", "pending")
    assert sale.state.programs["general"].budget == 100_000


def test_cancel_on_the_eighth_day_or_after_spending_is_refused(sale: Sales) -> None:
    order = sale.buy("alice", 100_000)
    sale.pay("alice", "bakery", 1)
    assert sale.cancel("alice", order).code == Code.PURCHASE_USED
    sale.now += 7 * DAY_MS
    assert sale.cancel("alice", order).code == Code.CANCEL_WINDOW_CLOSED


def test_balance_refund_from_sixty_percent_used_less_the_discount(sale: Sales) -> None:
    order = sale.buy("alice", 100_000)  # 110,000 face: 60 % is 66,000
    assert sale.pay("alice", "bakery", 65_999).code == Code.OK
    assert sale.refund_rest("alice", order).code == Code.REFUND_THRESHOLD_NOT_MET
    assert sale.pay("alice", "bakery", 1).code == Code.OK
    result = sale.refund_rest("alice", order)
    assert result.code == Code.OK
    assert sale.state.payouts[order].amount == 110_000 - 66_000 - 10_000


def test_purchased_money_past_its_validity_is_owed_back_in_won(sale: Sales) -> None:
    assert sale.official(sale.define("short", _short())) == Code.OK
    order = sale.buy("alice", 50_000, "short")
    sale.now += 3 * DAY_MS
    assert sale.expire("alice").code == Code.OK
    owed = sale.state.payouts[f"{order}.x"]
    assert (owed.amount, owed.reason) == (50_000, "expired")
    assert sale.state.programs["short"].budget == 0  # no discount budget in this one


def _short():  # type: ignore[no-untyped-def]
    return policy(valid_days=1, sale=default_sale())


def test_cashback_pays_each_month_once_on_what_was_spent(sale: Sales) -> None:
    sale.program(
        "cb", budget=50_000, sale=default_sale(mode="cashback", rate_bp=500, cashback_cap=3_000)
    )
    sale.buy("alice", 100_000, "cb")
    assert sale.pay("alice", "bakery", 40_000).code == Code.OK
    month = month_key(sale.now)
    command = c.Cashback(id=sale.new_id(), city=CITY, wallet="alice", program="cb", month=month)
    assert sale.run(command, OPERATOR).code == Code.CASHBACK_NOT_DUE  # month not over
    sale.now += 35 * DAY_MS
    again = c.Cashback(id=sale.new_id(), city=CITY, wallet="alice", program="cb", month=month)
    paid = sale.run(again, OPERATOR)
    assert paid.code == Code.OK and paid.lots == [(again.id, 2_000)]
    twice = c.Cashback(id=sale.new_id(), city=CITY, wallet="alice", program="cb", month=month)
    assert sale.run(twice, OPERATOR).code == Code.CASHBACK_NOT_DUE


def test_discount_money_cannot_be_gifted(sale: Sales) -> None:
    assert sale.official(sale.define("gift", _giftable())) == Code.OK
    assert sale.official(sale.mint("gift", 10_000)) == Code.OK
    sale.buy("alice", 10_000, "gift")
    sale.wallet("bob")
    assert sale.transfer("alice", "bob", 10_000).code == Code.OK
    assert sale.transfer("alice", "bob", 1).code == Code.NOT_TRANSFERABLE


def _giftable():  # type: ignore[no-untyped-def]
    return policy(transferable=True, sale=default_sale())


def test_a_fraud_suspension_bars_approval_for_a_year(sale: Sales) -> None:
    suspend = c.SuspendMerchant(
        id=sale.new_id(), city=CITY, merchant="bakery", reason=c.FRAUD_REASON
    )
    assert sale.run(suspend, MAKER, CHECKER).code == Code.OK
    assert sale.official(sale.approve("bakery")) == Code.MERCHANT_BARRED
    sale.now += 365 * DAY_MS
    assert sale.official(sale.approve("bakery")) == Code.OK
