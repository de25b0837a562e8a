"""mock-bank as the trust account's bank, a real process on a free port (one per module):
the trust account and holidays, a KRW pain.001 taken and settled on the next business
day, its pain.002 and the camt.053 that books it, an AC04 rejection, a duplicate MsgId
refused, won arriving by a credit, and BankDown when nothing listens."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree  # type: ignore[import-untyped]

from localpay.adapters.bank.mockbank import (
    HOUSE_CODE,
    MockBank,
    MockBankClient,
    TrustAccountTaken,
    domestic,
    ensure_trust_account,
    mock_iban,
    trust_account_id,
)
from localpay.domain.business_days import next_business_day
from localpay.services.settlement.ports import BankDown, Party, PaymentReport, Sent, Statement
from localpay.sim.bank.server import running_bank
from localpay.testing.mockbank import mock_bank
from localpay.testing.servers import free_port

CITY = "gimpo"
TRUST = Party("김포시 지역화폐 신탁계좌", "011", "1002345678901")
BAKERY = Party("행복빵집", "004", "12345678901234")  # at another bank: simply settles
CLOSED = Party("닫힌상점", HOUSE_CODE, "3333012345678")  # held at mock-bank
OPENING = 5_000_000
H1_READERS = importlib.util.find_spec("localpay.adapters.iso20022.pain002") is not None


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockBankClient]:
    with mock_bank(tmp_path_factory.mktemp("mock-bank")) as (client, _url):
        ensure_trust_account(
            client, CITY, TRUST.account, TRUST.bank, TRUST.name, OPENING, frozenset({CLOSURE})
        )
        client.create_account("SHOP-closed", CLOSED, behaviour="closed-account")
        yield client


CLOSURE = dt.date(2026, 6, 19)  # a Friday the city closes (its own table)


def line(end_to_end: str, amount: int, party: Party) -> str:
    # mock-bank knows a creditor as its own only under its routing number.
    bank = "999999992" if party.bank == HOUSE_CODE else party.bank
    return f"""<CdtTrfTxInf><PmtId><EndToEndId>{end_to_end}</EndToEndId></PmtId>
<Amt><InstdAmt Ccy="KRW">{amount}</InstdAmt></Amt>
<CdtrAgt><FinInstnId><ClrSysMmbId><MmbId>{bank}</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt>
<Cdtr><Nm>{party.name}</Nm></Cdtr>
<CdtrAcct><Id><Othr><Id>{party.account}</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id></CdtrAcct>
<RmtInf><Ustrd>김포페이 정산</Ustrd></RmtInf></CdtTrfTxInf>"""


def pain001(msg_id: str, execution: dt.date, lines: list[tuple[str, int, Party]]) -> bytes:
    """A minimal pain.001.001.09 in KRW by hand (the writer's own tests are H1's)."""
    total = sum(amount for _, amount, _ in lines)
    body = "".join(line(*entry) for entry in lines)
    head = f"<NbOfTxs>{len(lines)}</NbOfTxs><CtrlSum>{total}</CtrlSum>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>
<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>2026-06-08T09:00:00+09:00</CreDtTm>{head}
<InitgPty><Nm>김포시</Nm></InitgPty></GrpHdr>
<PmtInf><PmtInfId>{msg_id}-1</PmtInfId><PmtMtd>TRF</PmtMtd>{head}
<ReqdExctnDt><Dt>{execution}</Dt></ReqdExctnDt><Dbtr><Nm>{TRUST.name}</Nm></Dbtr>
<DbtrAcct><Id><Othr><Id>{TRUST.account}</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id>
<Ccy>KRW</Ccy></DbtrAcct>
<DbtrAgt><FinInstnId><ClrSysMmbId><MmbId>{TRUST.bank}</MmbId></ClrSysMmbId></FinInstnId></DbtrAgt>
{body}</PmtInf></CstmrCdtTrfInitn></Document>""".encode()


def texts(xml: bytes, local: str) -> list[str]:
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    return [str(e.text) for e in root.iter() if etree.QName(e).localname == local]


def test_a_korean_account_number_gets_a_checked_synthetic_iban_and_back() -> None:
    iban = mock_iban("1002345678901")
    assert iban == "KR191002345678901"
    assert domestic(iban) == "1002345678901"
    assert domestic("KR201002345678901") == "KR201002345678901"  # wrong check digits
    assert domestic("NL41MOCK0000000001") == "NL41MOCK0000000001"


def test_the_trust_account_is_made_once_in_krw_with_korean_holidays(
    bank: MockBankClient,
) -> None:
    again = ensure_trust_account(bank, CITY, TRUST.account, TRUST.bank, TRUST.name, 1)
    assert again == TRUST
    found = bank.account(trust_account_id(CITY))
    assert found is not None
    assert (found["currency"], found["balance"], found["name"]) == ("KRW", OPENING, TRUST.name)
    holidays = set(bank.holidays())
    assert {dt.date(2026, 9, 25), dt.date(2027, 2, 9), CLOSURE} <= holidays
    with pytest.raises(TrustAccountTaken):
        ensure_trust_account(bank, CITY, "999", TRUST.bank, TRUST.name, 0)


