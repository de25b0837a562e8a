"""The whole settlement loop on both stores, against mock-bank as its own process:
sales and payments → payouts (instant and the daily batch) → pain.001 checked → the bank
→ pain.002 and camt.053 → reconciled to zero differences; a rejected payout returned;
the same statement twice; a statement with an unknown entry; the reserves proved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from localpay.adapters.bank.mockbank import (
    HOUSE_CODE,
    MockBank,
    ensure_trust_account,
    trust_account_id,
)
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.settlement import SqlSettlement
from localpay.domain import commands as c
from localpay.domain.errors import Refused
from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING, PAYOUT_RETURNED
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import new_id
from localpay.services.explorer.service import Explorer
from localpay.services.settlement import service as settlement_service
from localpay.services.settlement.ports import Party
from localpay.services.settlement.service import SettlementService
from localpay.testing.mockbank import RunningMockBank, mock_bank
from localpay.testing.town import CITY, Town, kst

MONDAY = kst(2026, 6, 8, 10)  # the bank's clock starts at 09:00 that Monday
TRUST = Party("김포시 지역화폐 신탁", HOUSE_CODE, "1005001234567")
BAKERY = Party("행복베이커리", HOUSE_CODE, "3333011111111")
FLORIST = Party("꽃집", HOUSE_CODE, "3333022222222")  # its account closes: AC04
BUDGET = 10_000_000


@pytest.fixture
def bank() -> Iterator[RunningMockBank]:
    with mock_bank() as running:
        yield running


@pytest.fixture
def town(store: SqlStore, keys: KeyStore, bank: RunningMockBank) -> Iterator[Town]:
    made = Town(store, keys, MONDAY)
    made.program("general", BUDGET)
    for wallet in ("alice", "bob"):
        made.wallet(wallet)
        made.credit("general", wallet, 300_000)
    for shop, party in (("bakery", BAKERY), ("florist", FLORIST)):
        made.merchant(shop)
        keys.put(CITY, f"merchant-{shop}", made.people[shop])  # the server signs for it
        bank.client.create_account(f"SHOP-{shop}", party)
    ensure_trust_account(bank.client, CITY, TRUST.account, TRUST.bank, TRUST.name, BUDGET)
    yield made
    made.close()


@pytest.fixture
def settle(town: Town, bank: RunningMockBank) -> SettlementService:
    repo = SqlSettlement(town.store, master_key_from_environment())
    service = SettlementService(
        town.ledgers, repo, lambda city: MockBank(bank.client, city), lambda city: TRUST
    )
    for shop, party in (("bakery", BAKERY), ("florist", FLORIST)):
        service.register_account(CITY, shop, party, town.clock.now)
    return service


def _payouts(town: Town) -> dict[str, tuple[str, str, int]]:
    return {q.id: (q.status, q.returned, q.amount) for q in town.payouts()}


def _advance(bank: RunningMockBank, days: int = 1) -> None:
    bank.client.advance(days=days)


def test_sales_to_payouts_to_statement_reconciled_to_zero(
    town: Town, settle: SettlementService, bank: RunningMockBank
) -> None:
    assert town.pay("alice", "bakery", 12_000).ok
    assert town.pay("bob", "bakery", 8_000).ok
    assert town.pay("alice", "florist", 5_000).ok
    bank.client.set_behaviour("SHOP-florist", "closed-account")

    instant = settle.instant(CITY, "bakery", 15_000, "key-1", town.clock.now)
    assert (instant.status, instant.total) == ("sent", 15_000)
    again = settle.instant(CITY, "bakery", 15_000, "key-1", town.clock.now)
    assert again.id == instant.id  # the same key: the same payout, no second file
    town.clock.now = kst(2026, 6, 8, 16)  # after the cut-off
    (daily,) = settle.daily(CITY, town.clock.now)
    assert daily.execution == dt.date(2026, 6, 10)  # Wed
    assert {line.owner: line.amount for line in daily.lines} == {"bakery": 5_000, "florist": 5_000}
    assert settle.daily(CITY, town.clock.now) == []  # nothing left to batch today
    data = settle.batch_file(CITY, daily.id)
    assert "행복베이커리".encode() in data and b'Ccy="KRW">5000<' in data

    polled = settle.poll(CITY, town.clock.now)
    assert polled.returned == 1  # the florist's account is closed
    status = _payouts(town)
    florist = next(k for k, v in status.items() if v[0] == PAYOUT_RETURNED)
    assert status[florist] == (PAYOUT_RETURNED, "AC04", 5_000)
    assert town.ledgers.sequencer(CITY).state.merchants["florist"].balance == 5_000

    _advance(bank, 3)  # through Wednesday's booking and its statement
    polled = settle.poll(CITY, town.clock.now)
    assert polled.statements >= 1
    assert all(v[0] == PAYOUT_PAID for k, v in _payouts(town).items() if k != florist)
    assert settle.exceptions(CITY) == []  # reconciled to zero differences
    proof = settle.prove(CITY, town.clock.now)
    assert proof.shortfall == 0 and proof.in_transit == 0
    assert proof.trust == BUDGET - 20_000  # the won paid out left the trust account
    assert proof.supply == proof.trust + proof.unbooked
    # The explorer's public figures burn what the bank booked, to the won.
    supply = Explorer(town.store).start([CITY]).supply(CITY)
    assert supply[-1].outstanding == proof.supply
    assert sum(p.burned for p in supply) == 20_000


def test_the_same_statement_twice_changes_nothing_and_an_unknown_entry_is_an_exception(
    town: Town, settle: SettlementService, bank: RunningMockBank
) -> None:
    assert town.pay("alice", "bakery", 10_000).ok
    settle.instant(CITY, "bakery", 10_000, "k", town.clock.now)
    # Won nobody told the ledger about.
    bank.client.credit(trust_account_id(CITY), 777, "UNKNOWN-REF-1", "누군가")
    _advance(bank, 1)
    statements = [m for m in bank.client.mailbox(collect=False) if "camt.053" in m.type]
    assert statements
    raw = statements[-1].body
    first = settle.import_statement(CITY, raw, town.clock.now)
    # Its entries, each matched or an exception (the budget minted before it is its opening).
    assert first.matched + first.exceptions == first.entries
    size = town.log_size()
    second = settle.import_statement(CITY, raw, town.clock.now)
    assert second == first and town.log_size() == size
    reasons = [e.reason for e in settle.exceptions(CITY)]
    assert "unknown_entry" in reasons


def test_a_pending_payout_counts_in_the_supply_until_the_bank_books_it(
    town: Town, settle: SettlementService
) -> None:
    assert town.pay("alice", "bakery", 4_000).ok
    before = settle.prove(CITY, town.clock.now)
    settle.instant(CITY, "bakery", 4_000, "k2", town.clock.now)
    after = settle.prove(CITY, town.clock.now)
    assert after.supply == before.supply and after.in_transit == 4_000
    assert [v[0] for v in _payouts(town).values()] == [PAYOUT_PENDING]


def test_won_minted_that_no_statement_shows_becomes_a_shortfall_after_a_day(
    town: Town, settle: SettlementService, bank: RunningMockBank
) -> None:
    _advance(bank, 1)
    settle.poll(CITY, town.clock.now)  # the first statement: the opening balance
    assert settle.prove(CITY, town.clock.now).shortfall == 0
    town.clock.now = kst(2026, 6, 9, 11)
    # Units minted for a budget transfer the bank never booked.
    town.official(c.Mint(id=new_id(), city=CITY, program="general", amount=50_000, won_ref="b-2"))
    proof = settle.prove(CITY, town.clock.now)
    assert (proof.unbooked, proof.shortfall) == (50_000, 0)  # a day's grace for the statement
    _advance(bank, 2)
    settle.poll(CITY, town.clock.now)  # statements that do not show it
    proof = settle.prove(CITY, town.clock.now)
    assert proof.shortfall == 50_000 and proof.ratio < 1


def test_a_city_closure_rolls_the_batch_past_it_and_the_bank_is_told(
    town: Town, settle: SettlementService, bank: RunningMockBank
) -> None:
    assert town.pay("alice", "bakery", 3_000).ok
    settle.add_closure(CITY, dt.date(2026, 6, 10), "김포시 은행 전산 점검")
    assert dt.date(2026, 6, 10) in bank.client.holidays()
    town.clock.now = kst(2026, 6, 8, 16)  # Monday after the cut-off: Wednesday is closed
    (batch,) = settle.daily(CITY, town.clock.now)
    assert batch.execution == dt.date(2026, 6, 11)
    with pytest.raises(Refused):
        settle.add_closure(CITY, dt.date(2026, 6, 13), "토요일")  # a weekend already


def test_a_booked_payout_the_bank_sends_back_is_returned_to_the_shop(
    town: Town, settle: SettlementService, bank: RunningMockBank
) -> None:
    assert town.pay("alice", "bakery", 9_000).ok
    # The bank decides on receipt: the payout's id is the command's, derived from the key.
    payout = derived_id(CITY, "settlement", "instant/bakery", "k-back")
    parameters = {"days": 1, "reason": "AC04", "end_to_end_id": payout}
    bank.client.set_behaviour(trust_account_id(CITY), "return-later", parameters)
    batch = settle.instant(CITY, "bakery", 9_000, "k-back", town.clock.now)
    assert batch.lines[0].payout == payout
    _advance(bank, 1)
    settle.poll(CITY, town.clock.now)
    assert _payouts(town)[payout][0] == PAYOUT_PAID
    _advance(bank, 3)  # the return comes a business day after the booking
    settle.poll(CITY, town.clock.now)
    assert _payouts(town)[payout] == (PAYOUT_RETURNED, "AC04", 9_000)
    assert town.ledgers.sequencer(CITY).state.merchants["bakery"].balance == 9_000
    assert settle.exceptions(CITY) == []
    proof = settle.prove(CITY, town.clock.now)
    assert proof.shortfall == 0 and proof.trust == BUDGET  # the won came back


def test_a_large_day_is_several_files_each_taken_and_reconciled(
    town: Town, settle: SettlementService, bank: RunningMockBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settlement_service, "LINES_PER_FILE", 1)
    assert town.pay("alice", "bakery", 2_000).ok
    assert town.pay("bob", "florist", 3_000).ok
    town.clock.now = kst(2026, 6, 8, 16)
    files = settle.daily(CITY, town.clock.now)
    assert [len(f.lines) for f in files] == [1, 1] and len({f.id for f in files}) == 2
    assert all(f.status == "sent" for f in files)
    _advance(bank, 3)
    settle.poll(CITY, town.clock.now)
    assert {v[0] for v in _payouts(town).values()} == {PAYOUT_PAID}
    assert settle.exceptions(CITY) == []
