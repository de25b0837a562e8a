"""Samples for the ISO 20022 adapter's tests: a payout file, and bank messages written
line by line (so a test can name the line a refusal must point at)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from localpay.services.settlement.ports import Party, PayoutFile, PayoutLine

KST = dt.timezone(dt.timedelta(hours=9))
TRUST = Party("김포시 지역화폐 신탁계좌", "081", "12345678901234")


def payout_file(*amounts: int, msg_id: str = "LP-20261001-0001") -> PayoutFile:
    shops = [
        Party("행복분식", "004", "9876543210"),
        Party("김밥천국 김포점", "088", "110123456789"),
    ]
    lines = tuple(
        PayoutLine(f"PO-{i + 1}", amount, shops[i % 2], f"김포페이 정산 {i + 1}")
        for i, amount in enumerate(amounts)
    )
    return PayoutFile(
        msg_id, dt.datetime(2026, 9, 30, 10, 0, tzinfo=KST), dt.date(2026, 10, 1), TRUST, lines
    )


CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def camt_entry(
    amount: str, direction: str, e2e: str, status: str = "BOOK", ccy: str = "KRW"
) -> str:
    return f"""      <Ntry>
        <Amt Ccy="{ccy}">{amount}</Amt>
        <CdtDbtInd>{direction}</CdtDbtInd>
        <Sts><Cd>{status}</Cd></Sts>
        <BookgDt><Dt>2026-10-01</Dt></BookgDt>
        <ValDt><Dt>2026-10-01</Dt></ValDt>
        <AcctSvcrRef>BANK-{e2e}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>{e2e}</EndToEndId></Refs>
          <RmtInf><Ustrd>김포페이 {e2e}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
"""


def camt(
    opening: str = "1000000",
    closing: str = "985000",
    entries: str | None = None,
    ccy: str = "KRW",
    ns: str = CAMT_NS,
) -> bytes:
    if entries is None:
        entries = camt_entry("12000", "DBIT", "PO-1") + camt_entry("3000", "DBIT", "PO-2")
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>BANK-053-1</MsgId><CreDtTm>2026-10-01T23:00:00+09:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20261001</Id>
      <CreDtTm>2026-10-01T23:00:00+09:00</CreDtTm>
      <FrToDt><FrDtTm>2026-10-01T00:00:00+09:00</FrDtTm><ToDtTm>2026-10-01T23:59:59+09:00</ToDtTm></FrToDt>
      <Acct><Id><Othr><Id>12345678901234</Id></Othr></Id><Ccy>{ccy}</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{opening}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-01</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{closing}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-01</Dt></Dt></Bal>
{entries}    </Stmt>
  </BkToCstmrStmt>
</Document>
"""
    return text.encode()


PAIN002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"


def pain002(group: str = "PART", lines: str | None = None) -> bytes:
    if lines is None:
        lines = tx_status("PO-1", "ACCP") + tx_status("PO-2", "RJCT", "AC04", "계좌 해지 closed")
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{PAIN002_NS}">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>BANK-002-1</MsgId><CreDtTm>2026-09-30T10:05:00+09:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>LP-20261001-0001</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
      <GrpSts>{group}</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>LP-20261001-0001</OrgnlPmtInfId>
{lines}    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"""
    return text.encode()


def tx_status(e2e: str, status: str, reason: str = "", words: str = "") -> str:
    why = ""
    if reason:
        why = f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn><AddtlInf>{words}</AddtlInf></StsRsnInf>"
    return (
        f"      <TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>"
        f"<TxSts>{status}</TxSts>{why}</TxInfAndSts>\n"
    )


@pytest.fixture(scope="session")
def iso() -> SimpleNamespace:
    """The sample builders, for the tests of this folder (conftest is not importable)."""
    return SimpleNamespace(
        payout=payout_file,
        camt=camt,
        entry=camt_entry,
        pain002=pain002,
        tx=tx_status,
        trust=TRUST,
    )
