"""Programs through the real sequencer, on SQLite and PostgreSQL: a sale's whole life
(order, deposit, payment, cancellation, balance refund, a lapsed order), a disbursement
batch (approval and its rows) and purchased money expiring into a payout. Then the chain
verifies (a replay from genesis gives the stored state, byte for byte), and an export
imported into a new store of the same kind gives the same state, purchases (`u:`),
payouts (`q:`) and batches (`b:`) included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, month_key
from localpay.domain.codes import Code
from localpay.domain.commands import decode_envelope
from localpay.domain.policy import Grant, default_sale
from localpay.ledger.batches import row_leaf
from localpay.ledger.log import merkle
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import Purchase, Totals
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.cities.verify import verify_city
from localpay.services.explorer.service import UNKNOWN_PROGRAM, Explorer
from localpay.services.history.service import parties_of
from localpay.services.portability.exporter import export_city
from localpay.services.portability.importer import import_city
from localpay.services.wallets import activity
from localpay.sim.demo import SimClock
from localpay.testing.builders import policy

CITY = "gimpo"
MINUTE = 60_000
ROWS = [("alice", 100_000), ("bob", 150_000)]


class Town:
    """A city on a real store, driven through its sequencer."""

    def __init__(self, store: Store, keys: KeyStore) -> None:
        self.clock = SimClock(1_780_000_000_000)
        self.ledgers = Ledgers(store, keys, self.clock, max_clock_skew_ms=None)
        assert create_city(self.ledgers, CITY, "김포시").ok
        genesis = self.ledgers.sequencer(CITY).state.genesis
        assert genesis is not None
        self.signer = OfficialSigner(self.ledgers.keys, CITY, dict(genesis.approvals))
        self.keys: dict[str, nacl.signing.SigningKey] = {}

    def official(self, command: c.Command) -> Receipt:
        """Officials for their commands, the operator for the rest (OfficialSigner)."""
        return self.ledgers.execute(CITY, self.signer.sign(command))

    def own(self, account: str, command: c.Command) -> Receipt:
        return self.ledgers.execute(CITY, sign_command(command, [self.keys[account]]))

    def ok(self, receipt: Receipt) -> Receipt:
        assert receipt.ok, receipt.code
        return receipt

    def set_up(self) -> None:
        sale = policy("구매 지역화폐", sale=default_sale(), holding_cap=1_500_000)
        short = policy("단기 구매", valid_days=1, sale=default_sale())
        youth = policy("청년 지원금", grant=Grant("year", 300_000, 19, 39, 0, 0, []))
        back = policy("캐시백", sale=default_sale(mode="cashback", rate_bp=500, cashback_cap=0))
        for name, rules, budget in (
            ("general", sale, 50_000),
            ("short", short, 0),
            ("youth", youth, 1_000_000),
            ("cb", back, 10_000),
        ):
            self.ok(
                self.official(c.DefineProgram(id=new_id(), city=CITY, program=name, policy=rules))
            )
            if budget:
                self.ok(
                    self.official(
                        c.Mint(id=new_id(), city=CITY, program=name, amount=budget, won_ref="trust")
                    )
                )
        for wallet in ("alice", "bob", "carol"):
            key = self.keys[wallet] = nacl.signing.SigningKey.generate()
            opening = c.OpenWallet(
                id=new_id(), city=CITY, wallet=wallet, keys=[public_key_hex(key)], custodial=False
            )
            self.ok(self.own(wallet, opening))
        key = self.keys["bakery"] = nacl.signing.SigningKey.generate()
        shop = c.RegisterMerchant(
            id=new_id(),
            city=CITY,
            merchant="bakery",
            keys=[public_key_hex(key)],
            category="bakery",
            area="gurae",
            annual_revenue=10**8,
            registration_hash="ab" * 32,
        )
        self.ok(self.official(shop))
        self.ok(self.official(c.ApproveMerchant(id=new_id(), city=CITY, merchant="bakery")))

    # -- a sale ---------------------------------------------------------------------------

    def order(self, wallet: str, amount: int, program: str = "general") -> str:
        command = c.OrderPurchase(
            id=new_id(), city=CITY, wallet=wallet, program=program, amount=amount
        )
        self.ok(self.own(wallet, command))
        return command.id

    def confirm(self, wallet: str, order: str, amount: int, ref: str) -> Receipt:
        notice = c.ConfirmPurchase(
            id=new_id(), city=CITY, wallet=wallet, order=order, amount=amount, deposit_ref=ref
        )
        return self.official(notice)

    def buy(self, wallet: str, amount: int, program: str = "general") -> str:
        order = self.order(wallet, amount, program)
        self.ok(self.confirm(wallet, order, amount, f"va-{order[:8]}"))
        return order

    def pay(self, wallet: str, amount: int) -> None:
        pay = c.Pay(
            id=new_id(), city=CITY, wallet=wallet, merchant="bakery", amount=amount, evidence=""
        )
        self.ok(self.own(wallet, pay))

    def sale(self) -> dict[str, str]:
        used = self.buy("alice", 100_000)
        self.pay("alice", 70_000)
        self.ok(
            self.own(
                "alice", c.RefundBalance(id=new_id(), city=CITY, wallet="alice", purchase=used)
            )
        )
        untouched = self.buy("bob", 200_000)
        self.ok(
            self.own(
                "bob", c.CancelPurchase(id=new_id(), city=CITY, wallet="bob", purchase=untouched)
            )
        )
        late = self.order("bob", 50_000)
        self.clock.now_ms += 15 * MINUTE
        self.ok(self.official(c.LapseOrder(id=new_id(), city=CITY, wallet="bob", order=late)))
        # The bank's notice for the lapsed order arrives after all: booked, judged afresh.
        self.ok(self.confirm("bob", late, 50_000, "va-late"))
        assert self.confirm("bob", late, 50_000, "va-late").code == Code.PURCHASE_CLOSED
        return {"used": used, "untouched": untouched, "late": late}

    # -- a batch, and expiry ----------------------------------------------------------------

    def batch(self) -> None:
        leaves = [row_leaf("b-2026-1", "youth", n, w, a, "") for n, (w, a) in enumerate(ROWS)]
        approve = c.ApproveBatch(
            id=new_id(),
            city=CITY,
            batch="b-2026-1",
            program="youth",
            rows=len(ROWS),
            total=sum(a for _, a in ROWS),
            root=merkle.root(leaves).hex(),
        )
        self.ok(self.official(approve))
        for n, (wallet, amount) in enumerate(ROWS):
            proof = [p.hex() for p in merkle.inclusion_proof(leaves, n, len(leaves))]
            row = c.BatchCredit(
                id=new_id(),
                city=CITY,
                batch="b-2026-1",
                row=n,
                wallet=wallet,
                amount=amount,
                evidence="",
                proof=proof,
            )
            self.ok(self.official(row))  # not an official command: the operator signs it
            assert self.official(row).duplicate  # the job re-run: the original receipt

    def cashback(self) -> None:
        """Bought and spent in one month; its cashback paid by the operator the next."""
        self.buy("carol", 40_000, "cb")
        self.pay("carol", 40_000)
        self.clock.now_ms += 32 * DAY_MS
        month = month_key(self.clock.now_ms) - 1
        self.ok(
            self.official(
                c.Cashback(id=new_id(), city=CITY, wallet="carol", program="cb", month=month)
            )
        )

    def expiry(self) -> str:
        order = self.buy("alice", 20_000, "short")
        self.clock.now_ms += 3 * DAY_MS
        self.ok(self.official(c.Expire(id=new_id(), city=CITY, wallet="alice")))
        return order


def _run_city(url: str, keys: KeyStore) -> dict[str, str]:
    store = open_store(url)
    try:
        town = Town(store, keys)
        town.set_up()
        made = town.sale()
        town.batch()
        town.cashback()
        made["expired"] = town.expiry()
        state = town.ledgers.sequencer(CITY).state
        assert state.check_invariants() == []
        town.ledgers.close()
        return made
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Two fresh stores of one kind: the city's, and the one it is imported into."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make(), make()


def test_programs_replay_from_genesis_and_move_between_stores(
    two_urls: tuple[str, str], keys: KeyStore, tmp_path: Path
) -> None:
    source_url, target_url = two_urls
    made = _run_city(source_url, keys)
    source, target = open_store(source_url), open_store(target_url)
    try:
        report = verify_city(source, CITY)
        assert report.ok, report.problems
        rows = dict(source.state(CITY))
        for key in (
            f"u:{made['used']}",
            f"q:{made['used']}",
            f"q:{made['untouched']}",
            f"u:{made['late']}",
            f"q:{made['expired']}.x",
            "b:b-2026-1",
        ):
            assert key in rows, key
        _readers_know_the_new_commands(source, made)
        archive = tmp_path / "city.archive"
        export_city(source, CITY, archive)
        import_city(target, archive)
        assert sorted(target.state(CITY)) == sorted(source.state(CITY))
        again = verify_city(target, CITY)
        assert again.ok, again.problems
    finally:
        source.close()
        target.close()


# -- the chain's readers -------------------------------------------------------------------


def _readers_know_the_new_commands(store: Store, made: dict[str, str]) -> None:
    _explorer_figures(store)
    _wallet_lines(store, made)
    _histories(store)


def _explorer_figures(store: Store) -> None:
    """Sold and discounts as the ledger counts them; the supply as its totals."""
    raw = store.state_value(CITY, "c")
    assert raw is not None
    totals = msgspec.json.decode(raw, type=Totals)
    supply = Explorer(store).start([CITY]).supply(CITY)
    assert sum(p.minted for p in supply) == totals.minted
    # Pending payouts (won owed back) are units still in existence: nothing burned them.
    assert supply[-1].outstanding == totals.minted - totals.burned
    purchases = [
        msgspec.json.decode(v, type=Purchase) for k, v in store.state(CITY) if k[:2] == "u:"
    ]
    booked = [u for u in purchases if u.status in ("paid", "refunded")]
    cashback = 2_000  # 5 % of the 40,000 carol spent
    assert sum(p.sold for p in supply) == sum(u.amount for u in booked)
    assert sum(p.discounts for p in supply) == sum(u.bonus for u in booked) + cashback
    table = Explorer(store).start([CITY]).payments(CITY, "program", threshold=1)
    assert UNKNOWN_PROGRAM not in table.columns  # a purchase's lots are traced to it


def _kinds(store: Store, wallet: str) -> list[tuple[str, str, int, int, int]]:
    txs = [tx for tx in store.txs(CITY) if wallet in parties_of(store, CITY, tx)]
    return [
        (line.kind, line.party, line.signed, line.bonus, line.owed)
        for line in activity.lines(store, CITY, wallet, txs)
        if line.ok
    ]


def _wallet_lines(store: Store, made: dict[str, str]) -> None:
    assert _kinds(store, "alice") == [
        ("opened", "", 0, 0, 0),
        ("ordered", "general", 0, 0, 0),
        ("bought", "general", 110_000, 10_000, 0),
        ("paid", "bakery", -70_000, 0, 0),
        ("balance_refund", "general", 0, 0, 30_000),
        ("credited", "youth", 100_000, 0, 0),
        ("ordered", "short", 0, 0, 0),
        ("bought", "short", 20_000, 0, 0),
        ("expired_owed", "", -20_000, 0, 20_000),
    ]
    assert _kinds(store, "bob") == [
        ("opened", "", 0, 0, 0),
        ("ordered", "general", 0, 0, 0),
        ("bought", "general", 220_000, 20_000, 0),
        ("cancelled", "general", -200_000, 0, 200_000),
        ("ordered", "general", 0, 0, 0),
        ("lapsed", "general", 0, 0, 0),
        ("bought", "general", 55_000, 5_000, 0),
        ("credited", "youth", 150_000, 0, 0),
    ]
    assert _kinds(store, "carol")[-1] == ("cashback", "cb", 2_000, 0, 0)


def _histories(store: Store) -> None:
    """Commands the operator signs for a wallet (a batch row, a cashback, a deposit)
    are in that wallet's history: the ledger's one rule of parties names their wallet."""
    for tx in store.txs(CITY):
        wanted = ("batch_credit", "cashback", "confirm_purchase", "lapse_order")
        if tx.kind in wanted and tx.decoded_result().ok:
            _, command = decode_envelope(tx.envelope)
            assert command.wallet in parties_of(store, CITY, tx), tx.kind
