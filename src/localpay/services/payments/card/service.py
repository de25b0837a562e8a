"""The card service: the counter services officials use (issue, block, PIN, top-up,
balance, terminals) and, through `answer`, the authority behind the ISO 8583 host.

Every write carries the caller's idempotency key. A card's row is keyed by it (a retry
finds the card the first try made, with the same number), and every ledger command it
leads to has an id derived from it (services/cities/command_ids.py), so a retry after a
lost answer is the same command and the ledger answers it with the first receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import argon2
import msgspec
import nacl.signing

from localpay.domain import commands as c
from localpay.domain.principals import CITY_STAFF, OFFICIAL_ROLES, Principal
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import MERCHANT_ACTIVE, Merchant, Wallet
from localpay.services.cities import inspect
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers, MissingKey
from localpay.services.cities.officials import current_operator
from localpay.services.payments.card import authorize, numbers, pins
from localpay.services.payments.card.errors import (
    BadCardInput,
    BadPin,
    CardNotActive,
    CardNotFound,
    IdempotencyKeyReused,
    LedgerRefused,
    NotCounterStaff,
    TerminalNotFound,
    TerminalTaken,
)
from localpay.services.payments.card.messages import CardAnswer, CardRequest
from localpay.services.payments.card.ports import (
    ACTIVE,
    CardRecord,
    CardRepository,
    Sealer,
    TerminalRecord,
)
from localpay.services.payments.card.views import (
    BalanceView,
    CardView,
    IssuedCard,
    ProgramBalance,
    TerminalView,
    TopUpView,
)

#: The key file of the city's card secret (its 32 bytes key the card ids' HMAC).
SECRET_KEY_NAME: Final = "card-secret"  # noqa: S105 (a key file's name, not a secret)
TERMINAL_ID_LENGTH: Final = 8
#: A card an official may mark so (a replaced card is marked by reissue only).
MARKS: Final = ("lost", "blocked")


def wallet_key_name(wallet: str) -> str:
    return f"wallet-{wallet}"


def card_key_name(card: str) -> str:
    return f"card-{card[:16]}"


def card_only_wallet(city: str, official: str, key: str) -> str:
    """The id of the card-only wallet an official's issue under `key` opens (the same on a
    retry, so a retry opens no second wallet)."""
    return "wc-" + derived_id(city, official, "card/wallet", key)[:16]


@dataclass(frozen=True)
class Step:
    """A signed ledger command, and what it does in words (for LedgerRefused)."""

    what: str
    envelope: bytes


@dataclass(frozen=True)
class PreparedCard:
    """A card recorded whose ledger steps (open the wallet, bind) are not run yet."""

    record: CardRecord
    number: str
    bind: str
    steps: tuple[Step, ...]


def valid_terminal_id(terminal: str) -> bool:
    return len(terminal) == TERMINAL_ID_LENGTH and terminal.isascii() and terminal.isalnum()


class CardService:
    """Implements CardAuthority (`answer`) and the counter services."""

    def __init__(
        self,
        repo: CardRepository,
        ledgers: Ledgers,
        master: Sealer,
        clock: Callable[[], int],
        hasher: argon2.PasswordHasher | None = None,
    ) -> None:
        self.repo = repo
        self.ledgers = ledgers
        self.store = ledgers.store
        self.keys = ledgers.keys
        self.master = master
        self.clock = clock
        self.hasher = hasher or argon2.PasswordHasher()
        self._secrets: dict[str, bytes] = {}
        self._card_keys: dict[tuple[str, str], nacl.signing.SigningKey] = {}

    # -- the terminals' side ---------------------------------------------------------------

    def answer(self, request: CardRequest) -> CardAnswer:
        return authorize.answer(self, request)

    def secret(self, city: str) -> bytes:
        """The city's card secret: made at the first card, then kept in the key store."""
        found = self._secrets.get(city)
        if found is None:
            found = bytes(self.keys.get_or_create(city, SECRET_KEY_NAME))
            self._secrets[city] = found
        return found

    def card_key(self, city: str, card: str, create: bool = False) -> nacl.signing.SigningKey:
        """The key that signs the card's holds: made when the card is issued, only loaded
        after (a key made anew would not be the one bound on the chain)."""
        found = self._card_keys.get((city, card))
        if found is None:
            name = card_key_name(card)
            found = self.keys.get_or_create(city, name) if create else self.keys.load(city, name)
            self._card_keys[(city, card)] = found
        return found

    def find_card(self, city: str, number: str) -> CardRecord | None:
        row = self.repo.card(city, numbers.card_id(self.secret(city), number))
        return None if row is None else CardRecord.of(row)

    # -- cards -----------------------------------------------------------------------------

    def issue(
        self,
        official: Principal,
        city: str,
        key: str,
        wallet: str | None = None,
        pin: str | None = None,
        replaces: str = "",
    ) -> IssuedCard:
        """A new card: for a new card-only wallet (`wallet` None) or an existing wallet."""
        prepared = self.prepare(official, city, key, wallet, pin, replaces)
        for step in prepared.steps:
            self._run(city, step)
        return IssuedCard(
            view=self._view(prepared.record), number=prepared.number, bind=prepared.bind
        )

    def prepare(
        self,
        official: Principal,
        city: str,
        key: str,
        wallet: str | None = None,
        pin: str | None = None,
        replaces: str = "",
    ) -> PreparedCard:
        """What `issue` does up to the ledger: the card's row, number and key recorded, and
        the signed commands that open its wallet and bind it, not yet run. For a caller
        that batches many cards' commands (the demo seeds hundreds with execute_many)."""
        self._official(official, city)
        key = _idem_key(key)
        if pin is not None and not pins.valid_pin(pin):
            raise BadPin("a PIN is 4 to 6 digits")
        custodial, known = True, wallet is not None
        if wallet is None:
            wallet = card_only_wallet(city, official.id, key)
        else:
            custodial = self._wallet(city, wallet).custodial
            if custodial:
                self._custodial_key(city, wallet)  # before any row: MissingKey if not held here
        record = self._recorded(official, city, key, wallet, custodial, pin, replaces)
        if record.wallet != wallet:
            raise IdempotencyKeyReused("this idempotency key was used for another card")
        number = self.master.open(record.sealed, seal_context(city, record.card)).decode()
        bind, steps = self._bind(record, official, key, new_wallet=not known)
        return PreparedCard(record, number, bind, steps)

    def _recorded(
        self,
        official: Principal,
        city: str,
        key: str,
        wallet: str,
        custodial: bool,
        pin: str | None,
        replaces: str,
    ) -> CardRecord:
        """The card row of this key: made now, or the one a first try made."""
        bin6 = self.repo.bin_of(city, numbers.bin_of)
        number = numbers.new_number(bin6)
        card = numbers.card_id(self.secret(city), number)
        now = self.clock()
        fresh = CardRecord(
            city=city,
            card=card,
            wallet=wallet,
            last4=number[-4:],
            expiry=numbers.expiry_of(now),
            status=ACTIVE,
            custodial=custodial,
            sealed=self.master.seal(number.encode(), seal_context(city, card)),
            pin_hash="" if pin is None else pins.hash_pin(self.hasher, pin),
            pin_tries=0,
            idem_key=key,
            issued_by=official.id,
            issued_ms=now,
            changed_ms=now,
            replaces=replaces,
        )
        return CardRecord.of(self.repo.add_card(fresh.row()))

    def _bind(
        self, record: CardRecord, official: Principal, key: str, new_wallet: bool
    ) -> tuple[str, tuple[Step, ...]]:
        """The steps that bind a card-only wallet's card on the chain (opening the wallet
        first); for a wallet with its own key, no step but the BindCard its holder must
        sign (canonical JSON)."""
        city = record.city
        bind = c.BindCard(
            id=derived_id(city, "cards", "bind", record.card),
            city=city,
            wallet=record.wallet,
            card=record.card,
            key=public_key_hex(self.card_key(city, record.card, create=True)),
            active=True,
        )
        if not record.custodial:
            return c.encode_canonical(bind).decode(), ()
        if not new_wallet:  # the key the chain already knows: never a new one
            return "", (
                Step(
                    "binding the card",
                    sign_command(bind, [self._custodial_key(city, record.wallet)]),
                ),
            )
        signing = self.keys.get_or_create(city, wallet_key_name(record.wallet))
        opened = c.OpenWallet(
            id=derived_id(city, official.id, "card/open", key),
            city=city,
            wallet=record.wallet,
            keys=[public_key_hex(signing)],
            custodial=True,
        )
        return "", (
            Step("opening the card's wallet", sign_command(opened, [signing])),
            Step("binding the card", sign_command(bind, [signing])),
        )

    def _execute(
        self, city: str, command: c.Command, key: nacl.signing.SigningKey, what: str
    ) -> Receipt:
        return self._run(city, Step(what, sign_command(command, [key])))

    def _run(self, city: str, step: Step) -> Receipt:
        receipt = self.ledgers.execute(city, step.envelope)
        if not receipt.ok:
            raise LedgerRefused(step.what, receipt.code)
        return receipt

    def cards(self, person: Principal, city: str, wallet: str) -> list[CardView]:
        self._staff(person, city)
        return [self._view(CardRecord.of(row)) for row in self.repo.cards_of(city, wallet)]

    def card(self, person: Principal, city: str, card: str) -> CardView:
        self._staff(person, city)
        return self._view(self._card(city, card))

    def mark(self, official: Principal, city: str, card: str, status: str) -> CardView:
        """A card reported lost or blocked: refused by every terminal from now on; a
        card-only wallet's card is also unbound on the chain, so no key can hold with it."""
        self._official(official, city)
        if status not in MARKS:
            raise BadCardInput(f"a card is marked lost or blocked, not {status!r}")
        record = self._card(city, card)
        if record.status == status:
            return self._view(record)  # said twice (a form sent again): the same answer
        if record.status != ACTIVE:
            raise CardNotActive(f"the card is already {record.status}")
        self.repo.set_status(city, card, status, self.clock())
        self._unbind(record)
        return self._view(self._card(city, card))

    def _unbind(self, record: CardRecord) -> None:
        if not record.custodial:
            return  # the wallet's holder unbinds it; the host refuses it meanwhile
        city = record.city
        signing = self._custodial_key(city, record.wallet)
        unbind = c.BindCard(
            id=derived_id(city, "cards", "unbind", record.card),
            city=city,
            wallet=record.wallet,
            card=record.card,
            key=public_key_hex(self.card_key(city, record.card)),
            active=False,
        )
        self._execute(city, unbind, signing, "unbinding the card")

    def reissue(self, official: Principal, city: str, card: str, key: str) -> IssuedCard:
        """A new number for the same wallet (its PIN carried over); the old card, if still
        active, is marked replaced and unbound."""
        self._official(official, city)
        old = self._card(city, card)
        issued = self.issue(official, city, key, old.wallet, None, replaces=old.card)
        if old.pin_hash:
            self.repo.set_pin(city, issued.view.card, old.pin_hash, self.clock())
        if old.status == ACTIVE:
            self.repo.set_status(city, card, "replaced", self.clock())
            self._unbind(old)
        return IssuedCard(
            self._view(self._card(city, issued.view.card)), issued.number, issued.bind
        )

    def set_pin(self, official: Principal, city: str, card: str, pin: str | None) -> CardView:
        """A new PIN (None: no PIN); the wrong tries counted so far are forgotten."""
        self._official(official, city)
        if pin is not None and not pins.valid_pin(pin):
            raise BadPin("a PIN is 4 to 6 digits")
        record = self._card(city, card)
        if record.status != ACTIVE:
            raise CardNotActive(f"the card is {record.status}")
        pin_hash = "" if pin is None else pins.hash_pin(self.hasher, pin)
        self.repo.set_pin(city, card, pin_hash, self.clock())
        return self._view(self._card(city, card))

    # -- money at the counter --------------------------------------------------------------

    def balance(self, person: Principal, city: str, wallet: str) -> BalanceView:
        self._staff(person, city)
        return self.wallet_balance(city, wallet)

    def wallet_balance(self, city: str, wallet: str) -> BalanceView:
        view = inspect.wallet_view(self.store, city, wallet)
        programs = [ProgramBalance(p, a) for p, a in sorted(view.by_program.items()) if a]
        return BalanceView(wallet=wallet, balance=view.balance, by_program=programs)

    def top_up(
        self, official: Principal, city: str, wallet: str, program: str, amount: int, key: str
    ) -> TopUpView:
        """Cash taken at the counter for a card-only wallet: the wallet orders the sale
        (its custodial key signs, so every purchase limit applies as to anyone), then the
        operator confirms the deposit: the won go to the trust account."""
        self._official(official, city)
        key = _idem_key(key)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise BadCardInput("the amount is a whole number of won above 0")
        if not self._wallet(city, wallet).custodial:
            raise BadCardInput("only a card-only wallet is topped up at the counter")
        signing = self._custodial_key(city, wallet)
        order_id = derived_id(city, official.id, "card/topup-order", key)
        order = c.OrderPurchase(
            id=order_id, city=city, wallet=wallet, program=program, amount=amount
        )
        ordered = self._execute(city, order, signing, "the order")
        _, operator = current_operator(self.ledgers, city)
        confirm = c.ConfirmPurchase(
            id=derived_id(city, official.id, "card/topup-confirm", key),
            city=city,
            wallet=wallet,
            order=order_id,
            amount=amount,
            deposit_ref=f"counter:{official.username or official.id}:{key}",
        )
        self._execute(city, confirm, operator, "the counter's deposit")
        lots = (ordered.result.lots if ordered.result is not None else None) or []
        credited = sum(int(units) for _, units in lots) or amount
        return TopUpView(wallet, order_id, amount, credited, self.wallet_balance(city, wallet))

    # -- terminals -------------------------------------------------------------------------

    def add_terminal(
        self, person: Principal, city: str, terminal: str, merchant: str
    ) -> TerminalView:
        """A terminal registered to a merchant, by an official or the merchant's owner."""
        self._manages_terminals(person, city, merchant)
        if not valid_terminal_id(terminal):
            raise BadCardInput("a terminal id is 8 letters or digits")
        inspect.merchant_view(self.store, city, merchant)  # NotFound if no such merchant
        fresh = TerminalRecord(terminal, city, merchant, person.id, self.clock())
        recorded = TerminalRecord.of(self.repo.add_terminal(fresh.row()))
        if (recorded.city, recorded.merchant) != (city, merchant):
            raise TerminalTaken(f"terminal {terminal} is registered to another merchant")
        return _terminal_view(recorded)

    def terminals(self, person: Principal, city: str, merchant: str | None) -> list[TerminalView]:
        if merchant is None:
            self._staff(person, city)
        else:
            self._reads_terminals(person, city, merchant)
        rows = self.repo.terminals(city, merchant)
        return [_terminal_view(TerminalRecord.of(row)) for row in rows]

    def remove_terminal(self, person: Principal, city: str, terminal: str) -> None:
        found = self.terminal(terminal)
        if found is None or found.city != city:
            raise TerminalNotFound(f"no terminal {terminal!r} in city {city!r}")
        self._manages_terminals(person, city, found.merchant)
        self.repo.remove_terminal(city, terminal)

    def terminal(self, terminal: str) -> TerminalRecord | None:
        row = self.repo.terminal(terminal)
        return None if row is None else TerminalRecord.of(row)

    def merchant_active(self, city: str, merchant: str) -> bool:
        raw = self.store.state_value(city, f"m:{merchant}")
        return raw is not None and msgspec.json.decode(raw, type=Merchant).status == MERCHANT_ACTIVE

    # -- helpers ---------------------------------------------------------------------------

    def _card(self, city: str, card: str) -> CardRecord:
        row = self.repo.card(city, card)
        if row is None:
            raise CardNotFound(f"no card {card[:16]}… in city {city!r}")
        return CardRecord.of(row)

    def _wallet(self, city: str, wallet: str) -> Wallet:
        raw = self.store.state_value(city, f"w:{wallet}")
        if raw is None:
            raise CardNotFound(f"no wallet {wallet!r} in city {city!r}")
        return msgspec.json.decode(raw, type=Wallet)

    def _custodial_key(self, city: str, wallet: str) -> nacl.signing.SigningKey:
        try:
            return self.keys.load(city, wallet_key_name(wallet))
        except KeyError:
            raise MissingKey(
                f"this server holds no custodial key for wallet {wallet!r} of city {city!r}"
            ) from None

    def _view(self, record: CardRecord) -> CardView:
        wallet = self.store.state_value(record.city, f"w:{record.wallet}")
        bound = wallet is not None and record.card in _cards_of(wallet)
        return CardView(
            card=record.card,
            wallet=record.wallet,
            last4=record.last4,
            masked=numbers.masked(record.last4),
            expiry=record.expiry,
            status=record.status,
            custodial=record.custodial,
            pin=bool(record.pin_hash),
            pin_locked=record.pin_tries >= pins.MAX_TRIES,
            bound=bound,
            issued_ms=record.issued_ms,
            replaces=record.replaces,
        )

    @staticmethod
    def _official(person: Principal, city: str) -> None:
        if person.city != city or person.role not in OFFICIAL_ROLES:
            raise NotCounterStaff("not found")

    @staticmethod
    def _staff(person: Principal, city: str) -> None:
        if person.city != city or person.role not in CITY_STAFF:
            raise NotCounterStaff("not found")

    @staticmethod
    def _manages_terminals(person: Principal, city: str, merchant: str) -> None:
        own = person.role == "merchant_owner" and person.merchant == merchant
        if person.city != city or not (person.role in OFFICIAL_ROLES or own):
            raise NotCounterStaff("not found")

    @staticmethod
    def _reads_terminals(person: Principal, city: str, merchant: str) -> None:
        own = person.role == "merchant_owner" and person.merchant == merchant
        if person.city != city or not (person.role in CITY_STAFF or own):
            raise NotCounterStaff("not found")


class _CardsOnly(msgspec.Struct):
    cards: dict[str, str] = {}


def _cards_of(wallet_json: bytes) -> dict[str, str]:
    """The cards bound to a wallet (card id -> key), from its state entity."""
    return msgspec.json.decode(wallet_json, type=_CardsOnly).cards


def seal_context(city: str, card: str) -> bytes:
    """What a card's sealed number is bound to: its city and card id."""
    return f"localpay/card-number/v1\n{city}\n{card}".encode()


def _idem_key(key: str) -> str:
    if not (1 <= len(key) <= 128 and key.isascii() and key.isprintable() and " " not in key):
        raise BadCardInput("an idempotency key is 1 to 128 printable characters")
    return key


def _terminal_view(record: TerminalRecord) -> TerminalView:
    return TerminalView(record.terminal, record.city, record.merchant, record.added_ms)