def test_a_payout_file_is_taken_reported_and_booked_the_next_business_day(
    bank: MockBankClient,
) -> None:
    bank.mailbox()  # start from an empty mailbox
    today = bank.today()
    paid = next_business_day(today)
    answer = bank.post_payments(pain001("LP-T-0001", paid, [("PO-1", 20_000, BAKERY)]))
    assert (answer.status, answer.body["status"]) == (202, "ACCP")
    assert answer.body["payments"][0]["settlement_date"] == paid.isoformat()
    reports = [m for m in bank.mailbox() if m.type.startswith("pain.002")]
    assert [texts(m.body, "TxSts") for m in reports] == [["ACCP"]]
    bank.advance(to=paid + dt.timedelta(days=1))  # past the end of the settlement day
    statements = [m for m in bank.mailbox() if m.type.startswith("camt.053")]
    ours = [m for m in statements if m.account == trust_account_id(CITY)]
    booked = [m for m in ours if "PO-1" in texts(m.body, "EndToEndId")]
    assert len(booked) == 1
    assert texts(booked[0].body, "IBAN") == [mock_iban(TRUST.account)]
    listed = {s["day"]: s for s in bank.statements(trust_account_id(CITY))}
    assert listed[paid.isoformat()]["closing"] == listed[paid.isoformat()]["opening"] - 20_000


def test_a_payout_to_a_closed_account_is_rejected_ac04(bank: MockBankClient) -> None:
    bank.mailbox()
    paid = next_business_day(bank.today())
    lines = [("PO-2", 7_000, BAKERY), ("PO-3", 15_000, CLOSED)]
    answer = bank.post_payments(pain001("LP-T-0002", paid, lines))
    assert (answer.status, answer.body["status"]) == (202, "PART")
    outcome = {p["end_to_end_id"]: p["reason"] for p in answer.body["payments"]}
    assert outcome == {"PO-2": None, "PO-3": "AC04"}
    report = next(m for m in bank.mailbox() if m.type.startswith("pain.002"))
    assert texts(report.body, "TxSts") == ["ACCP", "RJCT"]
    assert texts(report.body, "Cd") == ["AC04"]


def test_a_second_file_with_the_same_msg_id_is_refused_dupl(bank: MockBankClient) -> None:
    paid = next_business_day(bank.today())
    file = pain001("LP-T-0003", paid, [("PO-4", 1_000, BAKERY)])
    assert bank.post_payments(file).status == 202
    again = bank.post_payments(file)
    assert (again.status, again.body["status"], again.body["reason"]) == (422, "RJCT", "DUPL")


def test_won_arriving_is_a_credit_entry_with_its_reference(bank: MockBankClient) -> None:
    bank.mailbox()
    today = bank.today()
    bank.credit(trust_account_id(CITY), 50_000, "DEP-1", "홍길동", note="김포페이 구매")
    bank.advance(to=next_business_day(today) + dt.timedelta(days=1))
    ours = [m for m in bank.mailbox(kind="camt.053") if m.account == trust_account_id(CITY)]
    credited = [m for m in ours if "DEP-1" in texts(m.body, "EndToEndId")]
    assert len(credited) == 1 and "CRDT" in texts(credited[0].body, "CdtDbtInd")


def test_a_bank_that_does_not_listen_is_bank_down_naming_its_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = MockBankClient(url, timeout_s=2)
    with pytest.raises(BankDown, match=url):
        client.post_payments(b"<Document/>")
    with pytest.raises(BankDown, match=url):
        client.mailbox()
    client.close()


def test_a_citizens_deposit_at_the_simulated_bank_arrives_in_the_trust_account(
    bank: MockBankClient, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/deposits"  # the platform: not needed here
    with running_bank(tmp_path / "sim.db", nobody, b"k", free_port(), bank.base_url) as sim:
        account = sim.book.open_account(CITY, "order-1", 30_000, 2**40, 1)
        answer = httpx.post(
            f"{sim.url}/transfers", json={"account": account.number, "amount": "30000"}
        )
    assert answer.status_code == 201, answer.text
    reference = answer.json()["deposit_ref"]
    credits = httpx.get(f"{bank.base_url}/_mock/credits").json()
    arrived = [c for c in credits if c["end_to_end_id"] == reference]
    assert [(c["amount"], c["account_id"]) for c in arrived] == [(30_000, trust_account_id(CITY))]


def test_mock_bank_send_is_taken_or_refused_as_an_answer_not_an_error(
    bank: MockBankClient,
) -> None:
    payout_bank = MockBank(bank, CITY)
    file = pain001("LP-T-0005", next_business_day(bank.today()), [("PO-5", 2_000, BAKERY)])
    taken = payout_bank.send("LP-T-0005", file)
    assert taken == Sent(True, "LP-T-0005 ACCP: 1 accepted")
    again = payout_bank.send("LP-T-0005", file)
    assert not again.accepted and "DUPL" in again.detail


@pytest.mark.skipif(not H1_READERS, reason="H1's pain002/camt053 readers have not landed yet")
def test_mock_bank_collects_reports_and_statements_but_not_a_dupl_report(
    bank: MockBankClient,
) -> None:
    payout_bank = MockBank(bank, CITY)
    bank.mailbox()
    file = pain001("LP-T-0006", next_business_day(bank.today()), [("PO-6", 3_000, BAKERY)])
    payout_bank.send("LP-T-0006", file)
    payout_bank.send("LP-T-0006", file)  # DUPL: its report must not read as a rejection
    bank.advance(days=3)
    found = payout_bank.collect()
    reports = [r for r in found if isinstance(r, PaymentReport)]
    assert [(r.original_msg_id, r.group_reason) for r in reports] == [("LP-T-0006", "")]
    statements = [s for s in found if isinstance(s, Statement)]
    assert statements and {s.account for s in statements} == {TRUST.account}
