"""A city's ledger state, held in memory by its one writer.

Each entity serialises to one row of the store's state table under a stable key
("w:<wallet>", "m:<merchant>", "p:<program>", "x:<payment id>", "c" for city
totals); the sequencer writes the entities a block touched in that block's
database transaction, and verify compares them with a replay from genesis.

Payment records do not stay for ever: a payment may be refunded during its city's
refund window (genesis `refund_window_days`), and its record leaves the state
`RETIRE_GRACE_MS` after the window closed (so a late refund is told why, with
`refund_window_closed`, for a while). Retiring happens at the end of every block,
with that block's time, on the sequencer and in every replay alike, so the stored
state and a replayed one agree. A retired payment stays on the chain: its
transaction is found by id and proved by receipt as before.
"""

from __future__ import annotations

import heapq
import sys
from typing import Final

import msgspec

from localpay.domain.commands import CreateCity
from localpay.domain.limits import VOID_KEEP_MS_MAX
from localpay.domain.policy import Policy


class Lot(msgspec.Struct, omit_defaults=True):
    """Money of one program version with one expiry. Its kind is in its origin: a
    purchase's own money is `sale:<deposit ref>`, its discount or cashback `bonus:...`
    (ledger/sales.py); anything else is policy money or a gift. `at_ms`, when the lot
    was made (0 for lots made before it was kept), is what conditions call lot age."""

    id: str
    program: str
    version: int
    amount: int
    expires_ms: int
    origin: str
    at_ms: int = 0


class Window(msgspec.Struct, array_like=True):
    """What a wallet spent of one program in the current Korean day and month."""

    day: int
    day_spent: int
    month: int
    month_spent: int


#: Most unpaid months a cashback base keeps (a month whose cashback rounds to 0 is never
#: paid, so without a bound the base would grow for ever).
ACCRUAL_MONTHS_MAX: Final = 24


class Accrual(msgspec.Struct, array_like=True):
    """A cashback sale's base: what a wallet spent of its purchases in each month whose
    cashback is not paid yet (month key -> won), and the last month paid. A late job
    still pays a month two months back; months are paid in order, each once."""

    spent: dict[str, int]  # month key as text: the state's encoding sorts its keys
    paid_month: int

    def base(self, month: int) -> int:
        return self.spent.get(str(month), 0) if month > self.paid_month else 0


class Wallet(msgspec.Struct, omit_defaults=True):
    """Windows are keyed by program for spending, and by `buy:<program>` (purchased
    this month), `bonus:<program>` (discount received this month) and
    `grant:<program>` (policy money received this period) for the limits on money in."""

    id: str
    keys: list[str]
    custodial: bool
    # Kept sorted by (expires_ms, id): payments draw from the front.
    lots: list[Lot]
    windows: dict[str, Window]
    opened_ms: int = 0
    # Purchased amount plus discount of this wallet's orders waiting for their deposit:
    # counted against the holding limit before it arrives. In all, and by program (a
    # program's holding limit counts only its own open orders).
    on_order: int = 0
    accruals: dict[str, Accrual] = msgspec.field(default_factory=dict)
    on_order_by: dict[str, int] = msgspec.field(default_factory=dict)
    # Prepaid cards bound to the wallet: card id (HMAC of its number) -> the card key.
    cards: dict[str, str] = msgspec.field(default_factory=dict)

    def balance(self) -> int:
        return sum(lot.amount for lot in self.lots)


class Merchant(msgspec.Struct, omit_defaults=True):
    id: str
    keys: list[str]
    category: str
    area: str
    annual_revenue: int
    registration_hash: str
    status: str
    balance: int
    redeemed: int
    # Until when approval is refused after a suspension for cash-out fraud.
    barred_until_ms: int = 0
    # The digest of the bank account its payouts go to (ledger/settlement.py).
    payout_account: str = ""


class Program(msgspec.Struct, omit_defaults=True):
    """`budget` is what the program may still pay out (policy money, discounts,
    cashback); `reserved` the discounts held for orders waiting for their deposit.
    `sold` counts purchased won minted, `bonus` discounts and cashback paid."""

    id: str
    versions: list[Policy]
    budget: int
    minted: int
    credited: int
    returned: int
    reserved: int = 0
    sold: int = 0
    bonus: int = 0


