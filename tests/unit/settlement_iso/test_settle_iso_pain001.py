"""pain.001.001.09 out: what the file says, and that a bad one never leaves."""

from __future__ import annotations

import dataclasses
import hashlib
from importlib import resources

import pytest
from lxml import etree

from localpay.adapters.iso20022 import pain001, safe, sniff
from localpay.services.settlement.ports import FileInvalid

NS = {"p": pain001.NS}


def _tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def test_settle_iso_written_file_validates_against_the_official_xsd(iso):
    data = pain001.write(iso.payout(12000, 3000))
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    safe.validate(safe.parse(data), "pain.001.001.09.xsd")  # raises if not
    assert sniff(data) == "pain.001.001.09"


def test_settle_iso_hangul_names_are_kept_as_written(iso):
    root = _tree(pain001.write(iso.payout(12000, 3000)))
    assert root.findtext(".//p:Dbtr/p:Nm", namespaces=NS) == "김포시 지역화폐 신탁계좌"
    names = [n.text for n in root.iterfind(".//p:Cdtr/p:Nm", NS)]
    assert names == ["행복분식", "김밥천국 김포점"]


def test_settle_iso_control_sums_and_counts_add_up_in_whole_won(iso):
    root = _tree(pain001.write(iso.payout(12000, 3000, 500)))
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "15500"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert root.findtext(".//p:PmtInf/p:CtrlSum", namespaces=NS) == "15500"
    amounts = list(root.iterfind(".//p:InstdAmt", NS))
    assert [a.text for a in amounts] == ["12000", "3000", "500"]
    assert {a.get("Ccy") for a in amounts} == {"KRW"}


def test_settle_iso_korean_accounts_banks_and_charges(iso):
    root = _tree(pain001.write(iso.payout(12000)))
    tx = root.find(".//p:CdtTrfTxInf", NS)
    assert tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) == "PO-1"
    assert tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "9876543210"
    assert tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:SchmeNm/p:Cd", namespaces=NS) == "BBAN"
    member = tx.find("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId", NS)
    assert member.findtext("p:MmbId", namespaces=NS) == "004"
    assert member.findtext("p:ClrSysId/p:Prtry", namespaces=NS) == "KFTC"
    info = root.find(".//p:PmtInf", NS)
    assert info.findtext("p:ChrgBr", namespaces=NS) == "DEBT"  # the shop pays no fee
    assert info.findtext("p:BtchBookg", namespaces=NS) == "false"
    assert info.findtext("p:DbtrAcct/p:Ccy", namespaces=NS) == "KRW"
    assert info.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-10-01"
    created = root.findtext(".//p:GrpHdr/p:CreDtTm", namespaces=NS)
    assert created == "2026-09-30T10:00:00+09:00"


def _with_line(file, **changes):
    line = dataclasses.replace(file.lines[0], **changes)
    return dataclasses.replace(file, lines=(line, *file.lines[1:]))


def test_settle_iso_an_end_to_end_id_over_35_fails_the_xsd_and_never_leaves(iso):
    bad = _with_line(iso.payout(12000), end_to_end="P" * 36)
    with pytest.raises(FileInvalid, match="XSD"):
        pain001.write(bad)


def test_settle_iso_a_built_document_that_breaks_the_xsd_is_file_invalid(iso):
    doc = pain001.build(iso.payout(12000))
    doc.find(".//p:ChrgBr", NS).text = "FREE"  # not a ChargeBearerType1Code
    with pytest.raises(FileInvalid):
        safe.validate_ours(pain001.serialize(doc), pain001.XSD)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"amount": 0}, "amount 0"),
        ({"amount": -5}, "amount -5"),
        ({"amount": 1.5}, "amount 1.5"),
        ({"remittance": "bell \x07"}, "control character"),
    ],
)
def test_settle_iso_a_line_we_must_not_pay_is_refused(iso, change, words):
    with pytest.raises(FileInvalid, match=words):
        pain001.write(_with_line(iso.payout(12000, 3000), **change))


def test_settle_iso_a_file_with_no_lines_is_refused(iso):
    with pytest.raises(FileInvalid, match="no lines"):
        pain001.write(dataclasses.replace(iso.payout(12000), lines=()))


def test_settle_iso_the_same_end_to_end_id_twice_is_refused(iso):
    file = iso.payout(12000, 3000)
    with pytest.raises(FileInvalid, match="twice"):
        pain001.write(_with_line(file, end_to_end=file.lines[1].end_to_end))


def test_settle_iso_bank_code_and_account_must_be_digits(iso):
    file = iso.payout(12000)
    shop = file.lines[0].creditor
    with pytest.raises(FileInvalid, match="3 digits"):
        pain001.write(_with_line(file, creditor=dataclasses.replace(shop, bank="4")))
    with pytest.raises(FileInvalid, match="not digits"):
        pain001.write(_with_line(file, creditor=dataclasses.replace(shop, account="123-45")))


def test_settle_iso_a_naive_creation_time_is_refused(iso):
    file = iso.payout(12000)
    with pytest.raises(FileInvalid, match="aware"):
        pain001.write(dataclasses.replace(file, created=file.created.replace(tzinfo=None)))


# SOURCES.md names each vendored XSD by its SHA-256: the files must be those bytes.
PINNED = {
    "pain.001.001.09.xsd": "de038b373e47b0077b1832ddd81f4b2f1eb25d35721f62da1e38b7f5a09fda24",
    "pain.002.001.10.xsd": "2f9f8d0e9891fa9f31ccf0576397afe501614384d688ae6e43ba694b3d24b0cf",
    "camt.053.001.08.xsd": "ca0b135cc8e2dde5b2f99af6b6c514a8f29d6e7c6cf98e9ea84d247189868ff5",
}


def test_settle_iso_vendored_xsds_are_the_files_sources_md_names():
    folder = resources.files("localpay.adapters.iso20022").joinpath("xsd")
    sources = folder.joinpath("SOURCES.md").read_text(encoding="utf-8")
    assert safe.schema_names() == sorted(PINNED)
    for name, digest in PINNED.items():
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest
        assert digest in sources
