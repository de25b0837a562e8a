"""The customer-presented code through the real ledger, on SQLite and PostgreSQL: the
wallet presents a code's hash with a cap, a shop captures an amount with the digits
(services/payments/qr/code_claims.claim, signed with the merchant's custodial key from the
key store) exactly once, before it expires, up to the cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.limits import CODE_MS_MAX
from localpay.domain.principals import Principal
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.inspect import merchant_view, wallet_view
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.counter.live import live_tx
from localpay.services.payments.qr import code_claims
from localpay.services.payments.qr.codes import CodeMalformed, code_hash
from localpay.testing.builders import policy

CITY = "codeville"
START_MS = 1_780_000_000_000
DIGITS = "40213377008912345678"
OTHER_DIGITS = "99990000111122223333"


@dataclass
class Clock:
    now: int = START_MS

    def __call__(self) -> int:
        return self.now


@dataclass
class Town:
    store: Store
    keys: KeyStore
    clock: Clock
    ledgers: Ledgers
    wallet: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)

    def run(self, command: c.Command, key: nacl.signing.SigningKey | None = None) -> Receipt:
        if key is None:
            genesis = self.ledgers.sequencer(CITY).state.genesis
            assert genesis is not None
            data = OfficialSigner(self.keys, CITY, dict(genesis.approvals)).sign(command)
        else:
            data = sign_command(command, [key])
        return self.ledgers.execute(CITY, data)

    def present(self, digits: str = DIGITS, cap: int = 50_000) -> Receipt:
        code = c.PresentCode(
            id=new_id(), city=CITY, wallet="w-ann", code=code_hash(CITY, digits), cap=cap
        )
        return self.run(code, self.wallet)

    def claim(self, digits: str, amount: int, key: str, merchant: str = "m-cafe") -> Receipt:
        staff = Principal(
            id=f"pr-{merchant}", city=CITY, role="merchant_cashier", merchant=merchant
        )
        return code_claims.claim(self.ledgers, staff, merchant, digits, amount, key)

    def wallet_balance(self) -> int:
        return wallet_view(self.store, CITY, "w-ann").balance

    def shop_balance(self, merchant: str = "m-cafe") -> int:
        return merchant_view(self.store, CITY, merchant).balance


def _merchant(town: Town, merchant: str) -> list[tuple[c.Command, nacl.signing.SigningKey | None]]:
    # The server's custodial key, kept in the key store as the counter's refunds use it.
    key = town.keys.create(CITY, f"merchant-{merchant}")
    register = c.RegisterMerchant(
        id=new_id(),
        city=CITY,
        merchant=merchant,
        keys=[public_key_hex(key)],
        category="cafe",
        area="gurae",
        annual_revenue=1,
        registration_hash="0" * 64,
    )
    return [(register, None), (c.ApproveMerchant(id=new_id(), city=CITY, merchant=merchant), None)]


@pytest.fixture
def town(store_url: str, keys: KeyStore) -> Iterator[Town]:
    store = open_store(store_url)
    clock = Clock()
    built = Town(store, keys, clock, Ledgers(store, keys, clock, max_clock_skew_ms=None))
    assert create_city(built.ledgers, CITY, "Codeville").ok
    wallet = c.OpenWallet(
        id=new_id(), city=CITY, wallet="w-ann", keys=[public_key_hex(built.wallet)], custodial=False
    )
    setup: list[tuple[c.Command, nacl.signing.SigningKey | None]] = [
        (
            c.DefineProgram(id=new_id(), city=CITY, program="general", policy=policy("general")),
            None,
        ),
        (c.Mint(id=new_id(), city=CITY, program="general", amount=1_000_000, won_ref="t"), None),
        (wallet, built.wallet),
        *_merchant(built, "m-cafe"),
        *_merchant(built, "m-deli"),
        (
            c.Credit(
                id=new_id(), city=CITY, program="general", wallet="w-ann", amount=30_000, origin="t"
            ),
            None,
        ),
    ]
    for command, key in setup:
        assert built.run(command, key).ok, command
    yield built
    built.ledgers.close()
    store.close()


def test_a_code_is_captured_once_and_never_twice(town: Town) -> None:
    assert town.present().ok
    paid = town.claim(DIGITS, 7_000, "key-1")
    assert paid.ok, paid.code
    assert (town.wallet_balance(), town.shop_balance()) == (23_000, 7_000)
    # The same shop again with a new request, and another shop with the same digits.
    again = town.claim(DIGITS, 7_000, "key-2")
    assert again.code == Code.CODE_USED
    elsewhere = town.claim(DIGITS, 1_000, "key-3", merchant="m-deli")
    assert elsewhere.code == Code.CODE_USED
    assert (town.wallet_balance(), town.shop_balance(), town.shop_balance("m-deli")) == (
        23_000,
        7_000,
        0,
    )
    seen = code_claims.status(town.store, CITY, code_hash(CITY, DIGITS), town.clock())
    assert (seen.state, seen.payment, seen.merchant, seen.amount) == (
        code_claims.USED,
        paid.id,
        "m-cafe",
        7_000,
    )


def test_a_double_submit_is_one_command_with_one_answer(town: Town) -> None:
    assert town.present().ok
    first = town.claim(DIGITS, 5_000, "form-key")
    second = town.claim(DIGITS, 5_000, "form-key")
    assert first.ok and second.ok
    assert second.id == first.id and second.duplicate
    assert town.shop_balance() == 5_000


def test_a_code_expires_three_minutes_after_it_was_presented(town: Town) -> None:
    assert town.present().ok
    assert town.present(OTHER_DIGITS).ok
    code = code_hash(CITY, DIGITS)
    town.clock.now += CODE_MS_MAX - 1  # the last millisecond: still good
    assert code_claims.status(town.store, CITY, code, town.clock()).left_ms == 1
    assert town.claim(OTHER_DIGITS, 1_000, "in-time").ok
    town.clock.now += 1
    late = town.claim(DIGITS, 1_000, "late")
    assert late.code == Code.CODE_EXPIRED
    assert code_claims.status(town.store, CITY, code, town.clock()).state == code_claims.EXPIRED
    assert town.wallet_balance() == 29_000  # only the one in time was paid


def test_over_the_cap_is_refused_and_the_code_still_pays_a_smaller_amount(town: Town) -> None:
    assert town.present(cap=10_000).ok
    over = town.claim(DIGITS, 10_001, "first-try")
    assert over.code == Code.CODE_CAP_EXCEEDED
    assert town.shop_balance() == 0
    # A new request (the counter's form renders a new key after a refusal) may try again.
    assert town.claim(DIGITS, 10_000, "second-try").ok
    assert town.shop_balance() == 10_000


def test_a_cap_above_the_balance_still_pays_only_what_is_there(town: Town) -> None:
    assert town.present(cap=50_000).ok
    short = town.claim(DIGITS, 40_000, "too-much")
    assert short.code == Code.INSUFFICIENT_FUNDS
    assert town.claim(DIGITS, 30_000, "all").ok
    assert town.wallet_balance() == 0


def test_the_same_code_cannot_be_presented_twice(town: Town) -> None:
    assert town.present().ok
    assert town.present().code == Code.CODE_USED


def test_digits_nobody_presented_send_nothing_to_the_ledger(town: Town) -> None:
    head = town.store.head(CITY)
    with pytest.raises(code_claims.CodeNotFound):
        town.claim(OTHER_DIGITS, 1_000, "unknown")
    with pytest.raises(CodeMalformed):
        town.claim("1234", 1_000, "short")
    after = town.store.head(CITY)
    assert head is not None and after is not None and after.height == head.height


def test_staff_of_another_shop_cannot_capture_for_this_one(town: Town) -> None:
    assert town.present().ok
    deli = Principal(id="pr-deli", city=CITY, role="merchant_owner", merchant="m-deli")
    with pytest.raises(code_claims.NotStaff):
        code_claims.claim(town.ledgers, deli, "m-cafe", DIGITS, 1_000, "k")
    assert town.shop_balance() == 0


def test_the_state_of_an_open_code_counts_down_by_the_clock(town: Town) -> None:
    assert town.present(cap=12_000).ok
    code = code_hash(CITY, DIGITS)
    town.clock.now += 60_000
    seen = code_claims.status(town.store, CITY, code, town.clock())
    assert (seen.wallet, seen.cap, seen.state, seen.left_ms) == (
        "w-ann",
        12_000,
        code_claims.OPEN,
        CODE_MS_MAX - 60_000,
    )
    with pytest.raises(code_claims.CodeNotFound):
        code_claims.status(town.store, CITY, code_hash(CITY, OTHER_DIGITS), town.clock())


def test_a_capture_is_a_payment_on_the_shop_s_counter_and_nobody_else_s(town: Town) -> None:
    assert town.present().ok
    paid = town.claim(DIGITS, 6_000, "k")
    tx = town.store.find_tx(CITY, paid.id)
    assert tx is not None
    event = live_tx(tx, 0, "m-cafe")
    assert event is not None
    assert (event.kind, event.amount, event.payment) == ("pay", 6_000, paid.id)
    assert live_tx(tx, 0, "m-deli") is None
    refused = town.claim(DIGITS, 6_000, "again")  # code_used: on the chain, not a payment
    again = town.store.find_tx(CITY, refused.id)
    assert again is not None and live_tx(again, 0, "m-cafe") is None
