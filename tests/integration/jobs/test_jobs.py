"""The scheduled jobs on both stores with the real sequencer, time moved by the clock:
expiry exactly at Korean midnight, lapsed orders, month-end cashback, each once."""

from __future__ import annotations

from localpay.domain.codes import Code
from localpay.domain.policy import default_sale
from localpay.ledger.state import LAPSED, ORDERED, Purchase
from localpay.services.jobs import expiry
from localpay.services.jobs.submit import operator_signer
from localpay.testing.town import CITY, Town, kst

LAST_DAY = "2026-12-31"
MINUTE = 60_000


def _expiring_town(town: Town) -> None:
    """alice holds policy money valid through 2026-12-31 and a purchase of a sale valid
    through the same day (its discount is policy money too); a bakery takes payments."""
    town.program("youth", 1_000_000, valid_until=LAST_DAY)
    town.program("general", 100_000, valid_until=LAST_DAY, sale=default_sale())
    town.wallet("alice")
    town.merchant("bakery")
    town.credit("youth", "alice", 100_000)
    town.buy("alice", "general", 50_000)  # 50,000 purchased + 5,000 discount


def test_expiry_runs_at_midnight_kst_and_a_rerun_changes_nothing(town: Town) -> None:
    _expiring_town(town)
    scheduler = town.scheduler()
    town.clock.now = kst(2026, 12, 31, 23, 59) + 59_999  # 23:59:59.999, the last instant
    assert town.pay("alice", "bakery", 1_000).ok  # still spendable
    scheduler.tick()
    assert town.wallet_state("alice").balance() == 154_000  # nothing expired yet
    before = {p: town.program_state(p).budget for p in ("youth", "general")}
    lots = town.wallet_state("alice").lots
    bought = sum(lot.amount for lot in lots if lot.origin.startswith("sale:"))
    back = {
        p: sum(x.amount for x in lots if x.program == p and x not in _bought(lots)) for p in before
    }

    town.clock.now = kst(2027, 1, 1)  # 00:00:00.000 KST
    ran = [r.job for r in scheduler.tick()]
    assert "expiry" in ran
    assert town.wallet_state("alice").lots == []
    for program, budget in before.items():  # policy money and the discount: to the budget
        assert town.program_state(program).budget == budget + back[program]
    owed = [p for p in town.payouts() if p.reason == "expired"]
    assert [(p.wallet, p.amount, p.status) for p in owed] == [("alice", bought, "pending")]
    assert bought > 0 and back["youth"] > 0 and back["general"] > 0

    size = town.log_size()
    town.clock.now += 30_000
    assert [r.job for r in scheduler.tick() if r.job == "expiry"] == []  # the day is done
    assert town.jobs().run("expiry", CITY, town.clock.now).line.startswith("done=0 repeated=0")
    # Even the same commands again (a crash that lost the answers) are answered, not applied.
    sign = operator_signer(town.ledgers, CITY)
    again = expiry.commands(CITY, ["alice"], kst(2027, 1, 1))
    receipts = town.ledgers.execute_many(CITY, [sign(cmd) for cmd in again])
    assert [(r.code, r.duplicate) for r in receipts] == [(Code.OK, True)]
    assert town.log_size() == size


def _bought(lots: list) -> list:  # type: ignore[type-arg]
    return [lot for lot in lots if lot.origin.startswith("sale:")]


def test_a_lapsed_order_gets_lapse_order_once_past_its_deadline(town: Town) -> None:
    town.program("general", 100_000, sale=default_sale(order_minutes=15))
    town.wallet("alice")
    scheduler = town.scheduler()
    scheduler.tick()  # the open orders are loaded before this order: followed in the log
    ordered_at = town.clock.now
    order = town.order("alice", "general", 200_000)
    assert town.program_state("general").reserved == 20_000
    town.clock.now = ordered_at + 15 * MINUTE - 1
    scheduler.tick()
    assert _purchase(town, order).status == ORDERED
    town.clock.now = ordered_at + 15 * MINUTE
    scheduler.tick()
    assert _purchase(town, order).status == LAPSED
    assert town.program_state("general").reserved == 0
    size = town.log_size()
    town.clock.now += MINUTE
    scheduler.tick()
    # A new scheduler (a restart) loads the state: the order is closed, nothing to lapse.
    town.scheduler().tick()
    assert town.log_size() == size


def test_an_order_open_at_a_restart_lapses_after_it(town: Town) -> None:
    town.program("general", 100_000, sale=default_sale(order_minutes=15))
    town.wallet("alice")
    order = town.order("alice", "general", 10_000)
    town.clock.now += 16 * MINUTE
    town.scheduler().tick()  # a scheduler started after the order: it loads it
    assert _purchase(town, order).status == LAPSED


def _purchase(town: Town, order: str) -> Purchase:
    import msgspec  # noqa: PLC0415

    raw = town.store.state_value(CITY, f"u:{order}")
    assert raw is not None
    return msgspec.json.decode(raw, type=Purchase)


def test_cashback_pays_a_month_once_after_it_ends(town: Town) -> None:
    town.program("cb", 50_000, sale=default_sale(mode="cashback", rate_bp=500, cashback_cap=3_000))
    town.wallet("alice")
    town.merchant("bakery")
    town.buy("alice", "cb", 100_000)
    assert town.pay("alice", "bakery", 40_000).ok  # 5 % of 40,000 in November: 2,000
    scheduler = town.scheduler()
    town.clock.now = kst(2026, 11, 30, 23, 59)
    scheduler.tick()  # November is not over: October's run finds nothing
    assert (
        town.jobs()
        .run("cashback", CITY, town.clock.now)
        .line.endswith("done=0 repeated=0 refused=0")
    )
    assert _cashback_lots(town) == []

    town.clock.now = kst(2026, 12, 1)
    ran = {r.job: r for r in scheduler.tick()}
    assert ran["cashback"].period == "2026-11"
    assert _cashback_lots(town) == [2_000]
    assert town.program_state("cb").budget == 48_000
    size = town.log_size()
    town.clock.now += MINUTE
    assert "cashback" not in {r.job for r in scheduler.tick()}
    town.clock.now = kst(2026, 12, 2)  # a hand re-run a day later: paid, so nothing asked
    assert (
        town.jobs()
        .run("cashback", CITY, town.clock.now)
        .line.endswith("done=0 repeated=0 refused=0")
    )
    assert _cashback_lots(town) == [2_000]
    assert town.log_size() == size


def _cashback_lots(town: Town) -> list[int]:
    lots = town.wallet_state("alice").lots
    return [lot.amount for lot in lots if lot.origin.startswith("bonus:cashback")]


def test_the_scheduler_survives_a_restart_without_running_a_day_twice(town: Town) -> None:
    _expiring_town(town)
    town.clock.now = kst(2027, 1, 1, 0, 0, 5_000)
    first = town.scheduler()
    assert "expiry" in {r.job for r in first.tick()}
    first.close()
    town.ledgers.close()
    size = town.log_size()
    # A new process: new ledgers over the same store, a new scheduler, later that minute.
    town.ledgers = type(town.ledgers)(town.store, town.keys, town.clock, max_clock_skew_ms=None)
    town.clock.now += 5_000
    again = town.scheduler()
    assert {r.job for r in again.tick()} == {"lapse", "holds"}  # the daily ones: done
    assert town.log_size() == size
