"""A disbursement file's lines judged one by one, before anything moves.

Pure: the checks read a snapshot (`Facts`) of the ledger and of earlier batches, and
return each line's verdict. Valid lines become the batch's rows, numbered in file order.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from localpay.domain.errors import Refused
from localpay.domain.money import valid_amount
from localpay.domain.policy import Policy
from localpay.services.programs.eligibility import judges_anything
from localpay.services.programs.ports import Decision, Line

HEADER: Final = ("citizen", "amount", "program", "reference")
MAX_REFERENCE: Final = 64

OK: Final = "ok"
MALFORMED: Final = "malformed"
UNKNOWN_CITIZEN: Final = "unknown_citizen"
UNKNOWN_PROGRAM: Final = "unknown_program"
OTHER_PROGRAM: Final = "other_program"
DUPLICATE: Final = "duplicate"
ALREADY_PAID: Final = "already_paid"
NOT_JUDGED: Final = "not_judged"
INELIGIBLE: Final = "ineligible"
OVER_CAP: Final = "over_cap"
BUDGET_SHORT: Final = "budget_short"
VERDICTS: Final = (
    OK, MALFORMED, UNKNOWN_CITIZEN, UNKNOWN_PROGRAM, OTHER_PROGRAM, DUPLICATE, ALREADY_PAID,
    NOT_JUDGED, INELIGIBLE, OVER_CAP, BUDGET_SHORT,
)  # fmt: skip


class HeaderError(Refused, ValueError):
    """The file does not start with the expected header: no line is judged."""


@dataclass
class Facts:
    """What the checks read: the batch's program, the ledger, earlier batches."""

    program: str
    policy: Policy | None
    budget: int
    wallets: frozenset[str]
    granted: dict[str, int]  # received of this program in the current grant period
    references: set[tuple[str, str]]  # (wallet, reference) of earlier batches' rows
    decisions: dict[str, Decision]
    # Filled while judging: the file's own running totals.
    seen: set[tuple[str, str]] = field(default_factory=set)
    per_wallet: dict[str, int] = field(default_factory=dict)
    running: int = 0


def records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number from 1 after the header, fields), streamed; HeaderError first."""
    reader = csv.reader(lines)
    header = tuple(h.strip().lower() for h in next(reader, ()))
    if header[:1] and header[0].startswith("\ufeff"):  # a spreadsheet's byte-order mark
        header = (header[0][1:], *header[1:])
    if header != HEADER:
        raise HeaderError(f"the first line must be {','.join(HEADER)}")
    for number, fields in enumerate(reader, start=1):
        if fields:
            yield number, fields


def _amount(text: str) -> int | None:
    """Whole won in ASCII digits, within the ledger's bounds; else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        return None
    return int(text) if valid_amount(int(text)) else None


def judge(number: int, fields: list[str], facts: Facts, row: int) -> Line:
    """The verdict of one line; `row` is the number it gets if valid."""
    if len(fields) != len(HEADER):
        return Line(number, -1, "", 0, "", "", "", MALFORMED)
    wallet, amount_text, program, reference = (f.strip() for f in fields)
    amount = _amount(amount_text)
    if not wallet or amount is None or not reference or len(reference) > MAX_REFERENCE:
        return Line(
            number, -1, wallet[:40], 0, program[:40], reference[:MAX_REFERENCE], "", MALFORMED
        )
    line = Line(number, -1, wallet, amount, program, reference, "", OK)
    verdict, evidence = _verdict(line, facts)
    # A second line with the same citizen and reference is a duplicate even when the
    # first was refused for another reason: the file says the same thing twice.
    facts.seen.add((wallet, reference))
    if verdict != OK:
        return Line(number, -1, wallet, amount, program, reference, evidence, verdict)
    facts.per_wallet[wallet] = facts.per_wallet.get(wallet, 0) + amount
    facts.running += amount
    return Line(number, row, wallet, amount, program, reference, evidence, OK)


def _verdict(line: Line, facts: Facts) -> tuple[str, str]:
    """The first rule the line breaks (in the order a person fixes them), and the
    evidence hash its row carries."""
    if facts.policy is None:
        return UNKNOWN_PROGRAM, ""
    if line.program != facts.program:
        return OTHER_PROGRAM, ""
    if line.wallet not in facts.wallets:
        return UNKNOWN_CITIZEN, ""
    key = (line.wallet, line.reference)
    if key in facts.seen:
        return DUPLICATE, ""
    if key in facts.references:
        return ALREADY_PAID, ""
    evidence = ""
    if judges_anything(facts.policy.grant):
        decision = facts.decisions.get(line.wallet)
        if decision is None:
            return NOT_JUDGED, ""
        if not decision.eligible:
            return INELIGIBLE, decision.evidence
        evidence = decision.evidence
    grant = facts.policy.grant
    if grant is not None and grant.per_person:
        had = facts.granted.get(line.wallet, 0) + facts.per_wallet.get(line.wallet, 0)
        if had + line.amount > grant.per_person:
            return OVER_CAP, evidence
    if facts.running + line.amount > facts.budget:
        return BUDGET_SHORT, evidence
    return OK, evidence
