"""Sales (구매/충전): a citizen's signed order goes to the ledger, which checks every
limit and holds the discount before any won moves; the bank then opens a virtual
account for it; the bank's deposit notice becomes the operator's confirm_purchase.

Idempotent end to end: the order is the citizen's signed command (its id is the
purchase's id and the key of its virtual account); a notice's confirm_purchase has an
id derived from the notice's id, so a repeated notice (the bank sends at least once)
gets the original receipt and nothing moves twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import msgspec

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.commands import DecodeError, command_type, decode_envelope
from localpay.domain.errors import NotFound, Refused
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import Payout, Program, Purchase, Wallet
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.officials import current_operator
from localpay.services.sales import notices
from localpay.services.sales.ports import (
    Bank,
    BankUnavailable,
    Deposit,
    NoticeRecord,
    SaleOrder,
    SaleRepository,
)
from localpay.services.sales.rooms import SaleRoom, refusal_limit, sale_room

T = TypeVar("T")

#: (city, program, waiting-room ticket or None) -> may this visitor order now?
Admission = Callable[[str, str, str | None], bool]
#: The principal name the bank's notices are relayed as (for derived command ids).
BANK_ACTOR: Final = "bank"
WALLET_COMMANDS: Final = frozenset({"cancel_purchase", "refund_balance"})


def always(city: str, program: str, ticket: str | None) -> bool:
    """No waiting room: everyone may order."""
    return True


def _no_ticket(program: str) -> str | None:
    return None


class QueueRequired(Refused):
    """The sale is opening with a waiting room: take a place in line first."""

    code = "queue_required"


class NotAnOrder(Refused):
    code = "wrong_command_type"


class NoBank(BankUnavailable):
    """This server was started without a bank (`localpay serve --bank URL`)."""


@dataclass(frozen=True)
class OrderAnswer:
    receipt: Receipt
    deposit: Deposit | None = None
    bonus: int = 0
    limit: int | None = None
    room: int | None = None


@dataclass(frozen=True)
class ProgramSale:
    program: str
    name: str
    mode: str
    rate_bp: int
    monthly_limit: int
    holding_limit: int
    discount_cap: int
    when_budget_out: str
    budget: int
    reserved: int
    sold: int
    bonus: int


def entity(store: Store, city: str, key: str, kind: type[T]) -> T | None:
    raw = store.state_value(city, key)
    return None if raw is None else msgspec.json.decode(raw, type=kind)


class Sales:
    def __init__(
        self,
        ledgers: Ledgers,
        store: Store,
        repo: SaleRepository,
        bank: Bank | None,
        secret: bytes,
        clock: Callable[[], int],
        admission: Admission = always,
    ) -> None:
        self.ledgers = ledgers
        self.store = store
        self.repo = repo
        self.bank = bank
        self.secret = secret
        self.clock = clock
        self.admission = admission

    # -- reads ---------------------------------------------------------------------------

    def program(self, city: str, program: str) -> Program:
        found = entity(self.store, city, f"p:{program}", Program)
        if found is None or found.versions[-1].sale is None:
            raise NotFound(f"no program {program!r} on sale in {city!r}")
        return found

    def on_sale(self, city: str) -> list[ProgramSale]:
        """The programs on sale now, with their budgets (public figures)."""
        state = self.ledgers.sequencer(city).state
        found = []
        for program_id in sorted(tuple(state.programs)):
            program = entity(self.store, city, f"p:{program_id}", Program)
            if program is not None and program.versions[-1].sale is not None:
                found.append(_program_sale(program))
        return found

    def room(self, city: str, wallet: str, program: str) -> SaleRoom:
        found = sale_room(self.program(city, program), self.wallet(city, wallet), self.clock())
        assert found is not None  # self.program only returns programs on sale
        return found

    def wallet(self, city: str, wallet: str) -> Wallet:
        found = entity(self.store, city, f"w:{wallet}", Wallet)
        if found is None:
            raise NotFound(f"no wallet {wallet!r} in {city!r}")
        return found

    def purchase(self, city: str, purchase: str) -> Purchase | None:
        return entity(self.store, city, f"u:{purchase}", Purchase)

    def payout(self, city: str, purchase: str) -> Payout | None:
        return entity(self.store, city, f"q:{purchase}", Payout)

    def purchase_ids(self, city: str, wallet: str) -> list[str]:
        """The wallet's orders through this service and any purchase it still holds."""
        ids = [o.order for o in self.repo.orders(city, wallet)]
        held = self.wallet(city, wallet).lots
        ids += [lot.id for lot in held if lot.origin.startswith("sale:") and lot.id not in ids]
        return ids

    # -- the order -----------------------------------------------------------------------

    def order(
        self, city: str, envelope: bytes, ticket_of: Callable[[str], str | None] = _no_ticket
    ) -> OrderAnswer:
        """The citizen's signed order_purchase; on OK the deposit instructions.
        `ticket_of(program)`: the caller's waiting-room ticket for that program's line."""
        command = _command(envelope, city, frozenset({"order_purchase"}))
        assert isinstance(command, c.OrderPurchase)
        if not self.admission(city, command.program, ticket_of(command.program)):
            raise QueueRequired("this sale has a waiting room: take a place in line first")
        if self.bank is None:
            raise NoBank("no bank is connected to this server: orders cannot be paid")
        receipt = self.ledgers.execute(city, envelope)
        if not receipt.ok:
            return self._refusal(city, command, receipt)
        return self._deposit(city, command, receipt)

    def _refusal(self, city: str, command: c.OrderPurchase, receipt: Receipt) -> OrderAnswer:
        result = receipt.result
        if result is not None and result.limit is not None:
            return OrderAnswer(receipt, limit=result.limit, room=result.room)
        program = entity(self.store, city, f"p:{command.program}", Program)
        if program is None:
            return OrderAnswer(receipt)
        wallet = entity(self.store, city, f"w:{command.wallet}", Wallet)
        room = sale_room(program, wallet, self.clock())
        named = refusal_limit(receipt.code, program, room, command.amount)
        return (
            OrderAnswer(receipt, limit=named[0], room=named[1]) if named else OrderAnswer(receipt)
        )

    def _deposit(self, city: str, command: c.OrderPurchase, receipt: Receipt) -> OrderAnswer:
        """Open (or find again) the order's virtual account."""
        assert self.bank is not None
        purchase = self.purchase(city, command.id)
        assert purchase is not None  # the ledger just recorded it
        known = self.repo.order(city, command.id)
        if known is None:
            deposit = self.bank.open_deposit(
                city, command.id, purchase.amount, purchase.deadline_ms
            )
            known = self.repo.add_order(
                SaleOrder(
                    city,
                    command.id,
                    command.wallet,
                    command.program,
                    purchase.amount,
                    purchase.bonus,
                    deposit.account,
                    purchase.deadline_ms,
                    self.clock(),
                )
            )
        deposit = Deposit(known.order, known.account, known.amount, known.deadline_ms, _bank(self))
        return OrderAnswer(receipt, deposit, purchase.bonus)

    # -- the bank's notice ---------------------------------------------------------------

    def on_deposit(self, body: bytes, signature: str | None) -> Receipt:
        """A deposit notice: verified, matched to its order, confirmed on the chain once."""
        notice = notices.verified(self.secret, body, signature)
        order = self.repo.by_account(notice.account)
        if order is None:
            raise NotFound(f"no order has the virtual account {notice.account!r}")
        tx = derived_id(order.city, BANK_ACTOR, "confirm_purchase", notice.notice)
        record = self.repo.add_notice(
            NoticeRecord(
                notice.notice, order.city, order.order, notice.amount, notice.deposit_ref, tx, ""
            )
        )
        confirm = c.ConfirmPurchase(
            id=record.tx,
            city=order.city,
            wallet=order.wallet,
            order=order.order,
            amount=record.amount,
            deposit_ref=record.deposit_ref,
        )
        _, key = current_operator(self.ledgers, order.city)
        receipt = self.ledgers.execute(order.city, sign_command(confirm, [key]))
        self.repo.answered(record.notice, receipt.code)
        return receipt

    # -- money back ----------------------------------------------------------------------

    def money_back(self, city: str, envelope: bytes) -> Receipt:
        """A wallet's signed cancel_purchase or refund_balance."""
        _command(envelope, city, WALLET_COMMANDS)
        return self.ledgers.execute(city, envelope)


def _command(envelope: bytes, city: str, kinds: frozenset[str]) -> c.Command:
    try:
        _, command = decode_envelope(envelope)
    except DecodeError as exc:
        raise Refused(f"{exc.code}: {exc}") from None
    if command_type(command) not in kinds:
        raise NotAnOrder(f"expected {' or '.join(sorted(kinds))}, got {command_type(command)}")
    if command.city != city:
        raise Refused(f"{Code.WRONG_CITY.value}: the command is for {command.city!r}")
    return command


def _bank(sales: Sales) -> str:
    return sales.bank.name if sales.bank is not None else ""


def _program_sale(program: Program) -> ProgramSale:
    policy = program.versions[-1]
    sale = policy.sale
    assert sale is not None
    return ProgramSale(
        program=program.id,
        name=policy.name,
        mode=sale.mode,
        rate_bp=sale.rate_bp,
        monthly_limit=sale.monthly_limit,
        holding_limit=policy.holding_cap,
        discount_cap=sale.bonus_monthly_cap,
        when_budget_out=sale.when_budget_out,
        budget=program.budget,
        reserved=program.reserved,
        sold=program.sold,
        bonus=program.bonus,
    )
