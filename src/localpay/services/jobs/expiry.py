"""Expiry: at the end of each Korean day, every wallet's lots whose validity ended.

One `expire` per wallet with such lots, signed by the operator; the ledger returns policy
money to its program's budget and turns purchased money into a pending won payout
(ledger/machine._expire, ledger/sales.owe_expired). The id is derived from the wallet and
the Korean day of the run, so a second run that day is answered with the first receipt;
a run on a later day finds nothing due in the state for a wallet already expired."""

from __future__ import annotations

from collections.abc import Iterable

from localpay.domain import commands as c
from localpay.domain.calendar import iso_date
from localpay.ledger.state import Wallet
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs import scan
from localpay.services.jobs.submit import Tally, job_id, operator_signer, submit_all


def due_wallets(wallets: Iterable[Wallet], now_ms: int) -> list[str]:
    """Wallets holding a lot whose validity ended by `now_ms` (as the ledger judges it)."""
    return [w.id for w in wallets if any(lot.expires_ms <= now_ms for lot in w.lots)]


def commands(city: str, wallets: Iterable[str], now_ms: int) -> list[c.Expire]:
    day = iso_date(now_ms)
    return [
        c.Expire(id=job_id(city, "expire", f"{wallet}@{day}"), city=city, wallet=wallet)
        for wallet in wallets
    ]


def run(ledgers: Ledgers, city: str, now_ms: int) -> Tally:
    due = due_wallets(scan.wallets(ledgers.store, city), now_ms)
    if not due:
        return Tally()
    sign = operator_signer(ledgers, city)  # only when there is something to sign
    return submit_all(ledgers, city, [sign(cmd) for cmd in commands(city, due, now_ms)])
