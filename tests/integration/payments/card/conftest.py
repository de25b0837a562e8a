"""A city for the card tests on both stores: a real sequencer (simulated clock), the card
service over the real card tables, programs with rules, merchants active, suspended and
not yet approved, each with a terminal, and officials of two cities."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import argon2
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.adapters.sql.cards import SqlCardRepository
from localpay.adapters.sql.runner import SqlStore
from localpay.domain import commands as c
from localpay.domain.principals import Principal
from localpay.ledger.signatures import public_key_hex
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.payments.card import pins
from localpay.services.payments.card.messages import CardAnswer, CardRequest
from localpay.services.payments.card.service import CardService
from localpay.sim import gimpo
from localpay.sim.demo import SimClock
from localpay.testing.builders import policy

CITY = "gimpo"
OTHER = "yangju"
START_MS = 1_780_000_000_000
FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
#: merchant -> (category, terminal); m-shop and m-mart active, m-gone suspended, m-new pending.
MERCHANTS = {
    "m-shop": ("restaurant", "TSHOP001"),
    "m-mart": ("bakery", "TMART001"),
    "m-gone": ("restaurant", "TGONE001"),
    "m-new": ("restaurant", "TNEW0001"),
}


@dataclasses.dataclass
class World:
    cards: CardService
    ledgers: Ledgers
    store: SqlStore
    clock: SimClock
    signers: dict[str, OfficialSigner]
    maker: Principal
    checker: Principal
    auditor: Principal
    foreign: Principal  # an official of yangju
    stans: Iterator[int] = dataclasses.field(default_factory=lambda: iter(range(1, 999_999)))

    def official(self, city: str, command: c.Command) -> None:
        receipt = self.ledgers.execute(city, self.signers[city].sign(command))
        assert receipt.ok, receipt

    def credit(self, wallet: str, amount: int, program: str = "food") -> None:
        self.official(CITY, c.Mint(id=new_id(), city=CITY, program=program, amount=amount,
                                   won_ref=f"t-{new_id()[:8]}"))  # fmt: skip
        self.official(CITY, c.Credit(id=new_id(), city=CITY, program=program, wallet=wallet,
                                     amount=amount, origin="test"))  # fmt: skip

    def card_wallet(self, amount: int = 0, pin: str | None = None) -> tuple[str, str]:
        """A new card-only wallet with a card (and `amount` of "food"): (number, wallet)."""
        issued = self.cards.issue(self.maker, CITY, new_id(), pin=pin)
        if amount:
            self.credit(issued.view.wallet, amount)
        return issued.number, issued.view.wallet

    def ask(
        self,
        mti: str,
        number: str,
        amount: int = 0,
        terminal: str = "TSHOP001",
        rrn: str | None = None,
        stan: str | None = None,
        **fields: str,
    ) -> CardAnswer:
        """A request as the host hands it over (a fresh STAN and RRN unless given)."""
        n = next(self.stans)
        request = CardRequest(
            mti=mti, stan=stan or f"{n:06d}", terminal=terminal, rrn=rrn or f"{n:012d}",
            pan=number, processing=fields.pop("processing", "000000"), amount=amount,
            currency="410", **fields,
        )  # fmt: skip
        return self.cards.answer(request)

    def balance(self, wallet: str) -> int:
        return self.cards.wallet_balance(CITY, wallet).balance

    def pin_block(self, pin: str, number: str) -> str:
        return pins.pin_block(pin, number)


def _city(ledgers: Ledgers, keys: KeyStore, city: str) -> OfficialSigner:
    create_city(ledgers, city, city)
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    signer = OfficialSigner(keys, city, dict(genesis.approvals))
    programs = {
        "general": gimpo.programs(30)["general"],
        "food": policy("food", allowed_categories=["restaurant"], per_payment_cap=100_000),
    }
    for name, rules in programs.items():
        command = c.DefineProgram(id=new_id(), city=city, program=name, policy=rules)
        assert ledgers.execute(city, signer.sign(command)).ok
    # The sale's discounts come out of its budget.
    mint = c.Mint(id=new_id(), city=city, program="general", amount=1_000_000, won_ref="budget")
    assert ledgers.execute(city, signer.sign(mint)).ok
    for merchant, (category, _) in MERCHANTS.items():
        key = keys.get_or_create(city, f"merchant-{merchant}")
        steps: list[c.Command] = [
            c.RegisterMerchant(
                id=new_id(), city=city, merchant=merchant, keys=[public_key_hex(key)],
                category=category, area=gimpo.AREA_LABELS[0], annual_revenue=100_000_000,
                registration_hash=hashlib.sha256(merchant.encode()).hexdigest(),
            ),
        ]  # fmt: skip
        if merchant != "m-new":
            steps.append(c.ApproveMerchant(id=new_id(), city=city, merchant=merchant))
        if merchant == "m-gone":
            steps.append(c.SuspendMerchant(id=new_id(), city=city, merchant=merchant, reason="x"))
        for step in steps:
            assert ledgers.execute(city, signer.sign(step)).ok
    return signer


def person(city: str, role: str, name: str) -> Principal:
    return Principal(id=f"p-{city}-{name}", city=city, role=role, username=name)


@pytest.fixture
def world(store: SqlStore, keys: KeyStore) -> Iterator[World]:
    clock = SimClock(START_MS)
    ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)
    signers = {city: _city(ledgers, keys, city) for city in (CITY, OTHER)}
    cards = CardService(SqlCardRepository(store), ledgers, master_key_from_environment(),
                        clock, FAST)  # fmt: skip
    maker = person(CITY, "city_maker", "maker")
    world = World(cards, ledgers, store, clock, signers, maker,
                  person(CITY, "city_checker", "checker"), person(CITY, "city_auditor", "auditor"),
                  person(OTHER, "city_maker", "maker"))  # fmt: skip
    for merchant, (_, terminal) in MERCHANTS.items():
        cards.add_terminal(maker, CITY, terminal, merchant)
    yield world
    ledgers.close()
