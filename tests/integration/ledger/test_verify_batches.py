"""verify reads the chain in large batches by seq range and checks command signatures
ahead in worker processes: the same blocks get the same rows as one read per block, and a
forged signature is still named at its block and transaction, on both stores."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from localpay.domain.commands import Envelope, Signature
from localpay.ledger.ports import Store
from localpay.ledger.readahead import prepared_blocks
from localpay.ledger.signatures import EnvelopeChecker
from localpay.services.cities.verify import verify_city
from localpay.testing.builders import DemoChain

CITY = "gimpo"


Chain = DemoChain


@pytest.fixture
def chain(demo_chain: DemoChain) -> DemoChain:
    return demo_chain


@pytest.fixture(scope="module")
def processes() -> Iterator[EnvelopeChecker]:
    checker = EnvelopeChecker(2)
    yield checker
    checker.close()


def _per_block(store: Store) -> list[tuple[int, list[int]]]:
    return [
        (b.height, [t.seq for t in store.block_txs(CITY, b.height)]) for b in store.blocks(CITY)
    ]


@pytest.mark.parametrize("batch_txs", [1, 7, 4096])
def test_batched_reads_give_each_block_its_rows_and_their_signature_checks(
    chain: Chain, processes: EnvelopeChecker, batch_txs: int
) -> None:
    prepared = list(prepared_blocks(chain.store, CITY, processes, batch_txs))
    assert [(p.block.height, [t.seq for t in p.txs]) for p in prepared] == _per_block(chain.store)
    assert all(s is not None for p in prepared for s in p.signers)


def _forge_signature(chain: Chain) -> None:
    """The payment's signature replaced by another valid-looking one (a flipped byte)."""
    raw = chain.store.sql(
        "SELECT envelope FROM txs WHERE city = ? AND seq = ?", (CITY, chain.pay_seq)
    )[0][0]
    envelope = msgspec.json.decode(bytes(raw), type=Envelope)
    sig = envelope.sigs[0]
    flipped = ("1" if sig.sig[0] == "0" else "0") + sig.sig[1:]
    forged = Envelope(body=envelope.body, sigs=[Signature(key=sig.key, sig=flipped)])
    chain.store.sql(
        "UPDATE txs SET envelope = ? WHERE city = ? AND seq = ?",
        (msgspec.json.encode(forged), CITY, chain.pay_seq),
    )


def test_a_forged_command_signature_is_named_at_its_block_and_tx_by_both_checkers(
    chain: Chain, processes: EnvelopeChecker
) -> None:
    _forge_signature(chain)
    for checker in (processes, None):  # worker processes; this thread (a short chain)
        report = verify_city(chain.store, CITY, checker=checker)
        assert not report.ok
        problem = report.problems[0]
        assert problem.startswith(f"block {chain.pay_height}, tx {chain.pay_seq} "), problem
        assert "a command signature does not verify" in problem


def test_a_row_moved_to_another_block_is_named_at_its_block_in_small_batches(
    chain: Chain, processes: EnvelopeChecker
) -> None:
    chain.store.sql(
        "UPDATE txs SET height = ? WHERE city = ? AND seq = ?",
        (chain.pay_height + 1, CITY, chain.pay_seq),
    )
    report = verify_city(chain.store, CITY, checker=processes)
    assert not report.ok and report.problems[0].startswith(f"block {chain.pay_height}:")


def test_a_script_without_a_main_guard_still_verifies_on_its_own_thread(
    chain: Chain, store_url: str, tmp_path: Path
) -> None:
    """Spawned workers re-run an unguarded main script and die: verify checks the
    signatures itself then, and still names a forged one."""
    _forge_signature(chain)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from localpay.bootstrap import open_store\n"
        "from localpay.ledger.signatures import EnvelopeChecker\n"
        "from localpay.services.cities.verify import verify_city\n"
        f"report = verify_city(open_store({store_url!r}), {CITY!r}, checker=EnvelopeChecker(2))\n"
        "print(report.problems[0])\n"
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    expected = f"block {chain.pay_height}, tx {chain.pay_seq} "
    assert run.stdout.splitlines()[-1].startswith(expected), run.stdout


def test_a_row_before_the_logs_start_is_found(chain: Chain) -> None:
    """A block's rows are read by seq range: one of its height below seq 0 is in none of
    those reads (a read by height would have counted it), so verify looks for it."""
    row = chain.store.sql(
        "SELECT id, kind, envelope, result FROM txs WHERE city = ? AND seq = ?",
        (CITY, chain.pay_seq),
    )[0]
    chain.store.sql(
        "INSERT INTO txs (city, seq, height, id, kind, envelope, result)"
        " VALUES (?, -1, ?, ?, ?, ?, ?)",
        (CITY, chain.pay_height, "f" * 32, row[1], bytes(row[2]), bytes(row[3])),
    )
    report = verify_city(chain.store, CITY)
    assert not report.ok
    assert any(p.startswith("tx -1 ") for p in report.problems), report.problems
