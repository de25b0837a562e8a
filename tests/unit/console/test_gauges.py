"""Budget gauges from the ledger's own state after real commands: purchased won is not
budget, and the share left counts money returned by expiry."""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.policy import default_sale
from localpay.services.console.gauges import gauge
from localpay.testing.machine_city import CITY, OPERATOR, City


def test_a_grant_programs_gauge_follows_mints_and_credits() -> None:
    city = City()
    city.program("youth", budget=1_000_000)
    city.wallet("w-1")
    city.credit("w-1", "youth", 250_000)
    found = gauge(city.state.programs["youth"])
    assert (found.funded, found.budget, found.credited) == (1_000_000, 750_000, 250_000)
    assert found.left_percent == 75 and found.version == 1 and not found.for_sale


def test_won_sold_is_not_counted_as_budget() -> None:
    city = City()
    city.program("general", budget=100_000, sale=default_sale())
    city.wallet("w-1")
    order = c.OrderPurchase(
        id=city.new_id(), city=CITY, wallet="w-1", program="general", amount=100_000
    )
    assert city.run(order, city.keys["w-1"]).code == Code.OK
    held = gauge(city.state.programs["general"])
    assert held.reserved == 10_000 and held.budget == 90_000 and held.left_percent == 90
    assert held.funded == 100_000 and held.for_sale
    deposit = c.ConfirmPurchase(
        id=city.new_id(),
        city=CITY,
        wallet="w-1",
        order=order.id,
        amount=100_000,
        deposit_ref="va-1",
    )
    assert city.run(deposit, OPERATOR).code == Code.OK
    paid = gauge(city.state.programs["general"])
    assert paid.sold == 100_000 and paid.bonus == 10_000 and paid.reserved == 0
    assert paid.funded == 100_000 and paid.budget == 90_000 and paid.left_percent == 90
