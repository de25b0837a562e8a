"""Tampering with stored rows is detected by verify, which names the block and transaction."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from localpay.services.cities.verify import verify_city
from localpay.testing.builders import DemoChain

CITY = "gimpo"


Chain = DemoChain


@pytest.fixture
def chain(demo_chain: DemoChain) -> DemoChain:
    return demo_chain


def _tx(chain: Chain, column: str) -> bytes:
    rows = chain.store.sql(
        f"SELECT {column} FROM txs WHERE city = ? AND seq = ?", (CITY, chain.pay_seq)
    )
    return bytes(rows[0][0])


def _failed(chain: Chain) -> str:
    report = verify_city(chain.store, CITY)
    assert not report.ok, "tampering went unnoticed"
    return " | ".join(report.problems)


def test_an_edited_amount_in_a_command_is_found_with_its_block_and_tx(chain: Chain) -> None:
    envelope = _tx(chain, "envelope").replace(b'"amount":', b'"amount":9', 1)
    chain.store.sql(
        "UPDATE txs SET envelope = ? WHERE city = ? AND seq = ?", (envelope, CITY, chain.pay_seq)
    )
    problem = _failed(chain)
    assert f"block {chain.pay_height}" in problem and f"tx {chain.pay_seq}" in problem


def test_an_edited_result_is_found(chain: Chain) -> None:
    result = _tx(chain, "result").replace(b'"code":"ok"', b'"code":"insufficient_funds"')
    chain.store.sql(
        "UPDATE txs SET result = ? WHERE city = ? AND seq = ?", (result, CITY, chain.pay_seq)
    )
    problem = _failed(chain)
    assert f"block {chain.pay_height}" in problem and f"tx {chain.pay_seq}" in problem


def test_a_deleted_transaction_is_found(chain: Chain) -> None:
    chain.store.sql("DELETE FROM txs WHERE city = ? AND seq = ?", (CITY, chain.pay_seq))
    assert f"block {chain.pay_height}" in _failed(chain)


def test_two_swapped_transactions_are_found(chain: Chain) -> None:
    rows = chain.store.sql(
        "SELECT seq FROM txs WHERE city = ? AND height = ? ORDER BY seq", (CITY, chain.pay_height)
    )
    if len(rows) < 2:
        pytest.skip("the chosen block holds one transaction")
    first, second = rows[0][0], rows[1][0]
    chain.store.sql_batch(
        [
            ("UPDATE txs SET seq = -1 WHERE city = ? AND seq = ?", (CITY, first)),
            ("UPDATE txs SET seq = ? WHERE city = ? AND seq = ?", (first, CITY, second)),
            ("UPDATE txs SET seq = ? WHERE city = ? AND seq = -1", (second, CITY)),
        ]
    )
    assert f"block {chain.pay_height}" in _failed(chain)


def test_a_transaction_moved_to_another_block_is_found(chain: Chain) -> None:
    chain.store.sql(
        "UPDATE txs SET height = ? WHERE city = ? AND seq = ?",
        (chain.pay_height + 1, CITY, chain.pay_seq),
    )
    assert f"block {chain.pay_height}" in _failed(chain)


def test_a_deleted_block_is_found(chain: Chain) -> None:
    chain.store.sql("DELETE FROM blocks WHERE city = ? AND height = ?", (CITY, chain.pay_height))
    assert f"expected block {chain.pay_height}" in _failed(chain)


def _edit_block(chain: Chain, column: str, change: Callable[[bytes], bytes]) -> None:
    rows = chain.store.sql(
        f"SELECT {column} FROM blocks WHERE city = ? AND height = ?", (CITY, chain.pay_height)
    )
    chain.store.sql(
        f"UPDATE blocks SET {column} = ? WHERE city = ? AND height = ?",
        (change(bytes(rows[0][0])), CITY, chain.pay_height),
    )


def test_an_edited_block_time_is_found(chain: Chain) -> None:
    _edit_block(chain, "header", lambda h: h.replace(b'"time_ms":1', b'"time_ms":2', 1))
    assert f"block {chain.pay_height}" in _failed(chain)


def test_a_replaced_block_signature_is_found(chain: Chain) -> None:
    _edit_block(chain, "signature", lambda s: bytes(64))
    problem = _failed(chain)
    assert f"block {chain.pay_height}" in problem and "signature" in problem


def test_a_damaged_frontier_is_found(chain: Chain) -> None:
    """The frontier is what a restarted sequencer resumes the log from."""
    block = next(iter(chain.store.blocks(CITY, chain.pay_height, chain.pay_height + 1)))
    assert block.frontier
    _edit_block(chain, "frontier", lambda f: f.replace(f[3:4], b"0" if f[3:4] != b"0" else b"1"))
    assert f"block {chain.pay_height}: its stored frontier" in _failed(chain)


def test_an_edited_balance_in_the_state_is_found(chain: Chain) -> None:
    key, value = next((k, v) for k, v in chain.store.state(CITY) if k.startswith("m:"))
    edited = value.replace(b'"balance":', b'"balance":7', 1)
    chain.store.sql("UPDATE state SET value = ? WHERE city = ? AND key = ?", (edited, CITY, key))
    assert f"state {key}" in _failed(chain)


def test_a_deleted_state_row_is_found(chain: Chain) -> None:
    key = next(k for k, _ in chain.store.state(CITY) if k.startswith("w:"))
    chain.store.sql("DELETE FROM state WHERE city = ? AND key = ?", (CITY, key))
    assert f"state {key}" in _failed(chain)


@pytest.mark.parametrize("past_the_head", [False, True])
def test_an_inserted_transaction_is_found(chain: Chain, past_the_head: bool) -> None:
    head = chain.store.sql("SELECT max(seq), max(height) FROM txs WHERE city = ?", (CITY,))[0]
    envelope, result = _tx(chain, "envelope"), _tx(chain, "result")
    chain.store.sql(
        "INSERT INTO txs (city, seq, height, id, kind, envelope, result)"
        " VALUES (?, ?, ?, ?, 'pay', ?, ?)",
        (CITY, head[0] + 1, head[1] + past_the_head, "f" * 32, envelope, result),
    )
    assert f"tx {head[0] + 1}" in _failed(chain)


def test_the_cli_exits_non_zero_on_tampering_and_zero_when_intact(chain: Chain) -> None:
    command = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", chain.url, "verify"]
    intact = subprocess.run(command, capture_output=True, text=True, check=False)
    assert intact.returncode == 0, intact.stderr
    chain.store.sql("DELETE FROM txs WHERE city = ? AND seq = ?", (CITY, chain.pay_seq))
    tampered = subprocess.run(command, capture_output=True, text=True, check=False)
    assert tampered.returncode == 1
    assert f"block {chain.pay_height}" in tampered.stderr
