"""Settlement's use cases: payout accounts, instant and daily payouts, the bank's answers
and statements, reconciliation, proof of reserves.

Order of every step, so that nothing acknowledged is lost (kill -9 anywhere):
1. the ledger first: a payout is a signed command with an id derived from what it is
   (the merchant's idempotency key; the city, merchant and day for the batch), so a
   re-run submits the same id and gets the first receipt;
2. then the file: built from the pending payouts not yet on a sent line, checked
   against the XSD, recorded (sealed) before it is sent; a file recorded but not sent
   (the bank down, a crash) is sent again, with its same MsgId, at the next poll;
3. the bank's answers are applied through commands with derived ids too (settle and
   return per payout), and a statement is recorded by its id only after its commands,
   so a statement read twice changes nothing and a crash half way re-applies it whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import nacl.signing

from localpay.domain import business_days as days
from localpay.domain import commands as c
from localpay.domain.calendar import KST
from localpay.domain.errors import NotFound, Refused
from localpay.ledger.blocks import decode_header
from localpay.ledger.ports import StoredBlock
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import CityState, Payout
from localpay.services.approvals.service import merchant_key
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.officials import current_operator
from localpay.services.settlement import chain, reconcile, reserves
from localpay.services.settlement.ports import (
    BUILT,
    LINE_PAID,
    LINE_RETURNED,
    REFUSED,
    SENT,
    BankDown,
    BatchLine,
    Party,
    PaymentReport,
    PayoutBank,
    PayoutBatch,
    PayoutFile,
    PayoutLine,
    ReconException,
    ReserveProof,
    SettlementRepository,
    Statement,
    StatementRecord,
    StoredAccount,
)

log = logging.getLogger("localpay.settlement")

ACTOR: Final = "settlement"
SATURDAY: Final = 5
#: Payouts in one file: banks cap a file's lines (ours, adapters/iso20022, at 10,000), and a
#: large city's day is several files.
LINES_PER_FILE: Final = 5_000
#: Commands submitted at once (the sequencer's queue is bounded).
CHUNK: Final = 500
#: The key-store name of the city's secret that keys the payout accounts' digests.
SECRET_NAME: Final = "payout-account-secret"  # noqa: S105 (a key file's name)
DIGEST_PREFIX: Final = b"localpay/payout-account/v1\n"
#: The statement entry's words for a shop: what it reads in its own bank's app.
REMITTANCE: Final = "지역화폐 정산 {day}"


class PayoutRefused(Refused):
    """The ledger refused a payout (its code says why: no account, not enough, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NoPayoutAccount(NotFound):
    """The merchant (or citizen) has no payout account on file."""


@dataclass(frozen=True)
class Polled:
    sent: int  # files (re)sent
    reports: int
    returned: int
    statements: int
    exceptions: int


def account_digest(secret: bytes, party: Party) -> str:
    """The payout account's digest on the chain: keyed, so the account number (a few
    digits of entropy) cannot be found from it by trying every number."""
    material = "\n".join((party.bank, party.account, party.name)).encode()
    return hmac.new(secret, DIGEST_PREFIX + material, hashlib.sha256).hexdigest()


class SettlementService:
    def __init__(
        self,
        ledgers: Ledgers,
        repo: SettlementRepository,
        bank: Callable[[str], PayoutBank],
        trust: Callable[[str], Party],
        cutoff_minutes: int = 15 * 60,
    ) -> None:
        self.ledgers = ledgers
        self.repo = repo
        self.bank = bank
        self.trust = trust
        self.cutoff_minutes = cutoff_minutes
        self._money_in: dict[str, chain.MoneyIn] = {}

    # -- the city's bank closures -----------------------------------------------------------

    def closures(self, city: str) -> frozenset[dt.date]:
        return frozenset(self.repo.closures(city))

    def add_closure(self, city: str, day: dt.date, reason: str) -> None:
        """A day the city's bank does not settle (beyond holidays.KR): payouts roll past
        it. Told to the bank too where it takes a holiday list (mock-bank does)."""
        if not reason.strip():
            raise Refused("say why the bank is closed that day")
        if days.holiday_name(day) or day.weekday() >= SATURDAY:
            raise Refused(f"{day} is a holiday or a weekend already")
        self.repo.add_closure(city, day, reason.strip())
        self._tell_bank_closures(city)

    def remove_closure(self, city: str, day: dt.date) -> None:
        if not self.repo.remove_closure(city, day):
            raise NotFound(f"{day} is not a closure of {city!r}")
        self._tell_bank_closures(city)

    def _tell_bank_closures(self, city: str) -> None:
        # Our execution dates skip the closures whatever the bank knows; a bank down now
        # is told at the next change.
        try:
            self.bank(city).closures(self.closures(city))
        except BankDown as exc:
            log.warning("the bank was not told %s's closures: %s", city, exc)

    # -- accounts ---------------------------------------------------------------------------

    def _secret(self, city: str) -> bytes:
        return bytes(self.ledgers.keys.get_or_create(city, SECRET_NAME))

    def register_account(self, city: str, owner: str, party: Party, now_ms: int) -> str:
        """Keep the owner's account (sealed) and, for a merchant, name its digest on the
        chain (set_payout_account, signed with the merchant's key). Returns the digest."""
        digest = account_digest(self._secret(city), party)
        self.repo.put_account(StoredAccount(city, owner, party, digest, now_ms))
        if owner in self._state(city).merchants:
            command = c.SetPayoutAccount(
                id=derived_id(city, ACTOR, "account", f"{owner}/{digest}"),
                city=city,
                merchant=owner,
                account=digest,
            )
            self._expect_ok(city, sign_command(command, [merchant_key(self.ledgers, city, owner)]))
        return digest

    # -- payouts ----------------------------------------------------------------------------

    def instant(self, city: str, merchant: str, amount: int, key: str, now_ms: int) -> PayoutBatch:
        """Pay `amount` of the merchant's balance to its account now: the payout on the
        chain, then a one-line file sent at once (idempotent by `key`)."""
        stored = self._account(city, merchant)
        command = c.Payout(
            id=derived_id(city, ACTOR, f"instant/{merchant}", key),
            city=city,
            merchant=merchant,
            amount=amount,
            account=stored.digest,
        )
        self._expect_ok(city, sign_command(command, [merchant_key(self.ledgers, city, merchant)]))
        owed = self._state(city).payouts[command.id]
        execution = days.execution_day(now_ms, self.cutoff_minutes, self.closures(city))
        return self._file(city, f"I{command.id[:30]}", "instant", execution, [owed], now_ms)

    def daily(self, city: str, now_ms: int) -> list[PayoutBatch]:
        """The daily batch: every active merchant's whole balance to its account, and the
        citizens' payouts owed, in files of LINES_PER_FILE paid the next business day. Run
        after the cut-off; a second run on the same day makes no second payout (derived
        ids) and, with nothing left to send, no file (an empty list)."""
        closures = self.closures(city)
        today = days.kst_date(now_ms)
        operator = self._operator(city)
        envelopes = [
            sign_command(
                c.Payout(
                    id=derived_id(city, ACTOR, "daily", f"{due.merchant}/{today.isoformat()}"),
                    city=city,
                    merchant=due.merchant,
                    amount=due.amount,
                    account=due.account,
                ),
                [operator],
            )
            for due in chain.due_balances(self._state(city))
        ]
        self._execute_all(city, envelopes)  # a refusal (a balance spent meanwhile) skips it
        batched = self.repo.batched(city)
        owed = [q for q in chain.pending(self._state(city)) if q.id not in batched]
        owed = [q for q in owed if self._sendable(city, q)]
        if not owed:
            return []
        execution = days.payout_day(now_ms, self.cutoff_minutes, closures)
        run = derived_id(city, ACTOR, "file", str(now_ms))[:18]
        return [
            self._file(city, f"D{today.strftime('%Y%m%d')}{run}{n:02d}", "daily", execution,
                       owed[start : start + LINES_PER_FILE], now_ms)
            for n, start in enumerate(range(0, len(owed), LINES_PER_FILE))
        ]  # fmt: skip

    def _file(
        self,
        city: str,
        ident: str,
        kind: str,
        execution: dt.date,
        owed: list[Payout],
        now_ms: int,
    ) -> PayoutBatch:
        bank = self.bank(city)
        lines = [self._line(city, q, execution) for q in owed]
        file = PayoutFile(
            msg_id=ident,
            created=dt.datetime.fromtimestamp(now_ms / 1000, KST).replace(microsecond=0),
            execution=execution,
            debtor=self.trust(city),
            lines=tuple(lines),
        )
        data = bank.write(file)  # checked against the XSD: a bad file never leaves
        batch = PayoutBatch(
            city, ident, kind, execution, now_ms, BUILT, file.total,
            tuple(BatchLine(q.id, q.merchant or q.wallet, "merchant" if q.merchant else "wallet",
                            q.amount) for q in owed),
        )  # fmt: skip
        batch = self.repo.add_batch(batch, data)
        return self._send(city, batch)

    def _sendable(self, city: str, owed: Payout) -> bool:
        """An account is on file; and for a citizen's payout the bank sent back, it was
        given after that file: the same account would only be refused again."""
        stored = self.repo.account(city, owed.merchant or owed.wallet)
        if stored is None:
            return False
        if not owed.returned:
            return True
        tried = [
            batch.created_ms
            for batch in self.repo.batches_of(city, owed.merchant or owed.wallet, limit=200)
            if any(line.payout == owed.id for line in batch.lines)
        ]
        return stored.at_ms > max(tried, default=0)

    def _line(self, city: str, owed: Payout, execution: dt.date) -> PayoutLine:
        stored = self._account(city, owed.merchant or owed.wallet)
        words = REMITTANCE.format(day=execution.isoformat())
        return PayoutLine(owed.id, owed.amount, stored.party, words)

    def _send(self, city: str, batch: PayoutBatch) -> PayoutBatch:
        data = self.repo.batch_file(city, batch.id)
        assert data is not None
        sent = self.bank(city).send(batch.id, data)  # BankDown: stays built, sent again later
        if sent.accepted:
            self.repo.set_batch_status(city, batch.id, SENT, sent.detail)
        elif "DUPL" in sent.detail:
            # The bank has this file already (our answer was lost): it stands as sent.
            self.repo.set_batch_status(city, batch.id, SENT, sent.detail)
        else:
            self.repo.set_batch_status(city, batch.id, REFUSED, sent.detail)
            for line in batch.lines:
                self._return(city, line.payout, "FF01")
        found = self.repo.batch(city, batch.id)
        assert found is not None
        return found

    # -- the bank's answers -----------------------------------------------------------------

    def poll(self, city: str, now_ms: int) -> Polled:
        """Send files still waiting, then take the bank's reports and statements."""
        waiting = [b for b in self.repo.batches(city, limit=200) if b.status == BUILT]
        for batch in waiting:
            self._send(city, batch)
        reports = statements = returned = problems = 0
        for message in self.bank(city).collect():
            if isinstance(message, PaymentReport):
                reports += 1
                returned += self.apply_report(city, message)
            else:
                statements += 1
                problems += self.reconcile(city, message, now_ms).exceptions
        return Polled(len(waiting), reports, returned, statements, problems)

    def apply_report(self, city: str, report: PaymentReport) -> int:
        """Return every payout the bank rejected (the whole file when its group is)."""
        batch = self.repo.batch(city, report.original_msg_id)
        if batch is None:
            log.warning("a status report on a file we never sent: %s", report.original_msg_id)
            return 0
        rejected = {s.end_to_end: s.reason or "NARR" for s in report.lines if s.status == "RJCT"}
        if report.group_status == "RJCT":
            # The whole file: each line with its own reason where the report gives one.
            whole = report.group_reason or "FF01"
            rejected = {line.payout: rejected.get(line.payout, whole) for line in batch.lines}
        for payout, reason in rejected.items():
            self._return(city, payout, reason)
        return len(rejected)

    def _return(self, city: str, payout: str, reason: str) -> None:
        owed = self._state(city).payouts.get(payout)
        if owed is None:
            return
        command = c.ReturnPayout(
            id=derived_id(city, ACTOR, "return", f"{payout}/{owed.returned}/{reason}"),
            city=city,
            payout=payout,
            reason=reason,
            merchant=owed.merchant,
            wallet=owed.wallet,
        )
        self.ledgers.execute(city, sign_command(command, [self._operator(city)]))
        self.repo.set_line(city, payout, LINE_RETURNED, reason, "")

    def import_statement(self, city: str, data: bytes, now_ms: int) -> StatementRecord:
        """A camt.053 an operator uploads (XmlRefused names the line of a bad one)."""
        return self.reconcile(city, self.bank(city).read_statement(data), now_ms)

    def reconcile(self, city: str, statement: Statement, now_ms: int) -> StatementRecord:
        known = self.repo.statements(city, limit=500)
        for record in known:
            if record.statement_id == statement.statement_id:
                return record  # the same statement twice changes nothing
        state = self._state(city)
        money_in = self._money(city)
        last = known[0].closing if known else None
        amounts = {ref: amount for ref, (amount, _) in money_in.items()}
        plan = reconcile.match(statement, state.payouts, amounts, self.repo.matched(city), last)
        operator = self._operator(city)
        settles = [
            c.SettlePayout(
                id=derived_id(city, ACTOR, "settle", owed.id),
                city=city,
                payout=owed.id,
                bank_ref=entry.bank_ref or statement.statement_id,
                merchant=owed.merchant,
                wallet=owed.wallet,
            )
            for owed, entry in plan.settle.values()
        ]
        returns = [
            c.ReturnPayout(
                id=derived_id(city, ACTOR, "came-back", f"{owed.id}/{entry.bank_ref}"),
                city=city,
                payout=owed.id,
                reason=entry.return_reason or "NARR",
                merchant=owed.merchant,
                wallet=owed.wallet,
                bank_ref=entry.bank_ref or statement.statement_id,
            )
            for owed, entry in plan.returns
        ]
        # Settled first: a payout booked and sent back on one statement is both, in order.
        self._execute_all(city, [sign_command(command, [operator]) for command in settles])
        self._execute_all(city, [sign_command(command, [operator]) for command in returns])
        for command in settles:
            self.repo.set_line(city, command.payout, LINE_PAID, "", command.bank_ref)
        for back in returns:
            self.repo.set_line(city, back.payout, LINE_RETURNED, back.reason, back.bank_ref)
        # Entries matched: payouts booked and sent back, credits shown (counted before the
        # first statement's cut-over adds references no entry of it names).
        matched = len(plan.settle) + len(plan.returns) + len(plan.credits)
        if not known:
            # The first statement: what the chain minted before it is in its opening
            # balance (a city coming onto the platform starts from that balance).
            plan.credits.update(money_in)
        self.repo.add_matched(city, sorted(plan.credits))
        for n, problem in enumerate(plan.problems):
            self.repo.add_exception(_exception(city, statement, problem, n, now_ms))
        record = StatementRecord(
            city, statement.statement_id, statement.day, statement.opening, statement.closing,
            len(statement.entries), matched, len(plan.problems),
            now_ms,
        )  # fmt: skip
        self.repo.add_statement(record)
        self.prove(city, now_ms)
        return record

    # -- reserves ---------------------------------------------------------------------------

    def prove(self, city: str, now_ms: int) -> ReserveProof:
        """The proof at the chain's current checkpoint, recorded; a shortfall is logged
        as an error (the metric and the health check read the recorded proofs)."""
        sequencer = self.ledgers.sequencer(city)
        size, root = _checkpoint(self.ledgers.store.head(city))
        statements = self.repo.statements(city, limit=1)
        proof = reserves.prove(
            sequencer.state, size, root, now_ms, statements[0] if statements else None,
            self._money(city), self.repo.matched(city),
        )  # fmt: skip
        self.repo.add_proof(proof)
        if proof.shortfall:
            log.error(
                "reserve shortfall in %s: %d won missing at checkpoint %d", city,
                proof.shortfall, proof.size,
            )  # fmt: skip
        return proof

    # -- reading ----------------------------------------------------------------------------

    def batches(self, city: str, owner: str | None = None, limit: int = 50) -> list[PayoutBatch]:
        if owner is None:
            return self.repo.batches(city, limit)
        return self.repo.batches_of(city, owner, limit)

    def batch(self, city: str, ident: str) -> PayoutBatch:
        found = self.repo.batch(city, ident)
        if found is None:
            raise NotFound(f"no payout batch {ident!r} in {city!r}")
        return found

    def batch_file(self, city: str, ident: str) -> bytes:
        data = self.repo.batch_file(city, ident)
        if data is None:
            raise NotFound(f"no payout batch {ident!r} in {city!r}")
        return data

    def exceptions(self, city: str, status: str | None = "open") -> list[ReconException]:
        return self.repo.exceptions(city, status)

    def resolve(self, city: str, ident: int, note: str) -> None:
        if not note.strip():
            raise Refused("say what was done about it (a note is kept with the exception)")
        if not self.repo.resolve_exception(city, ident, note.strip()):
            raise NotFound(f"no open exception {ident} in {city!r}")

    def account_of(self, city: str, owner: str) -> StoredAccount | None:
        return self.repo.account(city, owner)

    # -- helpers ----------------------------------------------------------------------------

    def _state(self, city: str) -> CityState:
        return self.ledgers.sequencer(city).state

    def _operator(self, city: str) -> nacl.signing.SigningKey:
        return current_operator(self.ledgers, city)[1]

    def _money(self, city: str) -> dict[str, tuple[int, int]]:
        index = self._money_in.get(city)
        if index is None:
            index = self._money_in[city] = chain.MoneyIn(self.ledgers.store, city)
        return index.follow()

    def _account(self, city: str, owner: str) -> StoredAccount:
        stored = self.repo.account(city, owner)
        if stored is None:
            raise NoPayoutAccount(f"{owner!r} has no payout account on file in {city!r}")
        return stored

    def _execute_all(self, city: str, envelopes: list[bytes]) -> None:
        """Submit in chunks the sequencer's queue takes; each is answered (or a repeat)."""
        for start in range(0, len(envelopes), CHUNK):
            self.ledgers.execute_many(city, envelopes[start : start + CHUNK])

    def _expect_ok(self, city: str, envelope: bytes) -> Receipt:
        receipt = self.ledgers.execute(city, envelope)
        if not receipt.ok:
            raise PayoutRefused(receipt.code, f"the ledger refused it: {receipt.code}")
        return receipt


def _exception(
    city: str, statement: Statement, problem: reconcile.Problem, n: int, now_ms: int
) -> ReconException:
    entry = problem.entry
    if entry is None:  # the statement as a whole (its opening balance)
        return ReconException(
            city, 0, statement.statement_id, "", "", "", 0, problem.reason, problem.detail, n,
            at_ms=now_ms,
        )  # fmt: skip
    return ReconException(
        city, 0, statement.statement_id, entry.bank_ref, entry.end_to_end, entry.direction,
        entry.amount, problem.reason, problem.detail, entry.line, at_ms=now_ms,
    )  # fmt: skip


def _checkpoint(head: StoredBlock | None) -> tuple[int, str]:
    if head is None:
        return 0, ""
    header = decode_header(head.header_bytes)
    return header.log_size, header.log_root