class Batch(msgspec.Struct):
    """An approved disbursement batch (ledger/batches.py): its rows' Merkle root, and
    which rows were paid (a bitmap, base64), how many and how much."""

    id: str
    program: str
    rows: int
    total: int
    root: str
    paid: bytearray  # one bit per row, row 0 the lowest bit of the first byte
    paid_rows: int
    paid_total: int
    approved_ms: int


#: A purchase's life: ordered (waiting for the deposit), lapsed (its order time ran out
#: and its discount went back to the budget), paid, cancelled, refunded.
ORDERED: Final = "ordered"
LAPSED: Final = "lapsed"
PAID: Final = "paid"
CANCELLED: Final = "cancelled"
REFUNDED: Final = "refunded"


class Purchase(msgspec.Struct):
    """One order of a sale program and what became of it. Its lots are `<id>` (the
    purchased money) and `<id>.d` (the discount)."""

    id: str
    wallet: str
    program: str
    version: int
    amount: int
    bonus: int
    status: str
    ordered_ms: int
    deadline_ms: int
    paid_ms: int = 0
    deposit_ref: str = ""


class Payout(msgspec.Struct):
    """Won owed out of the trust account to a citizen: a cancelled purchase, a balance
    refund, purchased money past its validity. The units stay in the supply until the
    bank pays (the settlement issue burns them then); until that, `pending`."""

    id: str
    wallet: str
    amount: int
    reason: str
    source: str
    at_ms: int
    status: str = "pending"
    # A merchant's payout (ledger/settlement.py) names its merchant (and `wallet` is "")
    # and the digest of the account it goes to.
    merchant: str = ""
    account: str = ""
    # The bank's reference of the booking that settled it, and when.
    bank_ref: str = ""
    settled_ms: int = 0
    # The reason code of the last return (a citizen's payout stays pending after one).
    returned: str = ""


class Draw(msgspec.Struct, array_like=True):
    """The part of a payment taken from one lot; enough to restore the lot on refund."""

    lot: str
    program: str
    version: int
    amount: int
    expires_ms: int
    origin: str


class Payment(msgspec.Struct):
    id: str
    wallet: str
    merchant: str
    amount: int
    refunded: int
    at_ms: int
    draws: list[Draw]


#: A hold's life: held (money out of the wallet, not yet the merchant's), captured
#: (paid, in full or in part, the rest given back), released (all given back), reversed
#: (captured by card, then taken back from the merchant by the card's reversal).
HELD: Final = "held"
CAPTURED: Final = "captured"
RELEASED: Final = "released"
REVERSED: Final = "reversed"


class HoldRecord(msgspec.Struct, omit_defaults=True):
    """Money held for a merchant (ledger/holds.py): by a card's authorization (card,
    terminal, STAN, RRN) or a checkout approval (intent, order). `draws` are the lots it
    came from, given back on release; `captured` what the merchant was paid."""

    id: str
    wallet: str
    merchant: str
    amount: int
    status: str
    at_ms: int
    expires_ms: int
    draws: list[Draw]
    captured: int = 0
    captured_ms: int = 0
    card: str = ""
    terminal: str = ""
    stan: str = ""
    rrn: str = ""
    intent: str = ""
    order: str = ""


class Void(msgspec.Struct, array_like=True):
    """A hold id released before its hold arrived (a card reversal that overtook its
    original): the hold is refused if it ever comes."""

    at_ms: int


class Offer(msgspec.Struct, omit_defaults=True):
    """A customer-presented one-time code (ledger/offers.py): who offers to pay, up to
    what, until when; `claimed` the payment it became."""

    wallet: str
    cap: int
    at_ms: int
    expires_ms: int
    claimed: str = ""


class Rotation(msgspec.Struct, frozen=True, array_like=True):
    """One rotate_operator command that took effect: its id and the key it made current."""

    id: str
    key: str


