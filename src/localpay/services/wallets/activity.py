"""A wallet's transactions as its citizen reads them: what kind, with whom, how much,
when, and which programs a payment drew from.

Read from the chain's records (the transaction, its block's time) and the state (a
payment's draws while its record stays, the wallet's lots): no personal data, and only
for the wallet the caller says is the reader's own (the pages check that first).
"""

from __future__ import annotations

from typing import Final

import msgspec

from localpay.domain.commands import (
    Command,
    Credit,
    Expire,
    OpenWallet,
    Pay,
    Refund,
    Transfer,
    decode_envelope,
)
from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.ledger.state import Payment
from localpay.services.wallets.preview import load_programs, load_wallet, program_name

#: The kinds of a wallet's line; the pages word them (결제, 환불, 선물, 받음, 지급, 소멸).
PAID: Final = "paid"
REFUNDED: Final = "refunded"
GAVE: Final = "gave"
RECEIVED: Final = "received"
CREDITED: Final = "credited"
EXPIRED: Final = "expired"
OPENED: Final = "opened"
OTHER: Final = "other"


class Drawn(msgspec.Struct, frozen=True):
    program: str
    name: str
    amount: int


class Line(msgspec.Struct, frozen=True):
    """One transaction of the wallet. `signed` is the amount with its direction for the
    wallet (a payment negative, a refund positive); `party` the shop (merchant id), the
    other wallet, or the program credited; `code` "ok" or why the ledger refused it."""

    id: str
    seq: int
    kind: str
    party: str
    amount: int
    signed: int
    at_ms: int
    code: str

    @property
    def ok(self) -> bool:
        return self.code == "ok"


def _block_time(store: Store, city: str, height: int, cache: dict[int, int]) -> int:
    if height not in cache:
        found = next(iter(store.blocks(city, height, height + 1)), None)
        header = msgspec.json.decode(found.header_bytes, type=BlockHeader) if found else None
        cache[height] = header.time_ms if header else 0
    return cache[height]


def _kind(command: Command, wallet: str, result: Result) -> tuple[str, str, int]:
    """(kind, party, amount) of a command for `wallet`."""
    if isinstance(command, Pay):
        return PAID, command.merchant, -command.amount
    if isinstance(command, Refund):
        return REFUNDED, command.merchant, command.amount
    if isinstance(command, Transfer):
        if command.wallet == wallet:
            return GAVE, command.to, -command.amount
        return RECEIVED, command.wallet, command.amount
    if isinstance(command, Credit):
        return CREDITED, command.program, command.amount
    if isinstance(command, OpenWallet):
        return OPENED, "", 0
    if isinstance(command, Expire):
        return EXPIRED, "", -sum(amount for _, amount in result.lots or [])
    return OTHER, "", 0


def line_of(
    store: Store, city: str, wallet: str, tx: TxRecord, times: dict[int, int] | None = None
) -> Line:
    _, command = decode_envelope(tx.envelope)
    result = tx.decoded_result()
    kind, party, signed = _kind(command, wallet, result)
    at = _block_time(store, city, tx.height, {} if times is None else times)
    return Line(tx.id, tx.seq, kind, party, abs(signed), signed, at, result.code)


def lines(store: Store, city: str, wallet: str, txs: list[TxRecord]) -> list[Line]:
    """History rows, in the order given (newest first from the history index)."""
    times: dict[int, int] = {}
    return [line_of(store, city, wallet, tx, times) for tx in txs]


def drawn(store: Store, city: str, wallet: str, tx: TxRecord) -> list[Drawn]:
    """Which programs the money of a transaction was, by the lots its result names: a
    payment's record while the state keeps it (its draws name the program), else the
    lots as they are now in the wallets the command names (a gift's new lots are the
    receiver's); a lot spent to nothing since, after the record retired, is "" (unknown)."""
    result = tx.decoded_result()
    if not result.ok or not result.lots:
        return []
    _, command = decode_envelope(tx.envelope)
    by_lot: dict[str, str] = {}
    for account in {wallet, *_wallets_of(command)}:
        current = load_wallet(store, city, account)
        if current is not None:
            by_lot |= {lot.id: lot.program for lot in current.lots}
    raw = store.state_value(city, f"x:{tx.id}")
    if raw is not None:
        by_lot |= {d.lot: d.program for d in msgspec.json.decode(raw, type=Payment).draws}
    totals: dict[str, int] = {}
    for lot, amount in result.lots:
        program = by_lot.get(lot, "")
        totals[program] = totals.get(program, 0) + amount
    programs = load_programs(store, city, (p for p in totals if p))
    return [
        Drawn(program, program_name(programs.get(program), program), amount)
        for program, amount in sorted(totals.items())
    ]


def _wallets_of(command: Command) -> tuple[str, ...]:
    if isinstance(command, Transfer):
        return (command.wallet, command.to)
    if isinstance(command, Pay | Credit | Expire):
        return (command.wallet,)
    return ()
