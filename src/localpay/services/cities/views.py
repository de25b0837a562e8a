"""What a city's read views return: typed, so the CLI, the API and the pages agree.

Each view turns into the JSON its readers get with `msgspec.to_builtins` (entrypoints
do that); a field left at its default (a balance the viewer may not see) is omitted.
"""

from __future__ import annotations

import msgspec

from localpay.domain.commands import Command
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.results import Result


class CityHead(msgspec.Struct, frozen=True):
    """A city at its newest block: read in three lookups, never a scan of its state (the
    pages show it on every view)."""

    city: str
    name: str
    height: int
    transactions: int
    log_root: str
    last_block_time: str
    minted: int
    burned: int
    supply: int


class CitySummary(msgspec.Struct, frozen=True):
    city: str
    name: str
    height: int
    transactions: int
    log_root: str
    last_block_time: str
    minted: int
    burned: int
    supply: int
    wallets: int
    merchants: int
    programs: int


class LotView(msgspec.Struct, frozen=True):
    lot: str
    program: str
    amount: int
    #: The last day the lot may be spent (KST), e.g. "2031-05-31".
    expires: str
    origin: str


class WalletView(msgspec.Struct, frozen=True):
    wallet: str
    #: A card-only wallet, whose key the city holds for its citizen.
    card: bool
    balance: int
    by_program: dict[str, int]
    lots: list[LotView]


class TxSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    """A transaction as its readers see it; `balance` only for the account that sent it."""

    seq: int
    height: int
    id: str
    kind: str
    command: Command
    signers: list[str]
    result: Result
    balance: int | None = None


class BlockView(msgspec.Struct, frozen=True):
    header: BlockHeader
    hash: str
    checkpoint: str
    txs: list[TxSummary]
