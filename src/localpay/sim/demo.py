"""Seed and simulate a Gimpo-like city: the numbers behind `localpay demo`.

Every command goes through the real sequencer, signed by the real keys: the
citizens' and merchants' keys are derived from one demo secret kept in the key
store, so later runs (and the demo web apps) can act as them again. Time is
simulated: the run covers the `days` days before now (or after the chain's last
block, whichever is later), so block times stay non-decreasing.

Card-only wallets (citizens without a phone, in the old towns) get real prepaid cards
through the card service (services/payments/card): a number in the city's BIN, its row
sealed in the store, the card bound on the chain; every merchant gets a terminal, and a
card wallet's payments are the card purchases a terminal's 0200 makes (`hold` with
`capture`, signed by the card's key, terminal, STAN and RRN bound in). Their custodial
keys are in the key store, as the counter's keys are, so the console can top them up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, TypeVar, cast

import msgspec
import nacl.signing

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import Sealer
from localpay.adapters.sql.cards import SqlCardRepository
from localpay.adapters.sql.runner import SqlRunner, SqlStore
from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, KST
from localpay.domain.principals import Principal
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import MERCHANT_ACTIVE, Merchant
from localpay.services.approvals.service import new_merchant_key
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import (
    CityExists,
    OfficialSigner,
    create_city,
    current_operator,
)
from localpay.services.directory.service import Directory
from localpay.services.identity.service import Identity, IdentityError
from localpay.services.payments.card import authorize, pins
from localpay.services.payments.card.errors import TerminalTaken
from localpay.services.payments.card.ports import ACTIVE, CardRecord, TerminalRecord
from localpay.services.payments.card.service import (
    CardService,
    card_only_wallet,
    seal_context,
    wallet_key_name,
)
from localpay.sim import gimpo

DEMO_SECRET: Final = "demo-secret"  # noqa: S105 (a key file name, not a secret)
#: Payments per citizen per day (Gimpo Pay: ~146k users, a few payments a week).
PAYMENTS_PER_CITIZEN_DAY: Final = 0.4
PURCHASE_RATE: Final = 0.03
#: What a buyer orders at once (won): within the month's limit for a few buys.
PURCHASE_AMOUNTS: Final = (100_000, 200_000, 300_000)
#: The general sale's discount budget minted at the start (won): 5,000 buyers' worth of
#: 10,000 won discounts, so the buy page has a budget to show after the demo's days.
DISCOUNT_BUDGET: Final = 50_000_000
REFUND_RATE: Final = 0.01
GIFT_RATE: Final = 0.003
CARD_SHARE_OLD_TOWNS: Final = 0.6
#: The demo card printed by `make run` to try a terminal with: its issue's idempotency
#: key (so a later run finds the same card), PIN and the cash it is topped up with.
TRY_CARD_KEY: Final = "demo-try-card"
TRY_CARD_PIN: Final = "1234"
TRY_CARD_TOP_UP: Final = 50_000
#: Merchants numbered up to this get a terminal (the id has five digits for the number).
TERMINALS_MAX: Final = 99_999

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
#: Threads that write the card wallets' key files (each write waits for its fsync).
FILE_WORKERS: Final = 8


@dataclass
class SimClock:
    now_ms: int

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class DemoReport:
    city: str
    citizens: int
    merchants: int
    days: int
    outcomes: Counter[str] = field(default_factory=Counter)

    def count(self, kind: str, receipts: Iterable[Receipt]) -> list[Receipt]:
        done = list(receipts)
        for r in done:
            self.outcomes[f"{kind}:{r.code}"] += 1
        return done


#: The demo city's witnesses: (key file name, name on the chain and on cosignatures): the
#: city's audit office, the trust bank, a civic group.
DEMO_WITNESSES: Final = (
    ("witness-audit", "audit.gimpo.example"),
    ("witness-bank", "trustbank.gimpo.example"),
    ("witness-civic", "civic.gimpo.example"),
)


def derived_key(secret: bytes, account: str) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(hashlib.sha256(secret + account.encode()).digest())


def demo_counter(city: str) -> Principal:
    """The official at the demo's counter, who issues the demo's cards (no sign-in)."""
    return Principal(id="demo-counter", city=city, role="city_maker", username="demo-counter")


def terminal_id(city: str, merchant_number: int) -> str:
    """A demo merchant's terminal (field 41, 8 characters, unique across the installation):
    three letters of the city and the merchant's number, e.g. GIM00042."""
    letters = "".join(ch for ch in city.upper() if ch.isascii() and ch.isalnum())
    return f"{letters[:3].ljust(3, 'X')}{merchant_number:05d}"


