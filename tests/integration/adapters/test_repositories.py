"""The feature repositories (adapters/sql/<feature>.py), each on SQLite and PostgreSQL.

A service sees storage only through its feature's port (services/<feature>/ports.py);
these tests hold each implementation to that port's promises on both stores, through
the same query text.
"""

from __future__ import annotations

import os

from localpay.adapters.sql.approvals import SqlProposalRepository
from localpay.adapters.sql.history import SqlHistoryIndex
from localpay.adapters.sql.idempotency import SqlIdempotencyRepository
from localpay.adapters.sql.runner import SqlStore
from localpay.domain.commands import Signature
from localpay.domain.proposals import PENDING, REJECTED, SUBMITTED, Proposal
from localpay.ledger.blocks import BlockHeader, BlockRecord, TxRecord, encode_header, header_hash
from localpay.services.idempotency.ports import Answer

CITY = "gimpo"

# -- approvals: the proposals table ---------------------------------------------------------

MAKER = Signature(key="aa" * 32, sig="11" * 64)
CHECKER = Signature(key="bb" * 32, sig="22" * 64)
OTHER = Signature(key="cc" * 32, sig="33" * 64)


def _proposal(pid: str, created_ms: int = 1_000, city: str = CITY, **kw: object) -> Proposal:
    fields: dict[str, object] = {
        "id": pid,
        "city": city,
        "kind": "mint",
        "body": b'{"type":"mint","id":"' + pid.encode() + b'"}',
        "sigs": (MAKER,),
        "maker": "p-maker",
        "status": PENDING,
        "outcome": None,
        "created_ms": created_ms,
    }
    fields.update(kw)
    return Proposal(**fields)  # type: ignore[arg-type]


def test_a_proposal_reads_back_whole_and_only_in_its_city(store: SqlStore) -> None:
    repo = SqlProposalRepository(store)
    made = _proposal("pr-1", sigs=(MAKER, CHECKER))
    assert repo.add(made)
    assert repo.find(CITY, "pr-1") == made
    assert repo.find("other", "pr-1") is None
    assert repo.find(CITY, "pr-none") is None
    unsigned = _proposal("pr-2", sigs=())
    assert repo.add(unsigned)
    assert repo.find(CITY, "pr-2") == unsigned


def test_adding_a_taken_id_is_refused_and_keeps_the_first(store: SqlStore) -> None:
    repo = SqlProposalRepository(store)
    first = _proposal("pr-1")
    assert repo.add(first)
    assert not repo.add(_proposal("pr-1", kind="credit", maker="p-other", created_ms=5))
    assert repo.find(CITY, "pr-1") == first


def test_a_signature_is_added_only_over_the_signatures_seen(store: SqlStore) -> None:
    repo = SqlProposalRepository(store)
    repo.add(_proposal("pr-1"))
    assert repo.add_signature("pr-1", (MAKER,), (MAKER, CHECKER))
    # A second checker who read the proposal before that approval loses the race.
    assert not repo.add_signature("pr-1", (MAKER,), (MAKER, OTHER))
    found = repo.find(CITY, "pr-1")
    assert found is not None and found.sigs == (MAKER, CHECKER)
    assert not repo.add_signature("pr-none", (MAKER,), (MAKER, OTHER))


def test_a_decided_proposal_takes_no_signature_and_no_second_decision(store: SqlStore) -> None:
    repo = SqlProposalRepository(store)
    repo.add(_proposal("pr-1"))
    assert not repo.reject(CITY, "pr-1", ())  # stale: the maker's signature is there
    assert not repo.reject("other", "pr-1", (MAKER,))
    assert repo.reject(CITY, "pr-1", (MAKER,))
    found = repo.find(CITY, "pr-1")
    assert found is not None and found.status == REJECTED
    assert not repo.reject(CITY, "pr-1", (MAKER,))
    assert not repo.add_signature("pr-1", (MAKER,), (MAKER, CHECKER))
    found = repo.find(CITY, "pr-1")
    assert found is not None and found.sigs == (MAKER,)


def test_a_submitted_proposal_keeps_its_receipt(store: SqlStore) -> None:
    repo = SqlProposalRepository(store)
    repo.add(_proposal("pr-1"))
    repo.submitted("pr-1", '{"seq":7}')
    found = repo.find(CITY, "pr-1")
    assert found is not None
    assert (found.status, found.outcome) == (SUBMITTED, '{"seq":7}')


