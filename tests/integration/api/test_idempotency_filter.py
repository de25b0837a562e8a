"""A new Idempotency-Key costs no store look-up; a key recorded before, by this process or
an earlier one, is still answered from the table. Both stores."""

from __future__ import annotations

import threading

from localpay.adapters.clock import now_ms
from localpay.adapters.sql.idempotency import KEEP_ROWS, SqlIdempotencyRepository
from localpay.adapters.sql.runner import SqlStore
from localpay.entrypoints.api.middleware.idempotency import Record, Records
from localpay.services.idempotency.ports import Answer, Found


class CountedRepository(SqlIdempotencyRepository):
    """The real repository, counting the look-ups it is asked for."""

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store)
        self.finds = 0

    def find(self, scope: str, key: str) -> Found | None:
        self.finds += 1
        return super().find(scope, key)


def _answer(scope: str, key: str) -> Answer:
    return Answer(scope, key, "h-" + key, 201, b'{"k":"' + key.encode() + b'"}', "x/y", 1)


def test_recorded_reads_every_key_across_pages(store: SqlStore) -> None:
    repo = SqlIdempotencyRepository(store)
    assert list(repo.recorded()) == []
    keys = [("anonymous", f"k-{n:03}") for n in range(25)] + [("someone", "k-000"), ("a", "z")]
    repo.keep([_answer(s, k) for s, k in keys])
    assert sorted(repo.recorded(page=4)) == sorted(keys)
    assert sorted(repo.recorded(page=27)) == sorted(keys)  # a last page exactly full


def test_a_new_key_is_answered_without_a_store_look_up(store: SqlStore) -> None:
    repo = CountedRepository(store)
    records = Records(repo, now_ms)
    try:
        assert not records.may_be_recorded("anonymous", "never-sent")
        assert records.get("anonymous", "never-sent") is None
        assert repo.finds == 0
    finally:
        records.close()


def test_keys_recorded_by_an_earlier_process_are_still_answered(store: SqlStore) -> None:
    SqlIdempotencyRepository(store).keep([_answer("anonymous", "before"), _answer("s", "k")])
    repo = CountedRepository(store)
    records = Records(repo, now_ms)  # a server starting over a table with answers in it
    try:
        assert records.may_be_recorded("anonymous", "before")
        found = records.get("anonymous", "before")
        assert found == Record("h-before", 201, b'{"k":"before"}', "x/y") and repo.finds == 1
        assert records.get("s", "k") is not None
        assert not records.may_be_recorded("anonymous", "k")  # a key is scoped
    finally:
        records.close()


def test_a_key_recorded_here_is_known_at_once(store: SqlStore) -> None:
    records = Records(CountedRepository(store), now_ms)
    try:
        written = threading.Event()
        record = Record("h", 200, b"{}", "application/json")
        records.put("anonymous", "now", record, lambda _: written.set())
        assert records.may_be_recorded("anonymous", "now")
        assert written.wait(30)
    finally:
        records.close()
    # The next process knows it too.
    again = Records(CountedRepository(store), now_ms)
    try:
        assert again.get("anonymous", "now") == record
    finally:
        again.close()


def test_a_batch_larger_than_one_insert_lands_whole_and_first_answers_stay(
    store: SqlStore,
) -> None:
    repo = SqlIdempotencyRepository(store)
    repo.keep([_answer("anonymous", "k-007")])
    first = repo.find("anonymous", "k-007")
    count = 2 * KEEP_ROWS + 50
    later = [
        Answer("anonymous", f"k-{n:03}", "later", 200, b"later", "x/y", 2) for n in range(count)
    ]
    repo.keep([*later, later[-1]])  # a key twice in one batch: the first of them stays
    assert repo.find("anonymous", "k-007") == first  # answered before: kept
    assert repo.find("anonymous", f"k-{count - 1:03}") == ("later", 200, b"later", "x/y")
    assert len(list(repo.recorded())) == count
