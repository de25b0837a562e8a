"""Matching a statement of the trust account to the ledger, entry by entry, exactly.

Pure: given the statement, the payouts the chain knows and the won it says came in, it
decides what each entry is. A debit must be a pending payout of exactly its amount
(EndToEndId = the payout's id): it settles it. A debit's return (a credit with a return
reason, or a reversal) of a payout the statement's bank paid earlier cannot be undone
on the chain by itself (the units are burned), so it is an exception for an operator.
A credit must be won the chain minted for the same reference and amount. Anything else,
and a statement whose opening balance is not the last one's closing, is an exception
with its reason; nothing is guessed."""

from __future__ import annotations

from dataclasses import dataclass, field

from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING, Payout
from localpay.services.settlement.ports import CREDIT, DEBIT, Entry, Statement

#: Exception reasons (the console words them).
UNKNOWN_ENTRY = "unknown_entry"
AMOUNT_MISMATCH = "amount_mismatch"
ALREADY_SETTLED = "already_settled"
RETURNED_AFTER_PAYMENT = "returned_after_payment"
OPENING_MISMATCH = "opening_mismatch"
CREDIT_SEEN = "credit_seen_before"


@dataclass(frozen=True)
class Problem:
    entry: Entry | None
    reason: str
    detail: str


@dataclass
class Plan:
    settle: dict[str, tuple[Payout, Entry]] = field(default_factory=dict)  # by payout id
    returns: list[tuple[Payout, Entry]] = field(default_factory=list)  # after booking
    credits: set[str] = field(default_factory=set)  # references of won in, matched
    problems: list[Problem] = field(default_factory=list)


def match(
    statement: Statement,
    payouts: dict[str, Payout],
    money_in: dict[str, int],
    seen_credits: set[str],
    last_closing: int | None,
) -> Plan:
    plan = Plan()
    if last_closing is not None and statement.opening != last_closing:
        plan.problems.append(
            Problem(
                None,
                OPENING_MISMATCH,
                f"opening balance {statement.opening} won is not the last statement's"
                f" closing {last_closing} won: a statement is missing or altered",
            )
        )
    for entry in statement.entries:
        if entry.direction == DEBIT and not entry.reversal:
            _debit(plan, entry, payouts)
        else:
            _credit(plan, entry, payouts, money_in, seen_credits)
    return plan


def _debit(plan: Plan, entry: Entry, payouts: dict[str, Payout]) -> None:
    owed = payouts.get(entry.end_to_end)
    if owed is None:
        plan.problems.append(
            Problem(
                entry,
                UNKNOWN_ENTRY,
                f"won left the trust account for {entry.end_to_end!r}"
                ", which is no payout of the ledger",
            )
        )
    elif owed.amount != entry.amount:
        plan.problems.append(
            Problem(
                entry,
                AMOUNT_MISMATCH,
                f"payout {owed.id} is {owed.amount} won; the bank booked {entry.amount} won",
            )
        )
    elif owed.status != PAYOUT_PENDING or owed.id in plan.settle:
        plan.problems.append(
            Problem(
                entry,
                ALREADY_SETTLED,
                f"payout {owed.id} was {owed.status} already; the bank booked it again",
            )
        )
    else:
        plan.settle[owed.id] = (owed, entry)


def _came_back(plan: Plan, entry: Entry, owed: Payout | None) -> None:
    """A payout the bank had booked, sent back (its statement shows the credit with the
    return's reason): returned on the chain, its units made again. Anything else that
    looks like a return is for an operator."""
    booked = owed is not None and (owed.status == PAYOUT_PAID or owed.id in plan.settle)
    if booked and owed is not None and owed.amount == entry.amount:
        plan.returns.append((owed, entry))
        return
    plan.problems.append(
        Problem(
            entry,
            RETURNED_AFTER_PAYMENT,
            f"the bank sent back {entry.amount} won as {entry.end_to_end!r}"
            f" ({entry.return_reason or 'reversal'}), which is no payout it booked for"
            " that amount: check it with the bank",
        )
    )


def _credit(
    plan: Plan,
    entry: Entry,
    payouts: dict[str, Payout],
    money_in: dict[str, int],
    seen: set[str],
) -> None:
    ref = entry.end_to_end
    if entry.return_reason or entry.reversal or (entry.direction == CREDIT and ref in payouts):
        _came_back(plan, entry, payouts.get(ref))
        return
    expected = money_in.get(ref)
    if expected is None:
        plan.problems.append(
            Problem(
                entry,
                UNKNOWN_ENTRY,
                f"{entry.amount} won came in as {ref!r}, which the"
                " ledger has not minted (no deposit notice or budget transfer)",
            )
        )
    elif expected != entry.amount:
        plan.problems.append(
            Problem(
                entry,
                AMOUNT_MISMATCH,
                f"the ledger minted {expected} won for {ref!r}; the bank booked {entry.amount} won",
            )
        )
    elif ref in seen or ref in plan.credits:
        plan.problems.append(
            Problem(entry, CREDIT_SEEN, f"{ref!r} was on an earlier statement already")
        )
    else:
        plan.credits.add(ref)