def test_proposals_page_newest_first_by_time_then_id(store: SqlStore) -> None:
    repo = SqlProposalRepository(store)
    for pid, ms in [("pr-a", 10), ("pr-b", 20), ("pr-c", 20), ("pr-d", 30)]:
        repo.add(_proposal(pid, created_ms=ms))
    repo.add(_proposal("pr-x", created_ms=25, city="other"))
    repo.reject(CITY, "pr-b", (MAKER,))
    top = (2**62, "")

    def ids(status: str | None, before: tuple[int, str], limit: int = 10) -> list[str]:
        return [p.id for p in repo.page(CITY, status, before, limit)]

    assert ids(None, top) == ["pr-d", "pr-c", "pr-b", "pr-a"]
    assert ids(None, top, limit=2) == ["pr-d", "pr-c"]
    # Resuming after pr-c (same millisecond as pr-b) skips nothing and repeats nothing.
    assert ids(None, (20, "pr-c")) == ["pr-b", "pr-a"]
    assert ids(PENDING, top) == ["pr-d", "pr-c", "pr-a"]
    assert ids(REJECTED, top) == ["pr-b"]
    assert ids(None, (10, "pr-a")) == []


# -- idempotency: the answers given to Idempotency-Keys -------------------------------------


def _answer(scope: str, key: str, status: int = 201, body: bytes = b'{"ok":true}') -> Answer:
    return Answer(scope, key, "h-" + key, status, body, "application/json", 1_000)


def test_an_answer_reads_back_exactly_and_only_for_its_scope(store: SqlStore) -> None:
    repo = SqlIdempotencyRepository(store)
    assert repo.find("anonymous", "k-1") is None
    repo.keep([_answer("anonymous", "k-1", 409, b"\x00\xffraw")])
    assert repo.find("anonymous", "k-1") == ("h-k-1", 409, b"\x00\xffraw", "application/json")
    assert repo.find("someone", "k-1") is None  # a key is scoped to its credentials
    repo.keep([])  # nothing to write is no statement at all


def test_a_key_answered_before_keeps_its_first_answer_and_the_batch_still_lands(
    store: SqlStore,
) -> None:
    repo = SqlIdempotencyRepository(store)
    repo.keep([_answer("anonymous", "k-1", 201, b"first")])
    # A later process answers k-1 again in a batch with new keys: nothing is lost, the
    # first answer stays.
    repo.keep(
        [
            _answer("anonymous", "k-0", 200, b"zero"),
            _answer("anonymous", "k-1", 422, b"second"),
            _answer("someone", "k-1", 202, b"theirs"),
        ]
    )
    assert repo.find("anonymous", "k-1") == ("h-k-1", 201, b"first", "application/json")
    assert repo.find("anonymous", "k-0") == ("h-k-0", 200, b"zero", "application/json")
    assert repo.find("someone", "k-1") == ("h-k-1", 202, b"theirs", "application/json")


# -- history: the (account, seq) index ------------------------------------------------------


def _block(height: int, first_seq: int, count: int, city: str = CITY) -> BlockRecord:
    """A block the store accepts (it checks no signature, only keys and order)."""
    txs = [
        TxRecord(first_seq + n, height, os.urandom(16).hex(), "pay", b"{}", b'{"code":"ok"}')
        for n in range(count)
    ]
    header = BlockHeader(
        city=city,
        height=height,
        prev="00" * 32,
        time_ms=1_000,
        tx_count=count,
        tx_root="11" * 32,
        log_size=first_seq + count,
        log_root="22" * 32,
    )
    header_bytes = encode_header(header)
    return BlockRecord(
        header, header_bytes, header_hash(header_bytes), b"s" * 64, "note\n", [], txs, []
    )


def test_the_history_index_pages_an_accounts_transactions_newest_first(store: SqlStore) -> None:
    store.append_block(CITY, _block(0, 0, 6))
    store.append_block("other", _block(0, 0, 2, city="other"))
    index = SqlHistoryIndex(store)
    assert index.high_water(CITY) == -1
    index.add_parties(CITY, [("w-a", 1), ("w-a", 3), ("w-b", 3), ("w-a", 5)])
    index.add_parties("other", [("w-a", 0)])
    index.add_parties(CITY, [])
    assert index.high_water(CITY) == 5
    assert index.high_water("other") == 0
    txs = {t.seq: t for t in store.txs(CITY)}
    assert index.account_txs(CITY, "w-a", None, 10) == [txs[5], txs[3], txs[1]]
    assert index.account_txs(CITY, "w-a", None, 2) == [txs[5], txs[3]]
    assert index.account_txs(CITY, "w-a", 3, 10) == [txs[1]]
    assert index.account_txs(CITY, "w-b", None, 10) == [txs[3]]
    assert index.account_txs(CITY, "w-none", None, 10) == []


def test_indexing_a_pair_again_changes_nothing(store: SqlStore) -> None:
    store.append_block(CITY, _block(0, 0, 3))
    index = SqlHistoryIndex(store)
    index.add_parties(CITY, [("w-a", 0), ("w-a", 2)])
    # A catch-up after a crash re-adds what the background thread had written.
    index.add_parties(CITY, [("w-a", 2), ("w-a", 1), ("w-a", 2)])
    assert [t.seq for t in index.account_txs(CITY, "w-a", None, 10)] == [2, 1, 0]
    assert index.high_water(CITY) == 2
