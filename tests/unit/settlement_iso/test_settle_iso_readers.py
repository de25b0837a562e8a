"""pain.002.001.10 and camt.053.001.08 in: their meaning, and every refusal with its line."""

from __future__ import annotations

import datetime as dt

import pytest

from localpay.adapters.iso20022 import camt053, pain002, sniff
from localpay.services.settlement.ports import CREDIT, DEBIT, LineStatus, XmlRefused


def _line_of(data: bytes, needle: str) -> int:
    return data[: data.index(needle.encode())].count(b"\n") + 1


def test_settle_iso_pain002_reads_group_and_line_statuses(iso):
    report = pain002.read(iso.pain002())
    assert report.msg_id == "BANK-002-1"
    assert report.original_msg_id == "LP-20261001-0001"
    assert (report.group_status, report.group_reason) == ("PART", "")
    assert report.lines == (
        LineStatus("PO-1", "ACCP"),
        LineStatus("PO-2", "RJCT", "AC04", "계좌 해지 closed"),
    )


def test_settle_iso_pain002_a_line_without_status_takes_the_groups_but_never_part(iso):
    bare = "      <TxInfAndSts><OrgnlEndToEndId>PO-9</OrgnlEndToEndId></TxInfAndSts>\n"
    assert pain002.read(iso.pain002("RJCT", bare)).lines[0].status == "RJCT"
    assert pain002.read(iso.pain002("PART", bare)).lines[0].status == ""


def test_settle_iso_pain002_failing_its_xsd_is_refused_with_the_line(iso):
    data = iso.pain002(lines=iso.tx("PO-1", "NOPE!"))  # TxSts is a 1-4 letter code
    with pytest.raises(XmlRefused) as caught:
        pain002.read(data)
    assert caught.value.line == _line_of(data, "NOPE!")
    assert "XSD" in caught.value.reason


def test_settle_iso_camt053_reads_balances_and_booked_entries(iso):
    statement = camt053.read(iso.camt())
    assert (statement.msg_id, statement.statement_id) == ("BANK-053-1", "STMT-20261001")
    assert (statement.account, statement.currency) == ("12345678901234", "KRW")
    assert (statement.opening, statement.closing) == (1_000_000, 985_000)
    assert statement.day == dt.date(2026, 10, 1)
    assert statement.created.utcoffset() == dt.timedelta(hours=9)
    first, second = statement.entries
    assert (first.amount, first.direction, first.end_to_end) == (12000, DEBIT, "PO-1")
    assert (first.bank_ref, first.info, first.booked) == (
        "BANK-PO-1",
        "김포페이 PO-1",
        dt.date(2026, 10, 1),
    )
    assert first.line == _line_of(iso.camt(), "<Ntry>")
    assert second.line > first.line


def test_settle_iso_camt053_whole_won_with_zero_decimals_is_read(iso):
    entries = iso.entry("15000.00", "CRDT", "SALE-1")
    statement = camt053.read(iso.camt("1000000.00", "1015000", entries))
    assert statement.entries[0].amount == 15000
    assert statement.entries[0].direction == CREDIT


def test_settle_iso_camt053_pending_entries_move_no_money(iso):
    entries = iso.entry("12000", "DBIT", "PO-1") + iso.entry("777", "DBIT", "PO-X", status="PDNG")
    statement = camt053.read(iso.camt(closing="988000", entries=entries))
    assert [e.end_to_end for e in statement.entries] == ["PO-1"]


def test_settle_iso_camt053_returns_carry_reversal_and_reason(iso):
    entry = (
        iso.entry("12000", "CRDT", "PO-1")
        .replace("<Sts>", "<RvslInd>true</RvslInd>\n        <Sts>")
        .replace("</RmtInf>", "</RmtInf>\n          <RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>")
    )
    found = camt053.read(iso.camt(closing="1012000", entries=entry)).entries[0]
    assert (found.reversal, found.return_reason, found.direction) == (True, "AC04", CREDIT)


def _refused(data: bytes) -> XmlRefused:
    with pytest.raises(XmlRefused) as caught:
        camt053.read(data)
    return caught.value


