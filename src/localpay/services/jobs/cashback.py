"""Month-end cashback: after a Korean month ends, each cashback sale pays every wallet
that spent purchased money of it in that month (ledger/sales.cashback).

The ledger pays a wallet, program and month once (`paid_month`), so a re-run pays nobody
twice; the state says who is paid already, so a re-run does not even ask. The id is
derived from the wallet, program, month and the day of the run: a second run that day is
answered with the first receipts, and a run by hand on a later day (after the officials
topped up a budget that ran short) asks again for those still unpaid.

The ledger keeps a wallet's spending for this month and the last one only: a month's
cashback must be paid within the following month."""

from __future__ import annotations

from collections.abc import Iterable

from localpay.domain import commands as c
from localpay.domain.calendar import iso_date
from localpay.domain.policy import BP, Sale
from localpay.ledger.state import Accrual, Program, Wallet
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs import scan
from localpay.services.jobs.submit import Tally, job_id, operator_signer, submit_all


def month_label(month: int) -> str:
    """A month key (year * 12 + month - 1) as people write it: 2026-12."""
    return f"{month // 12}-{month % 12 + 1:02d}"


def cashback_sales(programs: Iterable[Program]) -> dict[str, Sale]:
    """The programs whose current version is a cashback sale."""
    found = {}
    for program in programs:
        sale = program.versions[-1].sale
        if sale is not None and sale.mode == "cashback":
            found[program.id] = sale
    return found


def _spent(acc: Accrual, month: int) -> int:
    return acc.base(month)


def due(wallets: Iterable[Wallet], sales: dict[str, Sale], month: int) -> list[tuple[str, str]]:
    """(wallet, program) pairs owed a cashback for `month` and not paid it yet."""
    owed = []
    for wallet in wallets:
        for program, sale in sales.items():
            acc = wallet.accruals.get(program)
            if acc is None or acc.paid_month >= month:
                continue
            if _spent(acc, month) * sale.rate_bp // BP > 0:
                owed.append((wallet.id, program))
    return owed


def run(ledgers: Ledgers, city: str, now_ms: int, month: int) -> Tally:
    sales = cashback_sales(scan.programs(ledgers.store, city))
    if not sales:
        return Tally()
    owed = due(scan.wallets(ledgers.store, city), sales, month)
    if not owed:
        return Tally()
    day = iso_date(now_ms)
    sign = operator_signer(ledgers, city)
    envelopes = [
        sign(
            c.Cashback(
                id=job_id(city, "cashback", f"{wallet}:{program}:{month}@{day}"),
                city=city,
                wallet=wallet,
                program=program,
                month=month,
            )
        )
        for wallet, program in owed
    ]
    return submit_all(ledgers, city, envelopes)