def card_service(ledgers: Ledgers, clock: Callable[[], int]) -> CardService:
    """The card service over the demo's store and keys, as bootstrap.Container makes it
    (the demo's stores are the SQL ones, SQLite or PostgreSQL)."""
    store = cast(SqlRunner, ledgers.store)
    master = cast(KeyStore, ledgers.keys).master
    return CardService(SqlCardRepository(store), ledgers, master, clock)


def reference(now_ms: int, n: int) -> tuple[str, str]:
    """A terminal's n-th message of the day: STAN (6 digits) and RRN (12: the year's last
    digit, the day of the year and the hour, then the STAN), as terminals number them."""
    at = dt.datetime.fromtimestamp(now_ms / 1000, KST)
    stan = f"{n % 1_000_000:06d}"
    return stan, f"{at:%y}"[1] + f"{at:%j%H}" + stan


class Simulation:
    def __init__(self, ledgers: Ledgers, clock: SimClock, city: str, seed: int) -> None:
        self.ledgers = ledgers
        self.clock = clock
        self.city = city
        self.rng = random.Random(seed)  # noqa: S311 (simulation, not security)
        self.secret = bytes(ledgers.keys.get_or_create(city, DEMO_SECRET))
        self.wallets: list[tuple[str, str]] = []  # (wallet id, area)
        self.merchants: list[tuple[str, str, str]] = []  # (merchant id, category, area)
        self.balances: dict[str, int] = {}
        self.signer: OfficialSigner | None = None
        self.sale_budget_minted = False
        self.cards = card_service(ledgers, clock)
        self.counter = demo_counter(city)
        self.held: dict[str, nacl.signing.SigningKey] = {}  # card wallets' custodial keys
        self.card_of: dict[str, CardRecord] = {}  # wallet -> its card
        self.terminal_of: dict[str, TerminalRecord] = {}  # merchant -> its terminal

    # -- helpers ------------------------------------------------------------------------

    def key(self, account: str) -> nacl.signing.SigningKey:
        """A citizen's key: on a real phone it never leaves the device; here it is derived.
        A card-only wallet's is the city's custodial key, in the key store."""
        return self.held.get(account) or derived_key(self.secret, account)

    def merchant_key(self, merchant: str) -> nacl.signing.SigningKey:
        # Merchants' staff sign in with passwords, so the server holds their keys.
        return new_merchant_key(self.ledgers, self.city, merchant)

    def run(self, kind: str, items: list[bytes], report: DemoReport) -> list[Receipt]:
        return report.count(kind, self.ledgers.execute_many(self.city, items, timeout=120))

    def run_kinds(self, kinds: list[str], items: list[bytes], report: DemoReport) -> list[Receipt]:
        """One batch of commands of several kinds (the day's payments: app and card)."""
        receipts = self.ledgers.execute_many(self.city, items, timeout=120)
        for kind, receipt in zip(kinds, receipts, strict=True):
            report.count(kind, [receipt])
        return receipts

    def official(self, command: c.Command) -> bytes:
        assert self.signer is not None
        return self.signer.sign(command)

    # -- set-up -------------------------------------------------------------------------

    def ensure_city(self, name: str) -> None:
        with contextlib.suppress(CityExists):
            create_city(self.ledgers, self.city, name)
        genesis = self.ledgers.sequencer(self.city).state.genesis
        assert genesis is not None
        self.signer = OfficialSigner(self.ledgers.keys, self.city, dict(genesis.approvals))

    def appoint_witnesses(self, report: DemoReport) -> None:
        """The demo city's witnesses (DEMO_WITNESSES, quorum 2), set on the chain by two
        officials, once. Their keys are in the city's key folder so that `make run` can
        show a witness at work; a real witness makes its own (`localpay witness-key new`)
        and gives the city only the public key."""
        state = self.ledgers.sequencer(self.city).state
        if state.authorities.witnesses:
            return
        command = c.SetWitnesses(
            id=new_id(),
            city=self.city,
            witnesses=[
                c.Witness(
                    name=name,
                    key=public_key_hex(self.ledgers.keys.get_or_create(self.city, key_name)),
                )
                for key_name, name in DEMO_WITNESSES
            ],
            quorum=2,
        )
        self.run("set_witnesses", [self.official(command)], report)

    def define_programs(self, days: int, report: DemoReport) -> None:
        items = [
            self.official(c.DefineProgram(id=new_id(), city=self.city, program=p, policy=policy))
            for p, policy in gimpo.programs(days).items()
        ]
        self.run("define_program", items, report)

    def open_wallets(self, count: int, report: DemoReport) -> None:
        state = self.ledgers.sequencer(self.city).state
        start = len(state.wallets)
        areas = [a[0] for a in gimpo.AREAS]
        weights = [a[2] for a in gimpo.AREAS]
        card_towns = {a[0] for a in gimpo.AREAS if a[3]}
        chosen = []
        for n in range(start, start + count):
            area = self.rng.choices(areas, weights)[0]
            custodial = area in card_towns and self.rng.random() < CARD_SHARE_OLD_TOWNS
            chosen.append((f"w-{n:07d}", area, custodial))
        card_wallets = [w for w, _, custodial in chosen if custodial]
        # The counter's keys for citizens without a phone, in the key store (a file each).
        keys = self.in_parallel(self.custodial_key, card_wallets)
        self.held.update(zip(card_wallets, keys, strict=True))
        items = []
        for wallet, area, custodial in chosen:
            key = self.key(wallet)
            cmd = c.OpenWallet(
                id=new_id(),
                city=self.city,
                wallet=wallet,
                keys=[public_key_hex(key)],
                custodial=custodial,
            )
            items.append(sign_command(cmd, [key]))
            self.wallets.append((wallet, area))
        opened = self.run("open_wallet", items, report)
        ok = {w for (w, _), r in zip(self.wallets[-count:], opened, strict=True) if r.ok}
        self.issue_cards([w for w in card_wallets if w in ok], report)

    def custodial_key(self, wallet: str) -> nacl.signing.SigningKey:
        """The counter's key for a citizen without a phone, in the key store. In the demo
        it is the wallet's derived key (as every demo key is), so tests and tools that act
        as a demo citizen sign for card-only wallets the same way."""
        derived = derived_key(self.secret, wallet)
        return self.ledgers.keys.put(self.city, wallet_key_name(wallet), derived)

    @staticmethod
    def in_parallel(work: Callable[[str], T], items: list[str]) -> list[T]:
        """`work` on each item, in threads: each writes and syncs a key file (the card
        service is safe to call from several threads, as the card host does)."""
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
            return list(pool.map(work, items))

    def issue_cards(self, wallets: list[str], report: DemoReport) -> None:
        """A prepaid card for each card-only wallet, issued at the demo's counter: its row
        (number sealed) and key recorded by the card service, the binds run as one batch."""
        prepared = self.in_parallel(
            lambda w: self.cards.prepare(self.counter, self.city, f"demo:{w}", w), wallets
        )
        binds = [step.envelope for p in prepared for step in p.steps]
        self.run("bind_card", binds, report)
        for p in prepared:
            self.card_of[p.record.wallet] = p.record

    def register_merchants(self, count: int, report: DemoReport) -> None:
        state = self.ledgers.sequencer(self.city).state
        start = len(state.merchants)
        cats = [x[0] for x in gimpo.LOCAL_CATEGORIES]
        weights = [x[1] for x in gimpo.LOCAL_CATEGORIES]
        registered, approvals = [], []
        for n in range(start, start + count):
            merchant = f"m-{n:05d}"
            excluded = self.rng.random() < gimpo.EXCLUDED_SHARE
            category = (
                self.rng.choice(gimpo.EXCLUDED_CATEGORIES)
                if excluded
                else self.rng.choices(cats, weights)[0]
            )
            revenue = int(self.rng.lognormvariate(math.log(300_000_000), 0.8))
            area = self.rng.choice(gimpo.AREA_LABELS)
            registered.append(
                self.official(
                    c.RegisterMerchant(
                        id=new_id(),
                        city=self.city,
                        merchant=merchant,
                        keys=[public_key_hex(self.merchant_key(merchant))],
                        category=category,
                        area=area,
                        annual_revenue=revenue,
                        registration_hash=hashlib.sha256(f"brn:{merchant}".encode()).hexdigest(),
                    )
                )
            )
            approvals.append(
                self.official(c.ApproveMerchant(id=new_id(), city=self.city, merchant=merchant))
            )
            self.merchants.append((merchant, category, area))
        self.run("register_merchant", registered, report)
        self.run("approve_merchant", approvals, report)
        self.add_terminals(range(start, start + count))

    def add_terminals(self, numbers: range) -> None:
        """A card terminal for each merchant (numbered up to TERMINALS_MAX), registered at
        the demo's counter; an id another city's demo took is left out."""
        for n in numbers:
            if n > TERMINALS_MAX:
                break
            merchant = f"m-{n:05d}"
            try:
                added = self.cards.add_terminal(
                    self.counter, self.city, terminal_id(self.city, n), merchant
                )
            except TerminalTaken:
                continue
            self.terminal_of[merchant] = TerminalRecord(
                added.terminal, self.city, merchant, self.counter.id, added.added_ms
            )

    # -- money in ----------------------------------------------------------------------------

    def credit(
        self, program: str, grants: list[tuple[str, int]], origin: str, report: DemoReport
    ) -> None:
        """Mint a program's budget against won received, then pay it out to wallets."""
        if not grants:
            return
        total = sum(amount for _, amount in grants)
        ref = f"trust:{program}:{new_id()[:12]}"
        self.run(
            "mint",
            [
                self.official(
                    c.Mint(id=new_id(), city=self.city, program=program, amount=total, won_ref=ref)
                )
            ],
            report,
        )
        items = [
            self.official(
                c.Credit(
                    id=new_id(),
                    city=self.city,
                    program=program,
                    wallet=w,
                    amount=amount,
                    origin=origin,
                )
            )
            for w, amount in grants
        ]
        # Officials' receipts show no wallet's balance (it is the wallet's alone): add up.
        for (wallet, amount), receipt in zip(
            grants, self.run("credit", items, report), strict=True
        ):
            if receipt.ok:
                self.balances[wallet] = self.balances.get(wallet, 0) + amount

    def purchases(self, report: DemoReport) -> None:
        """Citizens buy general money through the sale, as the sales service does it: the
        order signed by the citizen's key, then the bank's deposit confirmed by the
        operator (deposit refs `demo-va-...`); the discount comes out of the program's
        discount budget, which the officials mint first."""
        buyers = self.rng.sample(self.wallets, k=max(1, int(len(self.wallets) * PURCHASE_RATE)))
        wanted = [(w, self.rng.choice(PURCHASE_AMOUNTS)) for w, _ in buyers]
        discounts = sum(amount * gimpo.DISCOUNT_PERCENT // 100 for _, amount in wanted)
        if not self.sale_budget_minted:  # the sale's discount budget, for later buyers too
            discounts += DISCOUNT_BUDGET
            self.sale_budget_minted = True
        ref = f"trust:discounts:{new_id()[:12]}"
        mint = c.Mint(id=new_id(), city=self.city, program="general", amount=discounts, won_ref=ref)
        self.run("mint", [self.official(mint)], report)
        orders = [
            c.OrderPurchase(id=new_id(), city=self.city, wallet=w, program="general", amount=a)
            for w, a in wanted
        ]
        placed = self.run(
            "order_purchase", [sign_command(o, [self.key(o.wallet)]) for o in orders], report
        )
        _, operator = current_operator(self.ledgers, self.city)
        confirmed = [
            (o, r)
            for o, r in zip(orders, placed, strict=True)
            if r.ok and r.result is not None and r.result.lots
        ]
        confirms = [
            c.ConfirmPurchase(
                id=new_id(),
                city=self.city,
                wallet=o.wallet,
                order=o.id,
                amount=o.amount,
                # A card-only citizen pays cash at the counter; others by bank transfer.
                deposit_ref=(
                    f"counter:{self.counter.username}:{o.id[:16]}"
                    if o.wallet in self.card_of
                    else f"demo-va-{o.id[:16]}"
                ),
            )
            for o, _ in confirmed
        ]
        booked = self.run(
            "confirm_purchase", [sign_command(x, [operator]) for x in confirms], report
        )
        for (o, r), receipt in zip(confirmed, booked, strict=True):
            if receipt.ok and r.result is not None and r.result.lots:
                bonus = r.result.lots[1][1] if len(r.result.lots) > 1 else 0
                self.balances[o.wallet] = self.balances.get(o.wallet, 0) + o.amount + bonus

    def policy_money(self, day: int, report: DemoReport) -> None:
        if day % 91 == 0:
            youth = self.rng.sample(self.wallets, k=max(1, len(self.wallets) // 25))
            self.credit(
                "youth",
                [(w, gimpo.YOUTH_DIVIDEND) for w, _ in youth],
                f"youth-dividend-d{day}",
                report,
            )
        if day == 0:
            staff = self.rng.sample(self.wallets, k=max(1, len(self.wallets) // 20))
            self.credit(
                "welfare", [(w, gimpo.WELFARE_POINTS) for w, _ in staff], "welfare-points", report
            )
        births = [w for w, _ in self.wallets if self.rng.random() < 0.0004]
        self.credit(
            "postpartum",
            [(w, gimpo.POSTPARTUM_SUPPORT) for w in births],
            f"postpartum-d{day}",
            report,
        )

    # -- money spent -------------------------------------------------------------------------

    def payments(self, report: DemoReport) -> list[tuple[str, str, int]]:
        by_area: dict[str, list[str]] = {}
        for merchant, _, area in self.merchants:
            by_area.setdefault(area, []).append(merchant)
        every = [m for m, _, _ in self.merchants]
        planned, items, kinds = [], [], []
        sent: Counter[str] = Counter()  # card purchases per terminal today (STAN, RRN)
        for wallet, area in self.wallets:
            balance = self.balances.get(wallet, 0)
            for _ in range(self._poisson(PAYMENTS_PER_CITIZEN_DAY)):
                # Median payment about 17,000 won, in 100-won steps; 70% spent in the home area.
                amount = min(balance, round(self.rng.lognormvariate(math.log(17_000), 0.7), -2))
                if amount <= 0:
                    break
                local = by_area.get(area)
                merchant = self.rng.choice(local if local and self.rng.random() < 0.7 else every)
                if wallet in self.card_of:
                    if merchant not in self.terminal_of:
                        continue  # no terminal at that shop: the card is not used there
                    envelope, pid = self.card_purchase(wallet, merchant, int(amount), sent)
                    kinds.append("hold")
                else:
                    pid = new_id()
                    pay = c.Pay(
                        id=pid,
                        city=self.city,
                        wallet=wallet,
                        merchant=merchant,
                        amount=int(amount),
                        evidence="",
                    )
                    envelope = sign_command(pay, [self.key(wallet)])
                    kinds.append("pay")
                items.append(envelope)
                planned.append((pid, wallet, merchant, int(amount)))
                balance -= int(amount)
        receipts = self.run_kinds(kinds, items, report)
        paid = []
        for (pid, wallet, merchant, amount), receipt in zip(planned, receipts, strict=True):
            after = receipt.balance_of(wallet)  # the paying wallet's own receipt shows it
            if receipt.ok and after is None:  # a card's receipt is its key's: read the state
                after = self.ledgers.sequencer(self.city).state.wallets[wallet].balance()
            if receipt.ok and after is not None:
                paid.append((pid, merchant, amount))
                self.balances[wallet] = after
        return paid

    def card_purchase(
        self, wallet: str, merchant: str, amount: int, sent: Counter[str]
    ) -> tuple[bytes, str]:
        """The purchase a shop's terminal sends for the card (0200, captured at once), as
        the card service turns it into a hold signed by the card's key; its id."""
        terminal = self.terminal_of[merchant]
        sent[terminal.terminal] += 1
        stan, rrn = reference(self.clock.now_ms, sent[terminal.terminal])
        card = self.card_of[wallet]
        hold = authorize.hold_command(terminal, card, amount, stan, rrn, capture=True)
        return sign_command(hold, [self.cards.card_key(self.city, card.card)]), hold.id

    def _poisson(self, rate: float) -> int:
        threshold, k, p = math.exp(-rate), 0, self.rng.random()
        while p > threshold:
            k += 1
            p *= self.rng.random()
        return k

    def refunds(self, paid: list[tuple[str, str, int]], report: DemoReport) -> None:
        chosen = [p for p in paid if self.rng.random() < REFUND_RATE]
        items = []
        for pid, merchant, amount in chosen:
            part = amount if self.rng.random() < 0.7 else max(100, amount // 2 // 100 * 100)
            items.append(
                sign_command(
                    c.Refund(
                        id=new_id(), city=self.city, merchant=merchant, payment=pid, amount=part
                    ),
                    [self.merchant_key(merchant)],
                )
            )
        self.run("refund", items, report)

    def gifts(self, report: DemoReport) -> None:
        items = []
        for wallet, _ in self.wallets:
            if self.rng.random() < GIFT_RATE and self.balances.get(wallet, 0) >= 10_000:
                to = self.rng.choice(self.wallets)[0]
                amount = self.rng.choice((10_000, 30_000, 50_000)) if to != wallet else 0
                # A card-only citizen has no app to send a gift with (drawn all the same,
                # so the other citizens' days stay as they were).
                if amount and wallet not in self.card_of:
                    items.append(
                        sign_command(
                            c.Transfer(
                                id=new_id(),
                                city=self.city,
                                wallet=wallet,
                                to=to,
                                amount=amount,
                                evidence="",
                            ),
                            [self.key(wallet)],
                        )
                    )
        self.run("transfer", items, report)

    def settle(self, report: DemoReport) -> None:
        """Next-business-day payout: every merchant's balance is redeemed into won."""
        state = self.ledgers.sequencer(self.city).state
        # A payout is the merchant's own request, signed with its key; a suspended
        # merchant is not paid out (its units stay for its customers' refunds).
        items = [
            sign_command(
                c.Redeem(
                    id=new_id(),
                    city=self.city,
                    merchant=m.id,
                    amount=m.balance,
                    payout_ref=f"payout:{new_id()[:12]}",
                ),
                [self.merchant_key(m.id)],
            )
            for m in state.merchants.values()
            if m.balance > 0 and m.status == MERCHANT_ACTIVE
        ]
        self.run("redeem", items, report)

    def try_card(self, report: DemoReport) -> None:
        """The card `make run` prints for trying a terminal: a card-only wallet's, with a
        PIN, topped up with cash at the counter. Issued through `issue` and `top_up` as an
        official would, under fixed idempotency keys: a later run finds the same card."""
        issued = self.cards.issue(self.counter, self.city, TRY_CARD_KEY, pin=TRY_CARD_PIN)
        report.outcomes["issue_card:ok"] += 1
        if issued.view.status != ACTIVE:
            return  # marked lost or blocked since: left as it is
        self.cards.top_up(
            self.counter, self.city, issued.view.wallet, "general", TRY_CARD_TOP_UP, TRY_CARD_KEY
        )
        report.outcomes["top_up:ok"] += 1

    def expire(self, report: DemoReport) -> None:
        state = self.ledgers.sequencer(self.city).state
        now = self.clock.now_ms
        due = [w.id for w in state.wallets.values() if any(lot.expires_ms <= now for lot in w.lots)]
        items = [self.official(c.Expire(id=new_id(), city=self.city, wallet=w)) for w in due]
        self.run("expire", items, report)


#: The demo's people and their roles: (user name, role, merchant, official key).
DEMO_PASSWORD: Final = "gimpo-demo-2026"  # noqa: S105 (printed for the demo on purpose)
DEMO_USERS: Final = (
    ("maker", "city_maker", None, "official-maker"),
    ("checker", "city_checker", None, "official-checker"),
    ("auditor", "city_auditor", None, None),
    ("owner", "merchant_owner", "m-00000", None),
    ("cashier", "merchant_cashier", "m-00000", None),
)


def demo_users(identity: Identity, city: str) -> list[tuple[str, str, str]]:
    """Create the demo log-ins if missing; (user name, role, password) for each."""
    made = []
    for username, role, merchant, key in DEMO_USERS:
        with contextlib.suppress(IdentityError):
            identity.create_user(city, role, username, DEMO_PASSWORD, merchant, key)
        made.append((username, role, DEMO_PASSWORD))
    return made


def demo_directory(directory: Directory, city: str, now_ms: int) -> int:
    """Name the demo city's neighbourhoods and every shop on its chain (names made from
    the shop's number, category and area: the same each time); how many shops."""
    directory.name_areas(
        city, [(label, ko, label.replace("-", " ").title()) for label, ko, _, _ in gimpo.AREAS]
    )
    shops = directory.shops(city, limit=None)
    names = []
    for shop in shops:
        number = int(shop.merchant.rsplit("-", 1)[-1]) if shop.merchant[-1].isdigit() else 0
        names.append((shop.merchant, *gimpo.shop_name(number, shop.category, shop.area)))
    directory.name_shops(city, names, now_ms)
    return len(names)


def demo_checker(identity: Identity, city: str, public_key_hex: str) -> None:
    """The demo checker as an official who holds their own key (created before
    demo_users, which then leaves the log-in as it is)."""
    with contextlib.suppress(IdentityError):
        identity.create_user(
            city, "city_checker", "checker", DEMO_PASSWORD, None, f"pub:{public_key_hex}"
        )


@dataclass(frozen=True)
class TryCard:
    """The demo's card to try a terminal with: demo data, printed on purpose."""

    number: str
    expiry: str
    pin: str  # "" if the card has no PIN (any more)
    pin_locked: bool
    wallet: str
    terminal: str
    merchant: str


def try_card(store: SqlStore, master: Sealer, city: str) -> TryCard | None:
    """The demo's try card (its number opened from the sealed row) and a terminal of an
    active shop of an ordinary category (the demo owner's, m-00000, if it is one), or None
    if the city has no such card or terminal."""
    repo = SqlCardRepository(store)
    wallet = card_only_wallet(city, demo_counter(city).id, TRY_CARD_KEY)
    cards = [CardRecord.of(row) for row in repo.cards_of(city, wallet)]
    card = next((x for x in cards if x.status == ACTIVE), None)
    terminals = sorted(
        (TerminalRecord.of(row) for row in repo.terminals(city, None)), key=lambda t: t.terminal
    )
    usable = [t for t in terminals if _ordinary_shop(store, city, t.merchant)]
    if card is None or not usable:
        return None
    terminal = next((t for t in usable if t.merchant == "m-00000"), usable[0])
    return TryCard(
        number=master.open(card.sealed, seal_context(city, card.card)).decode(),
        expiry=card.expiry,
        pin=TRY_CARD_PIN if card.pin_hash else "",
        pin_locked=card.pin_tries >= pins.MAX_TRIES,
        wallet=wallet,
        terminal=terminal.terminal,
        merchant=terminal.merchant,
    )


def _ordinary_shop(store: SqlStore, city: str, merchant: str) -> bool:
    """An active shop whose category the general program pays (no large mart)."""
    raw = store.state_value(city, f"m:{merchant}")
    if raw is None:
        return False
    found = msgspec.json.decode(raw, type=Merchant)
    ordinary = {x[0] for x in gimpo.LOCAL_CATEGORIES}
    return found.status == MERCHANT_ACTIVE and found.category in ordinary


def start_time(ledgers: Ledgers, city: str, days: int, now_ms: int) -> int:
    head = ledgers.store.head(city)
    begin = now_ms - days * DAY_MS
    if head is None:
        return begin
    last = msgspec.json.decode(head.header_bytes).get("time_ms", 0)
    return max(begin, int(last))


def run_demo(
    ledgers: Ledgers,
    clock: SimClock,
    city: str,
    name: str,
    citizens: int,
    merchants: int,
    days: int,
    seed: int = 2019,
    progress: Progress | None = None,
) -> DemoReport:
    """Create (if needed) and populate a city, then simulate `days` days of use."""
    sim = Simulation(ledgers, clock, city, seed)
    report = DemoReport(city, citizens, merchants, days)
    tell = progress or (lambda _stage, _done, _total: None)
    sim.ensure_city(name)
    sim.appoint_witnesses(report)
    sim.define_programs(days, report)
    sim.register_merchants(merchants, report)
    sim.open_wallets(citizens, report)
    tell("set-up", 0, days)
    for day in range(days):
        clock.now_ms += DAY_MS // 3  # morning: money arrives
        sim.policy_money(day, report)
        sim.purchases(report)
        if day == 0:  # the sale's discount budget is minted now: the try card's top-up gets it
            sim.try_card(report)
        clock.now_ms += DAY_MS // 3  # day: spending
        paid = sim.payments(report)
        sim.refunds(paid, report)
        sim.gifts(report)
        clock.now_ms += DAY_MS // 3  # night: settlement and expiry
        sim.settle(report)
        sim.expire(report)
        tell("day", day + 1, days)
    return report