def test_settle_iso_camt053_not_krw_is_refused(iso):
    data = iso.camt(ccy="EUR")
    refused = _refused(data)
    assert "KRW" in refused.reason
    assert refused.line == _line_of(data, "<Acct>")


def test_settle_iso_camt053_an_entry_in_another_currency_is_refused(iso):
    entries = iso.entry("12000", "DBIT", "PO-1") + iso.entry("3000", "DBIT", "PO-2", ccy="USD")
    data = iso.camt(entries=entries)
    refused = _refused(data)
    assert "KRW" in refused.reason
    assert refused.line == _line_of(data, 'Ccy="USD"')


def test_settle_iso_camt053_a_fraction_of_a_won_is_refused_with_its_line(iso):
    entries = iso.entry("12000", "DBIT", "PO-1") + iso.entry("2999.50", "DBIT", "PO-2")
    data = iso.camt(closing="985000.50", entries=entries)
    refused = _refused(data)
    assert "fraction" in refused.reason
    assert refused.line == _line_of(data, "985000.50")  # the first fraction in the file


def test_settle_iso_camt053_balances_that_do_not_add_up_are_refused(iso):
    data = iso.camt(closing="985001")
    refused = _refused(data)
    assert "985001" in refused.reason and "-15000" in refused.reason
    assert refused.line == _line_of(data, "<Stmt>")


def test_settle_iso_camt053_a_debit_balance_is_negative(iso):
    data = iso.camt(opening="5000", closing="10000", entries=iso.entry("15000", "DBIT", "PO-1"))
    data = data.replace(
        b'<Amt Ccy="KRW">10000</Amt>\n        <CdtDbtInd>CRDT',
        b'<Amt Ccy="KRW">10000</Amt>\n        <CdtDbtInd>DBIT',
    )
    assert camt053.read(data).closing == -10000


def test_settle_iso_a_camt054_is_not_a_statement(iso):
    data = iso.camt(ns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08")
    assert sniff(data) == "camt.054.001.08"
    refused = _refused(data)
    assert "expected camt.053.001.08, got camt.054.001.08" in refused.reason
    assert refused.line == 2


def test_settle_iso_a_document_outside_iso20022_is_refused(iso):
    data = iso.camt(ns="urn:example:not-iso")
    with pytest.raises(XmlRefused, match="not an ISO 20022"):
        sniff(data)
    assert _refused(data).line == 2


def test_settle_iso_a_truncated_file_names_the_line_it_ends_on(iso):
    data = iso.camt()
    cut = data[: data.index(b"<Ntry>") + 40]  # inside the first entry
    refused = _refused(cut)
    assert "well-formed" in refused.reason
    assert refused.line == cut.count(b"\n") + 1


def test_settle_iso_camt053_failing_its_xsd_is_refused_with_the_line(iso):
    entries = iso.entry("12000", "DBIT", "PO-1").replace("<BkTxCd>", "<Surprise/><BkTxCd>")
    data = iso.camt(closing="988000", entries=entries)
    refused = _refused(data)
    assert "XSD" in refused.reason and "Surprise" in refused.reason
    assert refused.line == _line_of(data, "<Surprise/>")


def test_settle_iso_camt053_a_date_python_cannot_hold_is_refused_with_its_line(iso):
    # xs:date allows a five-digit year; a date.fromisoformat ValueError must not escape.
    entries = iso.entry("12000", "DBIT", "PO-1").replace(
        "<BookgDt><Dt>2026-10-01", "<BookgDt><Dt>12026-10-01"
    )
    data = iso.camt(closing="988000", entries=entries)
    refused = _refused(data)
    assert "unreadable date" in refused.reason
    assert refused.line == _line_of(data, "12026-10-01")


def test_settle_iso_camt053_a_time_python_cannot_hold_is_refused(iso):
    data = iso.camt().replace(
        b"<CreDtTm>2026-10-01T23:00:00+09:00</CreDtTm>\n      <FrToDt>",
        b"<CreDtTm>2026-10-01T24:00:00+09:00</CreDtTm>\n      <FrToDt>",
    )
    assert "unreadable time" in _refused(data).reason
