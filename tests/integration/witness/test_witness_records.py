"""A witness's own records (adapters/sql/witness.py), on SQLite and PostgreSQL.

They are what stops a witness: the roots it cosigned (it never signs a second root for
a size) and its one standing alarm per city, which outlives restarts until cleared.
"""

from __future__ import annotations

import pytest

from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.witness import SqlWitnessRecords
from localpay.domain.witness import RaisedAlarm
from localpay.ledger.ports import StoreConflict
from localpay.services.witness.alarms import clear_alarm

CITY = "gimpo"
ROOT_A, ROOT_B = "aa" * 32, "bb" * 32


def test_cosigned_checkpoints_read_back_by_city_and_size(store: SqlStore) -> None:
    records = SqlWitnessRecords(store)
    assert records.signed_checkpoints(CITY) == {}
    assert records.newest_signed_size(CITY) is None
    records.record_signed(CITY, 3, ROOT_A, 1_000)
    records.record_signed(CITY, 12, ROOT_B, 2_000)
    records.record_signed("yangju", 40, ROOT_A, 3_000)
    assert records.signed_checkpoints(CITY) == {3: ROOT_A, 12: ROOT_B}
    assert records.signed_root(CITY, 12) == ROOT_B
    assert records.signed_root(CITY, 4) is None
    assert records.newest_signed_size(CITY) == 12


def test_a_second_root_for_a_cosigned_size_is_refused_and_the_first_kept(
    store: SqlStore,
) -> None:
    records = SqlWitnessRecords(store)
    records.record_signed(CITY, 3, ROOT_A, 1_000)
    with pytest.raises(StoreConflict):
        records.record_signed(CITY, 3, ROOT_B, 2_000)
    assert records.signed_checkpoints(CITY) == {3: ROOT_A}


def test_a_city_has_one_alarm_the_newest_until_an_operator_clears_it(store: SqlStore) -> None:
    records = SqlWitnessRecords(store)
    assert records.alarm(CITY) is None
    first = RaisedAlarm("gap", "expected block 4, got 6", 4, 1_000)
    second = RaisedAlarm("fork", "two roots for size 9", -1, 2_000)
    records.replace_alarm(CITY, first)
    records.replace_alarm(CITY, second)
    records.replace_alarm("yangju", first)
    assert records.alarm(CITY) == second
    assert clear_alarm(records, CITY) == second
    assert records.alarm(CITY) is None
    assert clear_alarm(records, CITY) is None
    assert records.alarm("yangju") == first  # another city's alarm stands