class Authorities(msgspec.Struct):
    """Who may act for the city: officials' keys (key -> role), the witnesses, and the
    operator keys that followed the genesis key, oldest first (rotate_operator)."""

    officials: dict[str, str] = msgspec.field(default_factory=dict)
    witnesses: dict[str, str] = msgspec.field(default_factory=dict)  # key -> name
    quorum: int = 0
    rotations: list[Rotation] = msgspec.field(default_factory=list)


class Totals(msgspec.Struct):
    minted: int = 0
    burned: int = 0


#: How long after its refund window closed a payment record stays in the state, so a
#: late refund gets `refund_window_closed` rather than `payment_not_found`.
RETIRE_GRACE_MS: Final = 30 * 86_400_000
_DAY_MS: Final = 86_400_000

MERCHANT_PENDING: Final = "pending"

#: A payout's life (ledger/settlement.py): pending (owed, or in transit to the bank),
#: paid (the bank booked it: burned), returned (a merchant's, back on its balance).
PAYOUT_PENDING: Final = "pending"
PAYOUT_PAID: Final = "paid"
PAYOUT_RETURNED: Final = "returned"
MERCHANT_ACTIVE: Final = "active"
MERCHANT_SUSPENDED: Final = "suspended"


class CityState:
    """Everything the ledger needs to decide the next command of one city."""

    def __init__(self, city: str) -> None:
        self.city = city
        self.genesis: CreateCity | None = None
        self.wallets: dict[str, Wallet] = {}
        self.merchants: dict[str, Merchant] = {}
        self.programs: dict[str, Program] = {}
        self.payments: dict[str, Payment] = {}
        self.purchases: dict[str, Purchase] = {}
        self.payouts: dict[str, Payout] = {}
        self.batches: dict[str, Batch] = {}
        self.holds: dict[str, HoldRecord] = {}
        self.voids: dict[str, Void] = {}
        self.offers: dict[str, Offer] = {}
        # Checkout intent -> the hold that approved it: derived from the holds.
        self.intents: dict[str, str] = {}
        # Deposit refs booked, and (deadline, id) of orders waiting: derived from the
        # purchases, never stored on their own.
        self.deposits: set[str] = set()
        self._order_deadlines: list[tuple[int, str]] = []
        # (paid at, payment id) of every payment record, oldest first: what retires next.
        self._payment_ages: list[tuple[int, str]] = []
        # (placed at, hold id) of the holds, and (made at, state key) of the voids and
        # offers, oldest first: see `retire`.
        self._hold_ages: list[tuple[int, str]] = []
        self._leaving: list[tuple[int, str]] = []
        self.totals = Totals()
        self.authorities = Authorities()

    # -- payment records -------------------------------------------------------------

    def add_payment(self, payment: Payment) -> None:
        self.payments[payment.id] = payment
        heapq.heappush(self._payment_ages, (payment.at_ms, payment.id))

    def add_hold(self, hold: HoldRecord) -> None:
        self.holds[hold.id] = hold
        if hold.intent:
            self.intents[hold.intent] = hold.id
        # An open hold stays until released; a closed one as long as its payment record
        # (a refund, a late reversal, a repeated intent are still answered).
        heapq.heappush(self._hold_ages, (hold.at_ms, hold.id))

    def add_void(self, ident: str, void: Void) -> None:
        self.voids[ident] = void
        heapq.heappush(self._leaving, (void.at_ms, f"v:{ident}"))

    def add_offer(self, code: str, offer: Offer) -> None:
        self.offers[code] = offer
        heapq.heappush(self._leaving, (offer.at_ms, f"k:{code}"))

    def add_purchase(self, purchase: Purchase) -> None:
        self.purchases[purchase.id] = purchase
        if purchase.deposit_ref:
            self.deposits.add(purchase.deposit_ref)
        if purchase.status == ORDERED:
            heapq.heappush(self._order_deadlines, (purchase.deadline_ms, purchase.id))

    def lapsing_orders(self, now_ms: int) -> list[Purchase]:
        """Orders whose time ran out by `now_ms` still waiting, oldest first; each is
        popped once (the caller lapses them)."""
        due, deadlines = [], self._order_deadlines
        while deadlines and deadlines[0][0] <= now_ms:
            _, ident = heapq.heappop(deadlines)
            purchase = self.purchases.get(ident)
            if purchase is not None and purchase.status == ORDERED:
                due.append(purchase)
        return due

    def refund_window_ms(self) -> int:
        assert self.genesis is not None
        return self.genesis.refund_window_days * _DAY_MS

    def refundable(self, payment: Payment, now_ms: int) -> bool:
        """Is `now_ms` still inside the payment's refund window?"""
        return now_ms < payment.at_ms + self.refund_window_ms()

    def retire(self, now_ms: int) -> list[str]:
        """Drop the records whose time is over; their state keys. Called once at the end of
        every block. Payment records go when their refund window closed more than the
        grace ago; closed holds with them; voids and offers VOID_KEEP_MS_MAX after they were
        made (an open hold never goes: the jobs release it first)."""
        if self.genesis is None:
            return []
        ages = self._payment_ages
        horizon = self.refund_window_ms() + RETIRE_GRACE_MS
        retired = []
        while ages and ages[0][0] + horizon <= now_ms:
            _, ident = heapq.heappop(ages)
            if self.payments.pop(ident, None) is not None:
                retired.append(f"x:{ident}")
        return retired + self._retire_leaving(now_ms, horizon)

    def _retire_leaving(self, now_ms: int, horizon: int) -> list[str]:
        retired = []
        holds = self._hold_ages
        open_holds = []
        while holds and holds[0][0] + horizon <= now_ms:
            item = heapq.heappop(holds)
            hold = self.holds.get(item[1])
            if hold is None:
                continue
            if hold.status == HELD:
                open_holds.append(item)  # looked at again next block (a job releases it)
                continue
            del self.holds[hold.id]
            self.intents.pop(hold.intent, None)
            retired.append(f"h:{hold.id}")
        for item in open_holds:
            heapq.heappush(holds, item)
        leaving = self._leaving
        while leaving and leaving[0][0] + VOID_KEEP_MS_MAX <= now_ms:
            _, key = heapq.heappop(leaving)
            kind, _, ident = key.partition(":")
            if (self.voids if kind == "v" else self.offers).pop(ident, None) is not None:
                retired.append(key)
        return retired

    def operator_key(self) -> str:
        """The key that signs the city's next block: the last rotation's, else the genesis'."""
        if self.authorities.rotations:
            return self.authorities.rotations[-1].key
        assert self.genesis is not None
        return self.genesis.operator_key

    # -- serialisation -------------------------------------------------------------

    def entity(self, key: str) -> msgspec.Struct:
        kind, _, ident = key.partition(":")
        match kind:
            case "w":
                return self.wallets[ident]
            case "m":
                return self.merchants[ident]
            case "p":
                return self.programs[ident]
            case "x":
                return self.payments[ident]
            case "u":
                return self.purchases[ident]
            case "q":
                return self.payouts[ident]
            case "b":
                return self.batches[ident]
            case "h":
                return self.holds[ident]
            case "v":
                return self.voids[ident]
            case "k":
                return self.offers[ident]
            case "c":
                return self.totals
            case "o":
                return self.authorities
            case "g":
                assert self.genesis is not None
                return self.genesis
        raise KeyError(key)

    def entity_keys(self) -> list[str]:
        keys = ["c"] + (["g", "o"] if self.genesis else [])
        keys += [f"w:{k}" for k in self.wallets]
        keys += [f"m:{k}" for k in self.merchants]
        keys += [f"p:{k}" for k in self.programs]
        keys += [f"x:{k}" for k in self.payments]
        keys += [f"u:{k}" for k in self.purchases]
        keys += [f"q:{k}" for k in self.payouts]
        keys += [f"b:{k}" for k in self.batches]
        keys += [f"h:{k}" for k in self.holds]
        keys += [f"v:{k}" for k in self.voids]
        keys += [f"k:{k}" for k in self.offers]
        return keys

    def encode_entity(self, key: str) -> bytes:
        return _encoder.encode(self.entity(key))

    def load_entity(self, key: str, data: bytes) -> None:
        kind, _, ident = key.partition(":")
        match kind:
            case "w":
                self.wallets[ident] = msgspec.json.decode(data, type=Wallet)
            case "m":
                self.merchants[ident] = msgspec.json.decode(data, type=Merchant)
            case "p":
                self.programs[ident] = msgspec.json.decode(data, type=Program)
            case "x":
                self.add_payment(_shared(msgspec.json.decode(data, type=Payment)))
            case "u":
                self.add_purchase(msgspec.json.decode(data, type=Purchase))
            case "q":
                payout = msgspec.json.decode(data, type=Payout)
                self.payouts[payout.id] = payout
            case "b":
                batch = msgspec.json.decode(data, type=Batch)
                self.batches[batch.id] = batch
            case "h":
                self.add_hold(msgspec.json.decode(data, type=HoldRecord))
            case "v":
                self.add_void(ident, msgspec.json.decode(data, type=Void))
            case "k":
                self.add_offer(ident, msgspec.json.decode(data, type=Offer))
            case "c":
                self.totals = msgspec.json.decode(data, type=Totals)
            case "o":
                self.authorities = msgspec.json.decode(data, type=Authorities)
            case "g":
                self.genesis = msgspec.json.decode(data, type=CreateCity)
            case _:
                raise KeyError(key)

    # -- invariants ----------------------------------------------------------------

    def supply(self) -> int:
        """Units in existence: every balance held anywhere in the city."""
        return (
            sum(w.balance() for w in self.wallets.values())
            + sum(m.balance for m in self.merchants.values())
            + sum(p.budget + p.reserved for p in self.programs.values())
            + sum(q.amount for q in self.payouts.values() if q.status == PAYOUT_PENDING)
            + sum(h.amount for h in self.holds.values() if h.status == HELD)
        )

    def check_invariants(self) -> list[str]:
        """Broken invariants, described; empty when the state is sound."""
        problems = []
        minted, burned = self.totals.minted, self.totals.burned
        if self.supply() != minted - burned:
            problems.append(f"supply {self.supply()} != minted {minted} - burned {burned}")
        for wallet in self.wallets.values():
            problems += [
                f"lot {lot.id} of {wallet.id} <= 0" for lot in wallet.lots if lot.amount <= 0
            ]
            if wallet.on_order != sum(wallet.on_order_by.values()):
                problems.append(f"on order of {wallet.id} != its programs' sum")
        problems += [f"merchant {m.id} < 0" for m in self.merchants.values() if m.balance < 0]
        problems += [f"budget {p.id} < 0" for p in self.programs.values() if p.budget < 0]
        problems += [f"reserved {p.id} < 0" for p in self.programs.values() if p.reserved < 0]
        held = sum(u.bonus for u in self.purchases.values() if u.status == ORDERED)
        if held != sum(p.reserved for p in self.programs.values()):
            problems.append(f"discounts held {held} != reserved")
        problems += [f"payout {q.id} <= 0" for q in self.payouts.values() if q.amount <= 0]
        problems += [
            f"batch {b.id} overpaid" for b in self.batches.values() if b.paid_total > b.total
        ]
        problems += [
            f"hold {h.id} draws != amount"
            for h in self.holds.values()
            if h.status == HELD and sum(d.amount for d in h.draws) != h.amount
        ]
        problems += [
            f"hold {h.id} captured {h.captured} > {h.amount}"
            for h in self.holds.values()
            if h.captured > h.amount
        ]
        return problems


def _shared(payment: Payment) -> Payment:
    """A decoded payment record, its repeated names shared with every other record's
    (the same wallet, merchant, program, lot): a record made by the machine shares
    them already, one loaded from the store would otherwise hold copies of its own."""
    payment.wallet, payment.merchant = sys.intern(payment.wallet), sys.intern(payment.merchant)
    for draw in payment.draws:
        draw.lot, draw.program = sys.intern(draw.lot), sys.intern(draw.program)
        draw.origin = sys.intern(draw.origin)
    return payment


_encoder: Final = msgspec.json.Encoder(order="sorted")
