"""Settlement reports from a small real chain (testing/town: a real store and sequencer,
a clock the test moves), to the won: the merchant's December statement and the city's
December report, their CSV (BOM, Korean header) and their PDF (the Korean title found
in the text pypdfium2 extracts)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2  # type: ignore[import-untyped]
import pytest

from localpay.adapters.documents.reports import WeasyReportRenderer
from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.history import SqlHistoryIndex
from localpay.adapters.sql.runner import SqlStore
from localpay.domain import commands as c
from localpay.domain.policy import default_sale
from localpay.ledger.receipt import Receipt
from localpay.services.cities.inspect import merchant_view
from localpay.services.cities.ledgers import new_id
from localpay.services.history.service import HistoryIndexer
from localpay.services.settlement import reports
from localpay.services.settlement.ports import ReserveProof
from localpay.testing.town import CITY, Town, kst

ACCOUNT = "ac" * 32
M = "m-00001"


@dataclass
class Chain:
    town: Town
    history: SqlHistoryIndex
    settled: str  # the payout the bank booked
    returned: str  # the payout it returned (AC04)
    pending: str  # the payout still in transit at the month's end (paid in January)


def _payout(town: Town, amount: int) -> str:
    command = c.Payout(id=new_id(), city=CITY, merchant=M, amount=amount, account=ACCOUNT)
    assert town.by(M, command).ok
    return command.id


def _refund(town: Town, paid: Receipt, amount: int) -> None:
    refund = c.Refund(id=new_id(), city=CITY, merchant=M, payment=paid.id, amount=amount)
    assert town.by(M, refund).ok


def _november(town: Town) -> None:
    town.program("general", 1_000_000)
    town.program("welfare", 100_000, valid_days=1)
    town.program("sale", 50_000, sale=default_sale(), holding_cap=1_500_000, valid_days=365)
    for wallet in ("w-1", "w-2", "w-3"):
        town.wallet(wallet)
    town.merchant(M)
    naming = c.SetPayoutAccount(id=new_id(), city=CITY, merchant=M, account=ACCOUNT)
    assert town.by(M, naming).ok
    town.credit("general", "w-1", 200_000)
    assert town.pay("w-1", M, 10_000).ok


def _december(town: Town) -> tuple[str, str, str]:
    town.clock.now = kst(2026, 12, 1, 10)
    town.official(c.Mint(id=new_id(), city=CITY, program="general", amount=300_000, won_ref="t"))
    assert town.pay("w-1", M, 30_000).ok
    _refund(town, town.pay("w-1", M, 5_000), 2_000)
    town.credit("welfare", "w-2", 40_000)
    town.clock.now = kst(2026, 12, 2, 10)
    town.buy("w-3", "sale", 50_000)
    assert town.pay("w-3", M, 20_000).ok
    settled = _payout(town, 25_000)
    town.clock.now = kst(2026, 12, 3, 10)
    town.official(
        c.SettlePayout(id=new_id(), city=CITY, payout=settled, bank_ref="KB-1", merchant=M)
    )
    returned = _payout(town, 8_000)
    town.clock.now = kst(2026, 12, 4, 10)
    town.official(
        c.ReturnPayout(id=new_id(), city=CITY, payout=returned, reason="AC04", merchant=M)
    )
    town.clock.now = kst(2026, 12, 5, 10)
    town.official(c.Expire(id=new_id(), city=CITY, wallet="w-2"))
    pending = _payout(town, 3_000)
    return settled, returned, pending


@pytest.fixture
def chain(store_url: str, store: SqlStore, keys: KeyStore) -> Iterator[Chain]:
    town = Town(store, keys, kst(2026, 11, 20, 10))
    town.url = store_url
    _november(town)
    settled, returned, pending = _december(town)
    town.clock.now = kst(2027, 1, 2, 10)
    assert town.pay("w-1", M, 1_000).ok  # January: in neither December report
    # Booked in January: still in transit at December's end (its statement shows it now).
    town.official(
        c.SettlePayout(id=new_id(), city=CITY, payout=pending, bank_ref="KB-3", merchant=M)
    )
    history = SqlHistoryIndex(store)
    HistoryIndexer(store, history).catch_up(CITY)
    yield Chain(town, history, settled, returned, pending)
    town.close()


def _statement(chain: Chain) -> reports.MerchantStatement:
    period = reports.parse_month("2026-12")
    return reports.merchant_statement(chain.town.store, chain.history, CITY, M, period)


def test_a_merchant_statement_has_each_day_s_sales_refunds_payouts_and_balance(
    chain: Chain,
) -> None:
    s = _statement(chain)
    day = dt.date
    assert s.opening == 10_000  # November's sale
    assert s.days == (
        reports.StatementDay(day(2026, 12, 1), 2, 35_000, 1, 2_000, 0, 0, 43_000),
        reports.StatementDay(day(2026, 12, 2), 1, 20_000, 0, 0, 25_000, 0, 38_000),
        reports.StatementDay(day(2026, 12, 3), 0, 0, 0, 0, 8_000, 0, 30_000),
        reports.StatementDay(day(2026, 12, 4), 0, 0, 0, 0, 0, 8_000, 38_000),
        reports.StatementDay(day(2026, 12, 5), 0, 0, 0, 0, 3_000, 0, 35_000),
    )
    assert (s.sales, s.refunded, s.net, s.paid_out, s.returned, s.closing) == (
        55_000, 2_000, 53_000, 36_000, 8_000, 35_000,
    )  # fmt: skip
    assert [(p.id, p.amount, p.status_ko, p.bank_ref) for p in s.payouts] == [
        (chain.settled, 25_000, "지급 완료", "KB-1"),
        (chain.returned, 8_000, "반환(AC04)", ""),
        (chain.pending, 3_000, "지급 완료", "KB-3"),
    ]
    # The fold agrees with the ledger's own balance (January's 1,000 on top).
    assert merchant_view(chain.town.store, CITY, M).balance == s.closing + 1_000


def test_a_statement_of_a_day_range_opens_with_the_balance_before_it(chain: Chain) -> None:
    period = reports.Period(dt.date(2026, 12, 3), dt.date(2026, 12, 4))
    s = reports.merchant_statement(chain.town.store, chain.history, CITY, M, period)
    assert (s.opening, s.closing, len(s.days), [p.id for p in s.payouts]) == (
        38_000, 38_000, 2, [chain.returned],
    )  # fmt: skip


def _proof() -> ReserveProof:
    return ReserveProof(CITY, 40, "00" * 32, 0, 1_475_000, 3_000, 1_400_000, None, 0, 75_000)


def test_the_city_month_by_program_and_at_its_end(chain: Chain) -> None:
    r = reports.city_monthly(chain.town.store, CITY, 2026, 12, _proof())
    rows = {p.program: p for p in r.programs}
    assert rows["general"] == reports.ProgramMonth("general", minted=300_000, redeemed=33_000)
    assert rows["welfare"] == reports.ProgramMonth("welfare", credited=40_000, expired=40_000)
    assert rows["sale"] == reports.ProgramMonth(
        "sale", sold=50_000, discounts=5_000, redeemed=20_000
    )
    assert (r.payouts_settled, r.settled, r.payouts_returned, r.returned) == (1, 25_000, 1, 8_000)
    # 1,150,000 minted in November, 300,000 and a 50,000 purchase in December, 25,000 burned.
    assert (r.supply, r.in_transit, r.outstanding) == (1_475_000, 3_000, 1_472_000)
    assert r.reserve_ratio == pytest.approx(1_400_000 / 1_475_000)


def test_the_city_month_before_sees_only_its_own(chain: Chain) -> None:
    r = reports.city_monthly(chain.town.store, CITY, 2026, 11)
    rows = {p.program: p for p in r.programs}
    assert rows["general"] == reports.ProgramMonth(
        "general", minted=1_000_000, credited=200_000, redeemed=10_000
    )
    assert (r.supply, r.in_transit, r.settled, r.reserve_ratio) == (1_150_000, 0, 0, None)


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Hangul right
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_merchant_csv_has_a_bom_a_korean_header_and_whole_won(chain: Chain) -> None:
    rows = _rows(reports.merchant_csv(_statement(chain)))
    assert rows[0] == list(reports.MERCHANT_HEADER)
    assert rows[0][0] == "일자"
    assert rows[1] == ["이월 잔액", "", "", "", "", "", "", "", "10000"]
    assert rows[2] == ["2026-12-01", "2", "35000", "1", "2000", "33000", "0", "0", "43000"]
    assert rows[7] == ["합계", "3", "55000", "1", "2000", "53000", "36000", "8000", "35000"]
    assert rows[9] == list(reports.PAYOUT_HEADER)
    assert rows[11][3] == "반환(AC04)"


def test_the_city_csv_has_a_row_per_program_the_total_and_the_ratio(chain: Chain) -> None:
    rows = _rows(reports.city_csv(reports.city_monthly(chain.town.store, CITY, 2026, 12, _proof())))
    assert rows[0][0] == "프로그램"
    assert ["합계", "300000", "50000", "5000", "40000", "53000", "40000"] in rows
    assert ["월말 정산 대기", "3000"] in rows
    assert ["준비금 비율", f"{1_400_000 / 1_475_000:.4f}"] in rows


def _text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_the_pdfs_carry_their_korean_titles_and_figures(chain: Chain) -> None:
    renderer = WeasyReportRenderer()
    merchant = _text(renderer.pdf(reports.MERCHANT, _statement(chain)))
    assert "가맹점 정산 명세서" in merchant
    assert "35,000원" in merchant and "반환(AC04)" in merchant
    month = reports.city_monthly(chain.town.store, CITY, 2026, 12, _proof())
    city = _text(renderer.pdf(reports.CITY, month))
    assert "지역화폐 월간 보고서" in city
    assert "1,472,000원" in city


@pytest.mark.parametrize("text", ["2026-13", "2026/12", "12-2026", "", "2026-1x"])
def test_a_month_is_written_yyyy_mm(text: str) -> None:
    with pytest.raises(reports.BadPeriod):
        reports.parse_month(text)


@pytest.fixture
def sqlite_only(store_url: str) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("the CLI reads through the same Store: one backend is enough")


@pytest.mark.slow  # two processes start (about 3 s each)
def test_the_cli_writes_the_merchant_csv_and_the_city_pdf(
    sqlite_only: None, chain: Chain, tmp_path: Path
) -> None:
    chain.town.ledgers.close()  # a server's sequencer would hold the lease; reads need none
    base = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", chain.town.url]
    base += ["--keys", str(chain.town.keys.root), "report"]
    csv_file, pdf_file = tmp_path / "m.csv", tmp_path / "c.pdf"
    for args in (
        ["merchant", "--city", CITY, "--merchant", M, "--month", "2026-12", "--out", str(csv_file)],
        ["city", "--city", CITY, "--month", "2026-12", "--format", "pdf", "--out", str(pdf_file)],
    ):
        done = subprocess.run(
            [*base, *args], check=False, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    assert csv_file.read_bytes() == reports.merchant_csv(_statement(chain))
    assert "지역화폐 월간 보고서" in _text(pdf_file.read_bytes())
