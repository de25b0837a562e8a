"""Holds, captures, releases, voids and one-time codes through the real sequencer, on
SQLite and PostgreSQL: a terminal's duplicate transmission is answered from the first
receipt with no second debit; then the chain verifies from genesis (a replay gives the
stored state, holds `h:`, voids `v:` and offers `k:` included), an export imported into
a new store gives the same state, and the wallet's history words each step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.cities.verify import verify_city
from localpay.services.counter.live import live_tx
from localpay.services.history.service import parties_of
from localpay.services.portability.exporter import export_city
from localpay.services.portability.importer import import_city
from localpay.services.wallets import activity
from localpay.sim.demo import SimClock
from localpay.testing.builders import policy

CITY = "gimpo"
CARD = "ab" * 32
CODE = "ee" * 32


class Town:
    def __init__(self, store: Store, keys: KeyStore) -> None:
        self.ledgers = Ledgers(store, keys, SimClock(1_780_000_000_000), max_clock_skew_ms=None)
        assert create_city(self.ledgers, CITY, "김포시").ok
        genesis = self.ledgers.sequencer(CITY).state.genesis
        assert genesis is not None
        self.signer = OfficialSigner(self.ledgers.keys, CITY, dict(genesis.approvals))
        self.keys: dict[str, nacl.signing.SigningKey] = {}

    def official(self, command: c.Command) -> Receipt:
        return self.ledgers.execute(CITY, self.signer.sign(command))

    def by(self, who: str, command: c.Command) -> Receipt:
        return self.ledgers.execute(CITY, sign_command(command, [self.keys[who]]))

    def ok(self, receipt: Receipt) -> Receipt:
        assert receipt.ok, receipt.code
        return receipt

    def set_up(self) -> None:
        rules = policy("김포페이")
        self.ok(
            self.official(c.DefineProgram(id=new_id(), city=CITY, program="general", policy=rules))
        )
        mint = c.Mint(id=new_id(), city=CITY, program="general", amount=10**6, won_ref="trust")
        self.ok(self.official(mint))
        for who in ("alice", "bakery", "card"):
            self.keys[who] = nacl.signing.SigningKey.generate()
        opening = c.OpenWallet(
            id=new_id(), city=CITY, wallet="alice", keys=[self.hex("alice")], custodial=False
        )
        self.ok(self.by("alice", opening))
        shop = c.RegisterMerchant(
            id=new_id(),
            city=CITY,
            merchant="bakery",
            keys=[self.hex("bakery")],
            category="bakery",
            area="gurae",
            annual_revenue=10**8,
            registration_hash="ab" * 32,
        )
        self.ok(self.official(shop))
        self.ok(self.official(c.ApproveMerchant(id=new_id(), city=CITY, merchant="bakery")))
        credit = c.Credit(
            id=new_id(), city=CITY, program="general", wallet="alice", amount=100_000, origin="p"
        )
        self.ok(self.official(credit))
        bind = c.BindCard(
            id=new_id(), city=CITY, wallet="alice", card=CARD, key=self.hex("card"), active=True
        )
        self.ok(self.by("alice", bind))

    def hex(self, who: str) -> str:
        return public_key_hex(self.keys[who])

    def card_hold(self, amount: int, rrn: str, capture: bool = False) -> c.Hold:
        return c.Hold(
            id=new_id(),
            city=CITY,
            wallet="alice",
            merchant="bakery",
            amount=amount,
            card=CARD,
            terminal="T0000001",
            stan=rrn[-6:],
            rrn=rrn,
            capture=capture,
        )

    def balance(self) -> int:
        return self.ledgers.sequencer(CITY).state.wallets["alice"].balance()

    def channels(self) -> None:
        # A card authorization, then its completion for less: the rest comes back.
        auth = self.card_hold(30_000, "000000000001")
        self.ok(self.by("card", auth))
        again = self.by("card", auth)  # the terminal's duplicate transmission
        assert again.duplicate and again.ok and self.balance() == 70_000
        capture = c.Capture(
            id=new_id(), city=CITY, hold=auth.id, wallet="alice", merchant="bakery", amount=25_000
        )
        self.ok(self.by("card", capture))
        assert self.balance() == 75_000
        # A card purchase reversed (the terminal never got the answer).
        purchase = self.card_hold(10_000, "000000000002", capture=True)
        self.ok(self.by("card", purchase))
        reverse = c.Release(
            id=new_id(), city=CITY, hold=purchase.id, wallet="alice", merchant="bakery"
        )
        self.ok(self.by("card", reverse))
        # A reversal that overtook its original: the original is void when it comes.
        lost = self.card_hold(5_000, "000000000003")
        void = c.Release(id=new_id(), city=CITY, hold=lost.id, wallet="alice", merchant="bakery")
        self.ok(self.by("card", void))
        assert self.by("card", lost).code == Code.HOLD_VOIDED
        # An online checkout approved by the citizen, captured in part, refunded in part.
        checkout = c.Hold(
            id=new_id(),
            city=CITY,
            wallet="alice",
            merchant="bakery",
            amount=20_000,
            intent="intent-1",
            order="order-1",
        )
        self.ok(self.by("alice", checkout))
        part = c.Capture(
            id=new_id(),
            city=CITY,
            hold=checkout.id,
            wallet="alice",
            merchant="bakery",
            amount=15_000,
        )
        self.ok(self.by("bakery", part))
        refund = c.Refund(
            id=new_id(), city=CITY, merchant="bakery", payment=checkout.id, amount=5_000
        )
        self.ok(self.by("bakery", refund))
        # A customer-presented code claimed once.
        self.ok(
            self.by(
                "alice", c.PresentCode(id=new_id(), city=CITY, wallet="alice", code=CODE, cap=9_000)
            )
        )
        claim = c.ClaimCode(
            id=new_id(), city=CITY, code=CODE, wallet="alice", merchant="bakery", amount=8_000
        )
        self.ok(self.by("bakery", claim))
        twice = msgspec.structs.replace(claim, id=new_id())
        assert self.by("bakery", twice).code == Code.CODE_USED
        assert self.balance() == 100_000 - 25_000 - 10_000 - 8_000
        state = self.ledgers.sequencer(CITY).state
        assert state.check_invariants() == []


@pytest.fixture(params=["sqlite", "postgres"])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make(), make()


def test_holds_replay_from_genesis_move_between_stores_and_read_as_history(
    two_urls: tuple[str, str], keys: KeyStore, tmp_path: Path
) -> None:
    source_url, target_url = two_urls
    store = open_store(source_url)
    try:
        town = Town(store, keys)
        town.set_up()
        town.channels()
        town.ledgers.close()
    finally:
        store.close()
    source, target = open_store(source_url), open_store(target_url)
    try:
        report = verify_city(source, CITY)
        assert report.ok, report.problems
        kinds = {key[:2] for key, _ in source.state(CITY)}
        assert {"h:", "v:", "k:"} <= kinds
        assert _history(source) == [
            ("card_linked", "", 0),
            ("held", "bakery", -30_000),
            ("captured", "bakery", 5_000),
            ("paid", "bakery", -10_000),
            ("released", "bakery", 10_000),
            ("voided", "bakery", 0),
            ("held", "bakery", -20_000),
            ("captured", "bakery", 5_000),
            ("refunded", "bakery", 5_000),
            ("code_shown", "", 0),
            ("paid", "bakery", -8_000),
        ]
        assert _counter_lines(source) == [
            ("pay", 25_000, "capture"),
            ("pay", 10_000, "hold"),
            ("pay", 15_000, "capture"),
            ("refund", 5_000, "refund"),
            ("pay", 8_000, "claim_code"),
        ]
        archive = tmp_path / "city.archive"
        export_city(source, CITY, archive)
        import_city(target, archive)
        assert sorted(target.state(CITY)) == sorted(source.state(CITY))
        assert verify_city(target, CITY).ok
    finally:
        source.close()
        target.close()


def _counter_lines(store: Store) -> list[tuple[str, int, str]]:
    """What the shop's counter lists: every channel's payment once captured (a hold not
    captured yet paid the shop nothing), and refunds."""
    found = []
    for tx in store.txs(CITY):
        event = live_tx(tx, 0, "bakery")
        if event is not None:
            found.append((event.kind, event.amount, tx.kind))
    return found


def _history(store: Store) -> list[tuple[str, str, int]]:
    """Alice's applied lines past the credit, as the wallet's history words them."""
    txs = [tx for tx in store.txs(CITY) if "alice" in parties_of(store, CITY, tx)]
    lines = [line for line in activity.lines(store, CITY, "alice", txs) if line.ok]
    return [(line.kind, line.party, line.signed) for line in lines][2:]
