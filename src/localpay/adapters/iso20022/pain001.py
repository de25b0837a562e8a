"""A PayoutFile as an ISO 20022 pain.001.001.09 credit-transfer file, in KRW.

Choices, each where the standard leaves one open:
- Amounts are whole won ("12000"): KRW has no minor unit (ISO 4217 exponent 0).
- Korean accounts have no IBAN: the account number is `Othr/Id` with scheme `BBAN`.
- The bank is its 3-digit 금융결제원 (KFTC) code in `ClrSysMmbId/MmbId`. ISO's external
  clearing-system list has no Korean code, so `ClrSysId/Prtry` says `KFTC`.
- `ChrgBr` is `DEBT`: the debtor (the city's trust account) bears all charges, so the
  shop receives the whole amount (the promise of zero fee). `SLEV` would defer to a
  service level, which is a SEPA notion; `SHAR` would let the shop's bank take a fee.
- `BtchBookg` is false: each payout is its own entry on the statement, with its
  EndToEndId, so reconciliation can match it one to one.
Every file is validated against the official XSD before it is returned.
"""

from __future__ import annotations

import re
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]  # no stubs installed (types-lxml)

from localpay.adapters.iso20022 import safe
from localpay.services.settlement.ports import FileInvalid, Party, PayoutFile, PayoutLine

KIND: Final = "pain.001.001.09"
NS: Final = safe.ISO_NS + KIND
XSD: Final = KIND + ".xsd"
#: The clearing system our bank codes belong to (proprietary: not in ISO's code list).
CLEARING: Final = "KFTC"
#: Lines in one file: a daily batch of a city's shops fits many times over.
MAX_LINES: Final = 10_000
_BANK: Final = re.compile(r"\d{3}")
_ACCOUNT: Final = re.compile(r"\d{1,34}")
# XML 1.0 forbids most control characters; lxml would refuse them with a ValueError.
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _add(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    node = etree.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _path(parent: Any, path: str, text: str) -> Any:
    """Add a chain of single children ("Id/Othr/Id") ending in `text`."""
    *heads, last = path.split("/")
    for tag in heads:
        parent = _add(parent, tag)
    return _add(parent, last, text)


def _account(parent: Any, tag: str, party: Party, currency: bool) -> None:
    acct = _add(parent, tag)
    othr = _path(acct, "Id/Othr/Id", party.account).getparent()
    _path(othr, "SchmeNm/Cd", "BBAN")
    if currency:
        _add(acct, "Ccy", "KRW")


def _agent(parent: Any, tag: str, party: Party) -> None:
    member = _path(parent, f"{tag}/FinInstnId/ClrSysMmbId/ClrSysId/Prtry", CLEARING)
    _add(member.getparent().getparent(), "MmbId", party.bank)


def _group_header(doc: Any, file: PayoutFile) -> None:
    head = _add(doc, "GrpHdr")
    _add(head, "MsgId", file.msg_id)
    _add(head, "CreDtTm", file.created.astimezone(safe.KST).isoformat(timespec="seconds"))
    _add(head, "NbOfTxs", str(len(file.lines)))
    _add(head, "CtrlSum", str(file.total))
    _path(head, "InitgPty/Nm", file.debtor.name)


def _line(info: Any, line: PayoutLine) -> None:
    tx = _add(info, "CdtTrfTxInf")
    ids = _add(tx, "PmtId")
    _add(ids, "InstrId", line.end_to_end)
    _add(ids, "EndToEndId", line.end_to_end)
    _add(_add(tx, "Amt"), "InstdAmt", str(line.amount), Ccy="KRW")
    _agent(tx, "CdtrAgt", line.creditor)
    _path(tx, "Cdtr/Nm", line.creditor.name)
    _account(tx, "CdtrAcct", line.creditor, currency=False)
    _path(tx, "RmtInf/Ustrd", line.remittance)


def _payment_info(doc: Any, file: PayoutFile) -> None:
    info = _add(doc, "PmtInf")
    _add(info, "PmtInfId", file.msg_id)
    _add(info, "PmtMtd", "TRF")
    _add(info, "BtchBookg", "false")
    _add(info, "NbOfTxs", str(len(file.lines)))
    _add(info, "CtrlSum", str(file.total))
    _path(info, "ReqdExctnDt/Dt", file.execution.isoformat())
    _path(info, "Dbtr/Nm", file.debtor.name)
    _account(info, "DbtrAcct", file.debtor, currency=True)
    _agent(info, "DbtrAgt", file.debtor)
    _add(info, "ChrgBr", "DEBT")
    for line in file.lines:
        _line(info, line)


def _texts(file: PayoutFile) -> list[str]:
    parties = [file.debtor, *(line.creditor for line in file.lines)]
    names = [p.name for p in parties]
    ids = [file.msg_id, *(line.end_to_end for line in file.lines)]
    return [*names, *ids, *(line.remittance for line in file.lines)]


def _party_problem(party: Party) -> str:
    if not _BANK.fullmatch(party.bank):
        return f"은행코드는 숫자 3자리 (bank code {party.bank!r} is not 3 digits)"
    if not _ACCOUNT.fullmatch(party.account):
        return f"계좌번호는 숫자만 (account {party.account!r} is not digits)"
    return ""


def _problem(file: PayoutFile) -> str:
    """What makes a file one we must not write: a bug upstream, named."""
    if not file.lines:
        return "지급 건이 없습니다 (a file with no lines)"
    if len(file.lines) > MAX_LINES:
        return f"지급 건이 너무 많습니다 (more than {MAX_LINES} lines)"
    if file.created.tzinfo is None:
        return "생성 시각에 시간대가 없습니다 (created must be aware)"
    ends = [line.end_to_end for line in file.lines]
    if len(set(ends)) != len(ends):
        return "EndToEndId가 겹칩니다 (an EndToEndId twice in one file)"
    for line in file.lines:
        if type(line.amount) is not int or line.amount <= 0:
            return f"금액은 1원 이상 정수 ({line.end_to_end}: amount {line.amount!r})"
    for party in (file.debtor, *(line.creditor for line in file.lines)):
        if found := _party_problem(party):
            return found
    bad = [text for text in _texts(file) if _CONTROL.search(text)]
    return f"XML에 쓸 수 없는 문자 (control character in {bad[0]!r})" if bad else ""


def build(file: PayoutFile) -> Any:
    """The Document element of the file, unchecked (tests break it on purpose)."""
    if problem := _problem(file):
        raise FileInvalid(f"지급 파일을 만들 수 없습니다 (cannot write {file.msg_id}): {problem}")
    doc = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    body = _add(doc, "CstmrCdtTrfInitn")
    _group_header(body, file)
    _payment_info(body, file)
    return doc


#: The declaration as banks' own samples write it (lxml would use single quotes).
DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def serialize(doc: Any) -> bytes:
    body: bytes = etree.tostring(doc, encoding="UTF-8", pretty_print=True)
    return DECLARATION + body


def write(file: PayoutFile) -> bytes:
    """The pain.001.001.09 bytes of `file`, validated against the official XSD."""
    doc = build(file)
    # Validate the bytes as they will leave, read back: what the bank receives.
    data = serialize(doc)
    safe.validate_ours(data, XSD)
    return data
