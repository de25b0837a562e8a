"""A bank's pain.002.001.10 status report, read into a PaymentReport.

Read safely (safe.parse), validated against the official XSD, then mapped: the group
status and its first reason, and every transaction's status with its reason code and the
bank's words. A line's status falls back to its payment block's status, then the group's
(a file accepted or rejected whole may list its transactions with no status of their own;
PART is never inherited).
"""

from __future__ import annotations

from typing import Final

from localpay.adapters.iso20022 import safe
from localpay.services.settlement.ports import LineStatus, PaymentReport

KIND: Final = "pain.002.001.10"
NS: Final = safe.ISO_NS + KIND
XSD: Final = KIND + ".xsd"
#: A group or block status that is no line's status: some accepted, some not.
PARTIAL: Final = "PART"


def _reason(node: safe.Element) -> tuple[str, str]:
    """The first status reason: its code (or proprietary code) and its additional info."""
    found = safe.find(node, "StsRsnInf", NS)
    if found is None:
        return "", ""
    code = safe.text(found, "Rsn/Cd", NS) or safe.text(found, "Rsn/Prtry", NS)
    words = " ".join((info.text or "").strip() for info in safe.find_all(found, "AddtlInf", NS))
    return code, words


def _line(tx: safe.Element, fallback: str) -> LineStatus:
    reason, words = _reason(tx)
    return LineStatus(
        end_to_end=safe.text(tx, "OrgnlEndToEndId", NS),
        status=safe.text(tx, "TxSts", NS) or fallback,
        reason=reason,
        reason_text=words,
    )


def _lines(report: safe.Element, group_status: str) -> tuple[LineStatus, ...]:
    lines: list[LineStatus] = []
    for block in safe.find_all(report, "OrgnlPmtInfAndSts", NS):
        fallback = safe.text(block, "PmtInfSts", NS) or group_status
        fallback = "" if fallback == PARTIAL else fallback  # PART says nothing of one line
        lines.extend(_line(tx, fallback) for tx in safe.find_all(block, "TxInfAndSts", NS))
    return tuple(lines)


def read(data: bytes) -> PaymentReport:
    """The report's meaning, or XmlRefused naming the line of what is wrong."""
    root = safe.parse(data)
    safe.expect(root, KIND)
    safe.validate(root, XSD)
    report = safe.find(root, "CstmrPmtStsRpt", NS)
    group = safe.find(report, "OrgnlGrpInfAndSts", NS)
    status = safe.text(group, "GrpSts", NS)
    reason, _words = _reason(group)
    return PaymentReport(
        msg_id=safe.text(report, "GrpHdr/MsgId", NS),
        original_msg_id=safe.text(group, "OrgnlMsgId", NS),
        group_status=status,
        group_reason=reason,
        lines=_lines(report, status),
    )
