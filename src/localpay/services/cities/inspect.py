"""Read-only views of a city's chain and state, for people: typed (views.py), shared by
the CLI, the API and the pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import msgspec

from localpay.domain.calendar import iso_date
from localpay.domain.commands import CreateCity, decode_envelope
from localpay.domain.errors import NotFound
from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.ports import Store
from localpay.ledger.state import Merchant, Program, Totals, Wallet
from localpay.services.cities.views import (
    BlockView,
    CityHead,
    CitySummary,
    LotView,
    TxSummary,
    WalletView,
)

T = TypeVar("T")


def _entity(store: Store, city: str, key: str, kind: type[T]) -> T:
    raw = store.state_value(city, key)
    if raw is None:
        raise NotFound(f"{key.split(':', 1)[-1]!r} not found in city {city!r}")
    return msgspec.json.decode(raw, type=kind)


def require_city(store: Store, city: str) -> CreateCity:
    if city not in store.cities():
        raise NotFound(f"city {city!r} does not exist in this store")
    return _entity(store, city, "g", CreateCity)


def city_head(store: Store, city: str) -> CityHead:
    """The city's name, newest block and totals: the genesis, the head, the totals."""
    genesis = require_city(store, city)
    head = store.head(city)
    assert head is not None
    header = msgspec.json.decode(head.header_bytes, type=BlockHeader)
    totals = _entity(store, city, "c", Totals)
    return CityHead(
        city=city,
        name=genesis.name,
        height=header.height,
        transactions=header.log_size,
        log_root=header.log_root,
        last_block_time=iso_date(header.time_ms),
        minted=totals.minted,
        burned=totals.burned,
        supply=totals.minted - totals.burned,
    )


def city_summary(store: Store, city: str) -> CitySummary:
    """city_head and how many accounts of each kind (a scan of the whole state)."""
    head = city_head(store, city)
    kinds: dict[str, int] = {}
    for key, _ in store.state(city):
        kinds[key[0]] = kinds.get(key[0], 0) + 1
    return CitySummary(
        **msgspec.structs.asdict(head),
        wallets=kinds.get("w", 0),
        merchants=kinds.get("m", 0),
        programs=kinds.get("p", 0),
    )


def wallet_view(store: Store, city: str, wallet_id: str) -> WalletView:
    require_city(store, city)
    wallet = _entity(store, city, f"w:{wallet_id}", Wallet)
    by_program: dict[str, int] = {}
    for lot in wallet.lots:
        by_program[lot.program] = by_program.get(lot.program, 0) + lot.amount
    lots = [
        LotView(lot.id, lot.program, lot.amount, iso_date(lot.expires_ms - 1), lot.origin)
        for lot in wallet.lots
    ]
    return WalletView(wallet.id, wallet.custodial, wallet.balance(), by_program, lots)


def merchant_view(store: Store, city: str, merchant_id: str) -> Merchant:
    require_city(store, city)
    return _entity(store, city, f"m:{merchant_id}", Merchant)


def program_view(store: Store, city: str, program_id: str) -> Program:
    require_city(store, city)
    return _entity(store, city, f"p:{program_id}", Program)


def blocks_view(store: Store, city: str, last: int = 10) -> list[BlockHeader]:
    require_city(store, city)
    head = store.head(city)
    assert head is not None
    start = max(0, head.height - last + 1)
    return [
        msgspec.json.decode(b.header_bytes, type=BlockHeader) for b in store.blocks(city, start)
    ]


def tx_summary(tx: TxRecord, viewer: str | None = None) -> TxSummary:
    """A transaction as its readers see it: the recorded result, and `balance` (after
    it) only if `viewer` is the account that sent it: never another party's."""
    envelope, command = decode_envelope(tx.envelope)
    return TxSummary(
        seq=tx.seq,
        height=tx.height,
        id=tx.id,
        kind=tx.kind,
        command=command,
        signers=[s.key for s in envelope.sigs],
        # Rows recorded before balances left the leaf still carry one: never shown.
        result=tx.decoded_result().recorded(),
        balance=own_balance(tx.balances, viewer),
    )


def own_balance(balances: Iterable[tuple[str, int]], viewer: str | None) -> int | None:
    """The viewer's own balance among a transaction's private balances, if any."""
    return dict(balances).get(viewer) if viewer is not None else None


def block_view(store: Store, city: str, height: int) -> BlockView:
    require_city(store, city)
    found = list(store.blocks(city, height, height + 1))
    if not found:
        raise NotFound(f"block {height} not found in city {city!r}")
    block = found[0]
    return BlockView(
        header=msgspec.json.decode(block.header_bytes, type=BlockHeader),
        hash=block.hash.hex(),
        checkpoint=block.checkpoint,
        txs=[tx_summary(t) for t in store.block_txs(city, height)],
    )


def tx_view(store: Store, city: str, tx_id: str, viewer: str | None = None) -> TxSummary:
    require_city(store, city)
    tx = store.find_tx(city, tx_id)
    if tx is None:
        raise NotFound(f"transaction {tx_id!r} not found in city {city!r}")
    return tx_summary(tx, viewer)


def wallet_keys(store: Store, city: str, wallet_id: str) -> list[str]:
    """The public keys registered for a wallet on the chain."""
    return list(_entity(store, city, f"w:{wallet_id}", Wallet).keys)
