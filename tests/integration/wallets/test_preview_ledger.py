"""On both stores: the wallet's "usable here" preview, read from the stored state, says
what the sequencer then does with the signed payment or gift: the same code, the same
money from the same programs, and nothing changed when it is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.ports import Store
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import Payment
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.services.wallets import activity
from localpay.services.wallets.preview import Preview, load_payment, load_transfer, load_wallet
from localpay.sim.demo import DEMO_SECRET, SimClock, derived_key, run_demo
from localpay.sim.gimpo import REVENUE_CAP

CITY = "gimpo"


@dataclass
class Town:
    ledgers: Ledgers
    clock: SimClock
    secret: bytes
    #: Two app wallets (not card wallets, which pay with their card's authorization).
    payer: str = ""
    friend: str = ""

    @property
    def store(self) -> Store:
        return self.ledgers.store

    def official(self, *commands: c.Command) -> None:
        genesis = self.ledgers.sequencer(CITY).state.genesis
        assert genesis is not None
        signer = OfficialSigner(self.ledgers.keys, CITY, dict(genesis.approvals))
        for command in commands:
            assert self.ledgers.execute(CITY, signer.sign(command)).ok, command

    def signed(self, command: c.Pay | c.Transfer) -> str:
        key = derived_key(self.secret, command.wallet)
        return self.ledgers.execute(CITY, sign_command(command, [key])).code


@pytest.fixture
def town(store_url: str, keys: KeyStore) -> Iterator[Town]:
    store = open_store(store_url)
    clock = SimClock(1_780_000_000_000)
    ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)
    run_demo(ledgers, clock, CITY, "김포시", citizens=8, merchants=3, days=1, seed=7)
    found = Town(ledgers, clock, bytes(keys.load(CITY, DEMO_SECRET)))
    apps = [
        k[2:] for k, raw in store.state(CITY) if k.startswith("w:") and b'"custodial":false' in raw
    ]
    found.payer, found.friend = sorted(apps)[:2]
    payer = found.payer
    mart = public_key_hex(nacl.signing.SigningKey.generate())
    found.official(
        c.RegisterMerchant(
            id=new_id(),
            city=CITY,
            merchant="m-mart",
            keys=[mart],
            category="large_mart",
            area="gurae-dong",
            annual_revenue=REVENUE_CAP * 10,
            registration_hash=hashlib.sha256(b"brn:mart").hexdigest(),
        ),
        c.ApproveMerchant(id=new_id(), city=CITY, merchant="m-mart"),
        c.Mint(id=new_id(), city=CITY, program="general", amount=300_000, won_ref="t"),
        c.Mint(id=new_id(), city=CITY, program="youth", amount=100_000, won_ref="t"),
        c.Credit(
            id=new_id(), city=CITY, program="general", wallet=payer, amount=300_000, origin="t"
        ),
        c.Credit(id=new_id(), city=CITY, program="youth", wallet=payer, amount=100_000, origin="t"),
    )
    yield found
    ledgers.close()
    store.close()


def _held(town: Town, wallet: str) -> dict[str, int]:
    found = load_wallet(town.store, CITY, wallet)
    assert found is not None
    held: dict[str, int] = {}
    for lot in found.lots:
        held[lot.program] = held.get(lot.program, 0) + lot.amount
    return held


def _check_payment(town: Town, merchant: str, amount: int) -> str:
    before = _held(town, town.payer)
    seen: Preview = load_payment(town.store, CITY, town.payer, merchant, amount, town.clock())
    pay = c.Pay(
        id=new_id(), city=CITY, wallet=town.payer, merchant=merchant, amount=amount, evidence=""
    )
    code = town.signed(pay)
    assert seen.code == code, (merchant, amount)
    if code != "ok":
        assert _held(town, town.payer) == before
        return code
    raw = town.store.state_value(CITY, f"x:{pay.id}")
    assert raw is not None
    drawn: dict[str, int] = {}
    for draw in msgspec.json.decode(raw, type=Payment).draws:
        drawn[draw.program] = drawn.get(draw.program, 0) + draw.amount
    assert {line.program: line.take for line in seen.lines if line.take} == drawn
    assert {line.program: line.after for line in seen.lines if line.after} == _held(
        town, town.payer
    )
    return code


def test_payment_previews_agree_with_the_sequencer(town: Town) -> None:
    shop = next(
        key[2:]
        for key, raw in town.store.state(CITY)
        if key.startswith("m:m-0") and b'"status":"active"' in raw
    )
    codes = [
        _check_payment(town, shop, 1_000),
        _check_payment(town, shop, 150_000),  # youth first (it expires first), then general
        _check_payment(town, "m-mart", 5_000),  # every program denies hypermarkets
        _check_payment(town, shop, 10_000_000),
    ]
    assert codes == ["ok", "ok", "category_denied", "insufficient_funds"]


def test_gift_previews_agree_with_the_sequencer(town: Town) -> None:
    general = _held(town, town.payer)["general"]
    for amount, expected in ((general + 1, "not_transferable"), (2_000, "ok")):
        before = (_held(town, town.payer), load_wallet(town.store, CITY, town.friend))
        seen = load_transfer(town.store, CITY, town.payer, town.friend, amount, town.clock())
        gift = c.Transfer(
            id=new_id(), city=CITY, wallet=town.payer, to=town.friend, amount=amount, evidence=""
        )
        assert seen.code == expected
        assert town.signed(gift) == expected
        if expected != "ok":
            assert (_held(town, town.payer), load_wallet(town.store, CITY, town.friend)) == before
        else:
            assert _held(town, town.payer)["general"] == general - amount
            assert [(line.program, line.take) for line in seen.lines if line.take] == [
                ("general", amount)
            ]


def test_the_wallets_lines_say_what_each_transaction_was_for_it(town: Town) -> None:
    shop = next(
        key[2:]
        for key, raw in town.store.state(CITY)
        if key.startswith("m:m-0") and b'"status":"active"' in raw
    )
    pay = c.Pay(id=new_id(), city=CITY, wallet=town.payer, merchant=shop, amount=1_500, evidence="")
    gift = c.Transfer(
        id=new_id(), city=CITY, wallet=town.payer, to=town.friend, amount=700, evidence=""
    )
    assert town.signed(pay) == "ok" and town.signed(gift) == "ok"
    paid, gave = (town.store.find_tx(CITY, command.id) for command in (pay, gift))
    assert paid is not None and gave is not None
    mine = activity.lines(town.store, CITY, town.payer, [gave, paid])
    assert [(x.kind, x.party, x.signed) for x in mine] == [
        ("gave", town.friend, -700),
        ("paid", shop, -1_500),
    ]
    assert mine[0].at_ms > 0 and all(x.ok for x in mine)
    theirs = activity.line_of(town.store, CITY, town.friend, gave)
    assert (theirs.kind, theirs.party, theirs.signed) == ("received", town.payer, 700)
    # Youth is drawn first (it expires first); the gift can only be general money.
    assert [(d.program, d.amount) for d in activity.drawn(town.store, CITY, town.payer, paid)] == [
        ("youth", 1_500)
    ]
    assert [(d.program, d.amount) for d in activity.drawn(town.store, CITY, town.payer, gave)] == [
        ("general", 700)
    ]
