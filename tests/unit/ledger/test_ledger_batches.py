"""Disbursement batches on the ledger: approved once by two officials, each row paid once,
only as approved (its Merkle inclusion proof), from the program's budget."""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.batches import row_leaf
from localpay.ledger.log import merkle
from localpay.testing.machine_city import CHECKER, CITY, MAKER, OPERATOR, City

ROWS = [("alice", 250_000), ("bob", 250_000), ("carol", 250_000)]


def batch_city() -> tuple[City, list[bytes]]:
    city = City()
    city.program("youth", budget=500_000)
    for wallet, _ in ROWS:
        city.wallet(wallet)
    leaves = [row_leaf("b1", "youth", n, w, a, "") for n, (w, a) in enumerate(ROWS)]
    approve = c.ApproveBatch(
        id=city.new_id(),
        city=CITY,
        batch="b1",
        program="youth",
        rows=3,
        total=750_000,
        root=merkle.root(leaves).hex(),
    )
    assert city.run(approve, MAKER).code == Code.APPROVALS_MISSING
    assert city.run(approve, MAKER, CHECKER).code == Code.OK
    return city, leaves


def row(city: City, leaves: list[bytes], n: int, amount: int | None = None) -> c.BatchCredit:
    wallet, approved = ROWS[n]
    proof = [p.hex() for p in merkle.inclusion_proof(leaves, n, len(leaves))]
    return c.BatchCredit(
        id=city.new_id(),
        city=CITY,
        batch="b1",
        row=n,
        wallet=wallet,
        amount=approved if amount is None else amount,
        evidence="",
        proof=proof,
    )


def test_each_row_is_paid_once_and_only_as_approved() -> None:
    city, leaves = batch_city()
    assert city.run(row(city, leaves, 0), OPERATOR).code == Code.OK
    assert city.run(row(city, leaves, 0), OPERATOR).code == Code.ROW_ALREADY_PAID
    assert city.run(row(city, leaves, 1, amount=300_000), OPERATOR).code == Code.ROW_NOT_IN_BATCH
    assert city.run(row(city, leaves, 1), MAKER, CHECKER).code == Code.SIGNER_NOT_AUTHORIZED
    assert city.run(row(city, leaves, 1), OPERATOR).code == Code.OK
    # The budget held 500,000: the third row waits for more budget, it is never overdrawn.
    assert city.run(row(city, leaves, 2), OPERATOR).code == Code.INSUFFICIENT_FUNDS
    batch = city.state.batches["b1"]
    assert (batch.paid_rows, batch.paid_total) == (2, 500_000)
    assert city.balance("alice") == 250_000
