"""Disbursement batches: approved once by the officials, paid row by row, each row once.

An official uploads a list (services/programs); when the checker approves it, one
`approve_batch` command signed by both records the Merkle root (RFC 9162, the same tree
as the chain's log) of the batch's row leaves, with their count and total. The
execution job then pays each row with `batch_credit`, signed by the operator and
carrying the row's inclusion proof: the ledger pays only rows of an approved batch,
exactly as approved, and each at most once (a bitmap of paid rows), however often the
job is re-run or resumed after a crash. No official has to sign 100,000 commands.
"""

from __future__ import annotations

from typing import Final

import msgspec

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.log import merkle
from localpay.ledger.results import Result, rejected
from localpay.ledger.state import Batch, CityState

Touched = list[str]
Outcome = tuple[Result, Touched]
NOTHING: Touched = []

_encoder: Final = msgspec.json.Encoder(order="sorted")


def row_leaf(batch: str, program: str, row: int, wallet: str, amount: int, evidence: str) -> bytes:
    """The leaf hash of one row: what the officials approve and each payment proves."""
    fields = {
        "amount": amount,
        "batch": batch,
        "evidence": evidence,
        "program": program,
        "row": row,
        "wallet": wallet,
    }
    return merkle.leaf_hash(b"localpay/batch-row/v1\n" + _encoder.encode(fields))


def new_batch(cmd: c.ApproveBatch, now: int) -> Batch:
    paid = bytearray((cmd.rows + 7) // 8)
    return Batch(cmd.batch, cmd.program, cmd.rows, cmd.total, cmd.root, paid, 0, 0, now)


def _is_paid(batch: Batch, row: int) -> bool:
    return bool(batch.paid[row // 8] & (1 << (row % 8)))


def _mark_paid(batch: Batch, row: int, amount: int) -> None:
    # In place: a row is one bit, whatever the batch's size (the entity is encoded, as
    # base64, once per block that paid rows, not once per row).
    batch.paid[row // 8] |= 1 << (row % 8)
    batch.paid_rows += 1
    batch.paid_total += amount


def check_row(state: CityState, cmd: c.BatchCredit) -> tuple[Batch, Code]:
    """The batch of a row and whether the row may be paid (Code.OK) or why not."""
    batch = state.batches.get(cmd.batch)
    if batch is None:
        return Batch("", "", 0, 0, "", bytearray(), 0, 0, 0), Code.BATCH_NOT_FOUND
    if not 0 <= cmd.row < batch.rows:
        return batch, Code.ROW_NOT_IN_BATCH
    leaf = row_leaf(batch.id, batch.program, cmd.row, cmd.wallet, cmd.amount, cmd.evidence)
    proof = [bytes.fromhex(h) for h in cmd.proof]
    if not merkle.verify_inclusion(leaf, cmd.row, batch.rows, proof, bytes.fromhex(batch.root)):
        return batch, Code.ROW_NOT_IN_BATCH
    if _is_paid(batch, cmd.row):
        return batch, Code.ROW_ALREADY_PAID
    return batch, Code.OK


def record_paid(batch: Batch, row: int, amount: int) -> None:
    _mark_paid(batch, row, amount)


def approve(state: CityState, cmd: c.ApproveBatch, now: int) -> Outcome:
    if cmd.batch in state.batches:
        return rejected(Code.BATCH_EXISTS), NOTHING
    if cmd.program not in state.programs:
        return rejected(Code.PROGRAM_NOT_FOUND), NOTHING
    state.batches[cmd.batch] = new_batch(cmd, now)
    return Result(code=Code.OK.value), [f"b:{cmd.batch}"]
