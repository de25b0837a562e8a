"""One pass over a city's committed state: the wallets and the programs, as the daily
jobs need them.

Why a scan once a day and not an index of next expiry kept by a block observer: every
lot expires at the end of a Korean day (domain/policy.lot_expiry_ms gives an end of day,
whether by date or by days), so the set of wallets due changes only at midnight. The
daily jobs (expiry, the 30- and 7-day notices, month-end cashback) each read the state
once a day; an index would put work on every block of the hot path (the 9 a.m. rush) for
a job that acts once a day. Measured in docs/jobs.md: ~1 s per 100,000 wallets.

The scan reads the store (what is durable), not the sequencer's memory, which its builder
thread mutates while we read."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from localpay.ledger.ports import Store
from localpay.ledger.state import Program, Purchase, Wallet

_WALLETS = msgspec.json.Decoder(Wallet)
_PROGRAMS = msgspec.json.Decoder(Program)
_PURCHASES = msgspec.json.Decoder(Purchase)


def wallets(store: Store, city: str) -> Iterator[Wallet]:
    for key, raw in store.state(city):
        if key.startswith("w:"):
            yield _WALLETS.decode(raw)


def programs(store: Store, city: str) -> list[Program]:
    return [_PROGRAMS.decode(raw) for key, raw in store.state(city) if key.startswith("p:")]


def purchases(store: Store, city: str) -> Iterator[Purchase]:
    for key, raw in store.state(city):
        if key.startswith("u:"):
            yield _PURCHASES.decode(raw)


def purchase(store: Store, city: str, ident: str) -> Purchase | None:
    raw = store.state_value(city, f"u:{ident}")
    return None if raw is None else _PURCHASES.decode(raw)
