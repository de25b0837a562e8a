"""The demo's card-only wallets carry real prepaid cards (sim/demo.py): issued through the
card service, bound on the chain, paying at the shops' terminals with card purchases
(`hold` captured at once, signed by the card's key), never an opaque evidence string;
and the try card `make run` prints is the same card on a later run. Both stores."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.cards import SqlCardRepository
from localpay.adapters.sql.runner import SqlStore
from localpay.domain import commands as c
from localpay.ledger.results import Result
from localpay.ledger.state import Wallet
from localpay.services.cities.ledgers import Ledgers
from localpay.services.payments.card import numbers
from localpay.services.payments.card.ports import CardRecord
from localpay.services.payments.card.service import SECRET_KEY_NAME
from localpay.sim.demo import (
    TRY_CARD_PIN,
    DemoReport,
    SimClock,
    card_service,
    demo_counter,
    run_demo,
    terminal_id,
    try_card,
)

CITY = "gimpo"


@dataclass
class Seeded:
    store: SqlStore
    keys: KeyStore
    report: DemoReport


def _demo(store: SqlStore, keys: KeyStore) -> DemoReport:
    clock = SimClock(1_780_000_000_000)
    ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)  # simulated days
    try:
        return run_demo(ledgers, clock, CITY, "김포시", citizens=80, merchants=6, days=3, seed=11)
    finally:
        ledgers.close()


@pytest.fixture
def seeded(store: SqlStore, keys: KeyStore) -> Iterator[Seeded]:
    yield Seeded(store, keys, _demo(store, keys))


def _wallets(store: SqlStore) -> dict[str, Wallet]:
    return {
        key[2:]: msgspec.json.decode(raw, type=Wallet)
        for key, raw in store.state(CITY)
        if key.startswith("w:")
    }


def _txs(store: SqlStore) -> list[tuple[str, c.Command, str]]:
    """(kind, command, result code) of every transaction of the city."""
    found = []
    for tx in store.txs(CITY):
        _, command = c.decode_envelope(tx.envelope)
        found.append((tx.kind, command, msgspec.json.decode(tx.result, type=Result).code))
    return found


def test_every_card_only_wallet_has_a_card_bound_on_the_chain(seeded: Seeded) -> None:
    repo = SqlCardRepository(seeded.store)
    secret = bytes(seeded.keys.load(CITY, SECRET_KEY_NAME))
    card_wallets = {w: x for w, x in _wallets(seeded.store).items() if x.custodial}
    assert len(card_wallets) >= 5, "the seed should make card-only wallets"
    for wallet, held in card_wallets.items():
        (row,) = repo.cards_of(CITY, wallet)
        card = CardRecord.of(row)
        number = seeded.keys.master.open(card.sealed, _context(card.card)).decode()
        assert numbers.in_range(number, "941001") and number[-4:] == card.last4
        # The chain knows the card by its HMAC only, bound to the card's own key.
        assert (
            card.card
            == hmac.new(
                b"localpay/card-id/v1\n" + secret, number.encode(), hashlib.sha256
            ).hexdigest()
        )
        assert list(held.cards) == [card.card]
        assert number.encode() not in b"".join(bytes(v) for _, v in seeded.store.state(CITY))
    assert seeded.report.outcomes["bind_card:ok"] == len(card_wallets) - 1  # the try card's own


def _context(card: str) -> bytes:
    return f"localpay/card-number/v1\n{CITY}\n{card}".encode()


def test_card_wallets_pay_by_card_purchases_never_by_evidence(seeded: Seeded) -> None:
    custodial = {w for w, x in _wallets(seeded.store).items() if x.custodial}
    txs = _txs(seeded.store)
    pays = [cmd for kind, cmd, _ in txs if isinstance(cmd, c.Pay)]
    assert pays and not [p for p in pays if p.wallet in custodial]
    assert not [cmd for _, cmd, _ in txs if getattr(cmd, "evidence", "")]
    holds = [(cmd, code) for _, cmd, code in txs if isinstance(cmd, c.Hold)]
    assert holds and {cmd.wallet for cmd, _ in holds} <= custodial
    for hold, _ in holds:
        merchant_number = int(hold.merchant.removeprefix("m-"))
        assert hold.capture and len(hold.card) == 64
        assert hold.terminal == terminal_id(CITY, merchant_number)
        assert len(hold.stan) == 6 and hold.rrn.endswith(hold.stan) and len(hold.rrn) == 12
    captured = [h for h, code in holds if code == "ok"]
    assert captured
    for hold in captured:
        raw = seeded.store.state_value(CITY, f"h:{hold.id}")
        assert raw is not None and b'"status":"captured"' in raw


def test_every_merchant_has_a_terminal(seeded: Seeded) -> None:
    rows = SqlCardRepository(seeded.store).terminals(CITY, None)
    assert sorted((r[0], r[2]) for r in rows) == [
        (terminal_id(CITY, n), f"m-{n:05d}") for n in range(6)
    ]


def test_the_try_card_has_a_pin_money_and_stays_the_same_card(seeded: Seeded) -> None:
    first = try_card(seeded.store, seeded.keys.master, CITY)
    assert first is not None and first.pin == TRY_CARD_PIN and not first.pin_locked
    assert numbers.in_range(first.number, "941001")
    wallet = _wallets(seeded.store)[first.wallet]
    assert wallet.custodial and wallet.balance() >= 50_000  # the counter's cash top-up
    # A later run of the demo issues no second try card and tops it up no second time.
    _demo(seeded.store, seeded.keys)
    again = try_card(seeded.store, seeded.keys.master, CITY)
    assert again == first
    assert _wallets(seeded.store)[first.wallet].balance() == wallet.balance()


def test_the_counter_serves_a_demo_card_wallet(seeded: Seeded) -> None:
    """The demo's card wallets are the counter's like any card-only wallet: their keys are
    in the key store, so an official tops one up and reports its card lost (unbound)."""
    wallet, held = next((w, x) for w, x in _wallets(seeded.store).items() if x.custodial)
    (card,) = held.cards
    clock = SimClock(1_780_000_000_000 + 10 * 86_400_000)
    ledgers = Ledgers(seeded.store, seeded.keys, clock, max_clock_skew_ms=None)
    try:
        cards = card_service(ledgers, clock)
        official = demo_counter(CITY)
        topped = cards.top_up(official, CITY, wallet, "general", 10_000, "counter-test")
        assert topped.balance.balance >= held.balance() + 10_000
        assert cards.mark(official, CITY, card, "lost").status == "lost"
    finally:
        ledgers.close()
    assert _wallets(seeded.store)[wallet].cards == {}
