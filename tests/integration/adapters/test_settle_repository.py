"""The settlement tables (adapters/sql/settlement.py) on SQLite and PostgreSQL: every
method of services/settlement/ports.SettlementRepository, its idempotency, and that a
holder's name and account number are kept only sealed (no row, and no byte of the SQLite
file, shows them in clear).

정산 저장소: 두 저장소에서 같은 약속을 지키고, 예금주·계좌번호는 봉인되어서만 남는다.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localpay.adapters.secrets import (
    MasterKey,
    MasterKeyMismatch,
    SealBroken,
    master_key_from_environment,
)
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.settlement import SqlSettlement
from localpay.bootstrap import open_store
from localpay.services.settlement.ports import (
    BUILT,
    CREDIT,
    LINE_PAID,
    LINE_RETURNED,
    LINE_SENT,
    OPEN,
    RESOLVED,
    SENT,
    BatchLine,
    Party,
    PayoutBatch,
    ReconException,
    ReserveProof,
    StatementRecord,
    StoredAccount,
)

CITY = "gimpo"
HOLDER = "김포빵집주식회사"
ACCOUNT = "3020000012345"
BAKERY = Party(HOLDER, "011", ACCOUNT)
# A pain.001 file names the holder and the account: what must never lie in clear.
FILE = (
    f"<Document><CdtTrfTxInf><Cdtr><Nm>{HOLDER}</Nm></Cdtr><CdtrAcct><Id><Othr>"
    f"<Id>{ACCOUNT}</Id></Othr></Id></CdtrAcct></CdtTrfTxInf></Document>"
).encode()


@pytest.fixture
def repo(store: SqlStore) -> SqlSettlement:
    return SqlSettlement(store, master_key_from_environment())


def _batch(ident: str, created_ms: int, *lines: BatchLine, city: str = CITY) -> PayoutBatch:
    return PayoutBatch(
        city, ident, "daily", dt.date(2026, 9, 28), created_ms, BUILT,
        sum(x.amount for x in lines), lines,
    )  # fmt: skip


def _line(payout: str, owner: str = "m-bakery", amount: int = 10_000) -> BatchLine:
    return BatchLine(payout, owner, "wallet" if owner.startswith("w-") else "merchant", amount)


def _exception(bank_ref: str, line: int, reason: str = "unknown_entry") -> ReconException:
    return ReconException(
        CITY, 0, "stmt-1", bank_ref, "E2E-X", CREDIT, 5_000, reason, "원장에 없는 입금", line,
        at_ms=7,
    )  # fmt: skip


def _proof(size: int, trust: int = 100_000) -> ReserveProof:
    return ReserveProof(
        CITY, size, "ab" * 32, size * 10, 100_000, 20_000, trust, dt.date(2026, 9, 25), 0,
        max(0, 100_000 - trust),
    )  # fmt: skip


# -- accounts -------------------------------------------------------------------------------


def test_an_account_reads_back_whole_and_a_new_one_replaces_it(repo: SqlSettlement) -> None:
    assert repo.account(CITY, "m-bakery") is None
    first = StoredAccount(CITY, "m-bakery", BAKERY, "d1" * 32, 1_000)
    repo.put_account(first)
    assert repo.account(CITY, "m-bakery") == first
    assert repo.account("other", "m-bakery") is None
    moved = StoredAccount(CITY, "m-bakery", Party(HOLDER, "088", "110222333444"), "d2" * 32, 2)
    repo.put_account(moved)
    assert repo.account(CITY, "m-bakery") == moved


def test_a_sealed_account_moved_to_another_owner_does_not_open(
    repo: SqlSettlement, store: SqlStore
) -> None:
    repo.put_account(StoredAccount(CITY, "m-bakery", BAKERY, "d1", 1))
    repo.put_account(StoredAccount(CITY, "m-cafe", Party("카페", "004", "999"), "d2", 1))
    store.sql(
        "UPDATE settlement_accounts SET party_sealed ="
        " (SELECT party_sealed FROM settlement_accounts WHERE owner = 'm-bakery')"
        " WHERE owner = 'm-cafe'"
    )
    with pytest.raises(SealBroken):
        repo.account(CITY, "m-cafe")


# -- batches and lines ----------------------------------------------------------------------


def test_a_batch_and_its_file_read_back_and_a_second_add_keeps_the_first(
    repo: SqlSettlement,
) -> None:
    made = _batch("MSG-1", 100, _line("p-1"), _line("p-2", "w-kim", 3_000))
    assert repo.add_batch(made, FILE) == made
    assert repo.batch(CITY, "MSG-1") == made
    assert repo.batch_file(CITY, "MSG-1") == FILE
    again = _batch("MSG-1", 999, _line("p-9", amount=1))
    assert repo.add_batch(again, b"<other/>") == made
    assert repo.batch(CITY, "MSG-1") == made and repo.batch_file(CITY, "MSG-1") == FILE
    assert repo.batch("other", "MSG-1") is None and repo.batch_file(CITY, "MSG-2") is None


def test_batches_are_listed_newest_first_and_by_owner(repo: SqlSettlement) -> None:
    one = repo.add_batch(_batch("MSG-1", 100, _line("p-1"), _line("p-2", "w-kim")), FILE)
    two = repo.add_batch(_batch("MSG-2", 200, _line("p-3")), FILE)
    three = repo.add_batch(_batch("MSG-3", 300, _line("p-4", "w-kim")), FILE)
    repo.add_batch(_batch("MSG-4", 400, _line("p-5"), city="other"), FILE)
    assert repo.batches(CITY) == [three, two, one]
    assert repo.batches(CITY, limit=2) == [three, two]
    assert repo.batches_of(CITY, "w-kim") == [three, one]  # whole batches
    assert repo.batches_of(CITY, "w-kim", limit=1) == [three]
    assert repo.batches_of(CITY, "m-none") == []


def test_a_batch_status_changes_with_the_banks_words(repo: SqlSettlement) -> None:
    repo.add_batch(_batch("MSG-1", 100, _line("p-1")), FILE)
    repo.set_batch_status(CITY, "MSG-1", SENT, "접수됨 ACTC")
    found = repo.batch(CITY, "MSG-1")
    assert found is not None and (found.status, found.detail) == (SENT, "접수됨 ACTC")


def test_set_line_acts_on_the_newest_line_of_a_payout(repo: SqlSettlement) -> None:
    repo.add_batch(_batch("MSG-1", 100, _line("p-1", "w-kim"), _line("p-2")), FILE)
    repo.set_line(CITY, "p-1", LINE_RETURNED, "AC04", "")
    # The citizen's payout is sent again in a later file, then paid.
    repo.add_batch(_batch("MSG-2", 200, _line("p-1", "w-kim")), FILE)
    repo.set_line(CITY, "p-1", LINE_PAID, "", "BANK-REF-9")
    first, second = repo.batch(CITY, "MSG-1"), repo.batch(CITY, "MSG-2")
    assert first is not None and second is not None
    assert first.lines[0] == BatchLine("p-1", "w-kim", "wallet", 10_000, LINE_RETURNED, "AC04")
    assert first.lines[1].status == LINE_SENT  # another payout's line is untouched
    assert second.lines[0].status == LINE_PAID and second.lines[0].bank_ref == "BANK-REF-9"


def test_batched_counts_sent_and_paid_lines_not_returned_ones(repo: SqlSettlement) -> None:
    assert repo.batched(CITY) == set()
    repo.add_batch(_batch("MSG-1", 100, _line("p-1"), _line("p-2"), _line("p-3")), FILE)
    repo.set_line(CITY, "p-2", LINE_PAID, "", "R-2")
    repo.set_line(CITY, "p-3", LINE_RETURNED, "AC04", "")
    assert repo.batched(CITY) == {"p-1", "p-2"}
    assert repo.batched("other") == set()


# -- statements, matched references, exceptions ---------------------------------------------


def _statement(ident: str, day: int, imported_ms: int) -> StatementRecord:
    return StatementRecord(CITY, ident, dt.date(2026, 9, day), 1_000, 2_000, 3, 2, 1, imported_ms)


def test_a_statement_is_recorded_once_and_listed_by_day_then_import(
    repo: SqlSettlement,
) -> None:
    first = _statement("stmt-25", 25, 10)
    assert repo.add_statement(first)
    assert not repo.add_statement(_statement("stmt-25", 26, 99))
    later = _statement("stmt-26", 26, 5)  # imported earlier, but of a later day
    again = _statement("stmt-26b", 26, 7)
    assert repo.add_statement(later) and repo.add_statement(again)
    assert repo.statements(CITY) == [again, later, first]
    assert repo.statements(CITY, limit=1) == [again]
    assert repo.statements("other") == []


def test_matched_references_are_a_set_per_city(repo: SqlSettlement) -> None:
    repo.add_matched(CITY, ["E2E-1", "E2E-2", "E2E-1"])
    repo.add_matched(CITY, ["E2E-2", "E2E-3"])
    repo.add_matched(CITY, [])
    assert repo.matched(CITY) == {"E2E-1", "E2E-2", "E2E-3"}
    assert repo.matched("other") == set()


def test_exceptions_are_queued_filtered_and_resolved_once(repo: SqlSettlement) -> None:
    repo.add_exception(_exception("B-1", 12))
    repo.add_exception(_exception("B-2", 30, "amount_mismatch"))
    repo.add_exception(_exception("B-1", 12))  # a re-run of the same import
    found = repo.exceptions(CITY)
    assert [(x.bank_ref, x.reason, x.status) for x in found] == [
        ("B-1", "unknown_entry", OPEN), ("B-2", "amount_mismatch", OPEN),
    ]  # fmt: skip
    first = found[0]
    assert (first.detail, first.line, first.amount, first.at_ms) == (
        "원장에 없는 입금",
        12,
        5_000,
        7,
    )
    assert repo.resolve_exception(CITY, first.id, "시청 예산 이체로 확인")
    assert not repo.resolve_exception(CITY, first.id, "again")
    assert not repo.resolve_exception("other", found[1].id, "not its city")
    assert not repo.resolve_exception(CITY, 10**9, "unknown")
    assert [x.bank_ref for x in repo.exceptions(CITY)] == ["B-2"]
    resolved = repo.exceptions(CITY, RESOLVED)
    assert [(x.id, x.note) for x in resolved] == [(first.id, "시청 예산 이체로 확인")]
    assert [x.bank_ref for x in repo.exceptions(CITY, None)] == ["B-1", "B-2"]
    assert len(repo.exceptions(CITY, None, limit=1)) == 1
    assert repo.exceptions("other", None) == []


# -- proofs ---------------------------------------------------------------------------------


def test_a_proof_is_kept_once_per_size_newest_first(repo: SqlSettlement) -> None:
    repo.add_proof(_proof(10))
    repo.add_proof(_proof(20, trust=90_000))
    repo.add_proof(_proof(10, trust=1))  # a repeat is ignored
    none_yet = ReserveProof(CITY, 30, "cd" * 32, 300, 0, 0, 0, None, 0, 0)
    repo.add_proof(none_yet)
    assert repo.proofs(CITY) == [none_yet, _proof(20, trust=90_000), _proof(10)]
    assert repo.proofs(CITY, limit=1) == [none_yet]
    assert repo.proofs(CITY)[1].shortfall == 10_000
    assert repo.proofs("other") == []


# -- personal data at rest ------------------------------------------------------------------


def _every_value(store: SqlStore) -> list[object]:
    if store.dialect == "sqlite":
        tables = store.sql("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        tables = store.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return [v for (t,) in tables for row in store.sql(f'SELECT * FROM "{t}"') for v in row]


def _shows(value: object, text: str) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return text.encode() in bytes(value)
    return text in str(value)


def test_holder_name_and_account_number_are_never_in_clear(
    repo: SqlSettlement, store: SqlStore, store_url: str
) -> None:
    repo.put_account(StoredAccount(CITY, "m-bakery", BAKERY, "d1" * 32, 1))
    repo.add_batch(_batch("MSG-1", 100, _line("p-1")), FILE)
    values = _every_value(store)
    assert any(_shows(v, "m-bakery") for v in values)  # the scan does see the rows
    for secret in (HOLDER, ACCOUNT):
        assert not any(_shows(v, secret) for v in values), secret
    if store.dialect == "sqlite":
        folder = Path(store_url.removeprefix("sqlite:///")).parent
        raw = b"".join(p.read_bytes() for p in sorted(folder.glob("ledger.db*")))
        for secret in (HOLDER, ACCOUNT):
            assert secret.encode() not in raw, secret


def test_a_new_master_key_reseals_accounts_and_files_and_a_rerun_does_nothing(
    repo: SqlSettlement, store: SqlStore
) -> None:
    old = master_key_from_environment()
    repo.put_account(StoredAccount(CITY, "m-bakery", BAKERY, "d1", 1))
    repo.add_batch(_batch("MSG-1", 100, _line("p-1")), FILE)
    new = MasterKey.generate(old.version + 1, "the test's new master key")
    assert repo.reseal(old, new) == 2
    assert repo.reseal(old, new) == 0
    under_new = SqlSettlement(store, new)
    account = under_new.account(CITY, "m-bakery")
    assert account is not None and account.party == BAKERY
    assert under_new.batch_file(CITY, "MSG-1") == FILE
    with pytest.raises(MasterKeyMismatch):
        repo.account(CITY, "m-bakery")
    with pytest.raises(MasterKeyMismatch):
        repo.batch_file(CITY, "MSG-1")


def test_keys_rotate_master_reseals_the_settlement_rows(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The command an operator runs (`localpay keys rotate-master`) reaches these rows too;
    on SQLite only: the method's own test above runs on both stores."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    store = open_store(url)
    try:
        repo = SqlSettlement(store, master_key_from_environment())
        repo.put_account(StoredAccount(CITY, "m-bakery", BAKERY, "d1", 1))
        repo.add_batch(_batch("MSG-1", 100, _line("p-1")), FILE)
    finally:
        store.close()
    new_file = tmp_path_factory.mktemp("master-keys") / "master-v2.key"
    argv = [sys.executable, "-m", "localpay.entrypoints.cli", "--keys", str(tmp_path / "keys")]
    done = subprocess.run(
        [*argv, "keys", "rotate-master", "--new-key-file", str(new_file)],
        env={**os.environ, "LOCALPAY_DB": url}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "re-sealed 2 payout accounts and payout files" in done.stdout, done.stdout
    store = open_store(url)
    try:
        under_new = SqlSettlement(store, master_key_from_environment(new_file))
        assert under_new.batch_file(CITY, "MSG-1") == FILE
        account = under_new.account(CITY, "m-bakery")
        assert account is not None and account.party == BAKERY
    finally:
        store.close()
