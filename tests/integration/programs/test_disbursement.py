"""Disbursement batches on both stores: eligibility evidence sealed then deleted, the row
report of a file with every kind of bad row, maker-checker approval, execution that pays
each valid row once however often it runs, and a run killed with SIGKILL that resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.adapters.sql.runner import SqlStore
from localpay.bootstrap import open_store
from localpay.services.approvals.service import ProposalError
from localpay.services.cities.ledgers import Ledgers
from localpay.services.identity.service import Principal
from localpay.services.programs import rows as v
from localpay.services.programs.batches import NotApproved
from localpay.services.programs.runner import BatchRunner
from localpay.testing.programs import PASSWORD, Services, officials, set_up_city, wallet_id

CITY = "policytown"
BUDGET = 3_000_000  # below 40 wallets x the rewards cap of 100,000: a file can run it out
#: Enough wallets that 6,000 rows of 1 won stay under the ledger's 256 lots a wallet.
WALLETS = 40
TODAY = date(2026, 12, 1)


@dataclass
class Town:
    url: str
    keys: Path
    store: SqlStore
    ledgers: Ledgers
    services: Services
    maker: Principal
    checker: Principal


@pytest.fixture
def town(store_url: str, tmp_path: Path) -> Iterator[Town]:
    store = open_store(store_url)
    keys = tmp_path / "keys"
    ledgers = Ledgers(store, KeyStore(keys, master_key_from_environment()), now)
    set_up_city(ledgers, CITY, wallets=WALLETS, budget=BUDGET)
    services = Services(store, ledgers, master_key_from_environment(), now)
    maker, checker = officials(services.identity, CITY)
    yield Town(store_url, keys, store, ledgers, services, maker, checker)
    ledgers.close()
    store.close()


def now() -> int:
    return int(time.time() * 1000)


def csv(*rows: str) -> list[str]:
    return ["citizen,amount,program,reference\n", *(r + "\n" for r in rows)]


def evidence_file(*rows: str) -> list[str]:
    return ["citizen,birth,residence,employment\n", *(r + "\n" for r in rows)]


def test_evidence_is_sealed_until_the_decision_then_only_its_hash_remains(town: Town) -> None:
    data = town.services.eligibility
    loaded = data.load(
        CITY,
        "youth",
        evidence_file(
            f"{wallet_id(0)},2002-12-01,2010-01-01/,student",
            f"{wallet_id(1)},2002-12-02,2010-01-01/,student",
        ),
    )
    assert loaded == 2
    stored = town.store.sql("SELECT sealed FROM eligibility_evidence WHERE city = ?", (CITY,))
    assert len(stored) == 2
    for (blob,) in stored:
        assert b"2002-12-0" not in bytes(blob) and b"student" not in bytes(blob)
    decided = data.decide(CITY, "youth", TODAY)
    assert (decided.eligible, decided.ineligible) == (1, 1)
    assert town.store.sql("SELECT COUNT(*) FROM eligibility_evidence", ()) == [(0,)]
    decisions = town.services.repo.decisions(CITY, "youth")
    assert decisions[wallet_id(0)].eligible and not decisions[wallet_id(1)].eligible
    assert decisions[wallet_id(1)].reasons == ("too_young",)
    kept = town.store.sql("SELECT * FROM eligibility_decisions WHERE city = ?", (CITY,))
    assert "2002" not in repr(kept)  # the decision keeps no birth date
    assert all(len(d.evidence) == 64 and len(d.salt) == 32 for d in decisions.values())


def test_a_bad_evidence_file_keeps_nothing(town: Town) -> None:
    with pytest.raises(ValueError, match="line 3"):
        town.services.eligibility.load(
            CITY,
            "youth",
            evidence_file(
                f"{wallet_id(0)},2002-12-01,2010-01-01/,", f"{wallet_id(1)},2002-13-01,,"
            ),
        )
    assert town.store.sql("SELECT COUNT(*) FROM eligibility_evidence", ()) == [(0,)]


def test_every_kind_of_bad_row_is_reported_and_only_valid_rows_form_the_batch(
    town: Town,
) -> None:
    data = town.services.eligibility
    data.load(
        CITY,
        "youth",
        evidence_file(
            f"{wallet_id(0)},2002-12-01,2010-01-01/,",
            f"{wallet_id(1)},1990-01-01,2010-01-01/,",
            f"{wallet_id(2)},2002-06-01,2010-01-01/,",
            f"{wallet_id(3)},2002-06-01,2010-01-01/,",
        ),
    )
    data.decide(CITY, "youth", date.fromisoformat(time.strftime("%Y-%m-%d")))
    report = town.services.batches.upload(
        town.maker,
        "youth.csv",
        csv(
            f"{wallet_id(0)},250000,youth,r-1",  # ok
            f"{wallet_id(0)},250000,youth,r-1",  # duplicate
            "w-9999999,1000,youth,r-2",  # unknown citizen
            f"{wallet_id(1)},1000,youth,r-3",  # ineligible (too old)
            f"{wallet_id(4)},1000,youth,r-4",  # never judged
            f"{wallet_id(2)},250001,youth,r-5",  # over the quarter's cap
            f"{wallet_id(3)},12.5,youth,r-6",  # malformed amount
            f"{wallet_id(3)},1000,rewards,r-7",  # another program
            f"{wallet_id(3)},1000",  # malformed
            f"{wallet_id(2)},200000,youth,r-8",  # ok
        ),
        "upload-1",
    )
    assert report.verdicts == {
        v.OK: 2,
        v.DUPLICATE: 1,
        v.UNKNOWN_CITIZEN: 1,
        v.INELIGIBLE: 1,
        v.NOT_JUDGED: 1,
        v.OVER_CAP: 1,
        v.MALFORMED: 2,
        v.OTHER_PROGRAM: 1,
    }
    assert (report.batch.rows, report.batch.total, report.batch.lines) == (2, 450_000, 10)
    bad = town.services.batches.lines(CITY, report.batch.id, bad_only=True)
    assert [x.line for x in bad] == [2, 3, 4, 5, 6, 7, 8, 9]
    again = town.services.batches.upload(town.maker, "youth.csv", csv(), "upload-1")
    assert again.batch.id == report.batch.id  # the same key: the same batch


def test_budget_short_and_already_paid_in_an_earlier_batch(town: Town) -> None:
    batches = town.services.batches
    first = batches.upload(town.maker, "a.csv", csv(f"{wallet_id(0)},100000,rewards,vol-1"), "a")
    assert first.verdicts == {v.OK: 1}
    second = batches.upload(
        town.maker,
        "b.csv",
        csv(
            f"{wallet_id(0)},100000,rewards,vol-1",  # in batch a already
            *(f"{wallet_id(n)},100000,rewards,vol-2" for n in range(1, 8)),
        ),
        "b",
    )
    assert second.verdicts == {v.ALREADY_PAID: 1, v.OK: 7}


def test_the_running_total_meets_the_budget_and_an_unknown_program(town: Town) -> None:
    batches = town.services.batches
    rows = [f"{wallet_id(n)},100000,rewards,month-{n}" for n in range(WALLETS)]
    report = batches.upload(town.maker, "all.csv", csv(*rows), "all")
    assert report.verdicts == {v.OK: 30, v.BUDGET_SHORT: 10}
    assert report.batch.total == BUDGET  # exactly exhausted, never over
    unknown = batches.upload(town.maker, "x.csv", csv(f"{wallet_id(0)},1,nosuch,r"), "x")
    assert unknown.verdicts == {v.UNKNOWN_PROGRAM: 1} and unknown.progress.status == "empty"


def approved(town: Town, batch: str) -> None:
    progress = town.services.batches.submit(town.maker, batch)
    assert progress.status == "submitted"
    with pytest.raises(ProposalError, match="different official"):
        town.services.proposals.approve(town.maker, progress.proposal)
    with pytest.raises(NotApproved):
        town.services.batches.run(CITY, batch)
    view = town.services.proposals.approve(town.checker, progress.proposal)
    assert view.receipt is not None and view.receipt["code"] == "ok", view.receipt


def balance(town: Town, wallet: str, program: str) -> int:
    lots = town.ledgers.sequencer(CITY).state.wallets[wallet].lots
    return sum(lot.amount for lot in lots if lot.program == program)


def test_approved_batch_pays_each_valid_row_once_however_often_it_runs(town: Town) -> None:
    batches = town.services.batches
    report = batches.upload(
        town.maker,
        "r.csv",
        csv(*(f"{wallet_id(n)},{10_000 * (n + 1)},rewards,vol-{n}" for n in range(8))),
        "r",
    )
    approved(town, report.batch.id)
    done = batches.run(CITY, report.batch.id)
    assert (done.status, done.paid, done.refused, done.to_go) == ("done", 8, 0, 0)
    again = batches.run(CITY, report.batch.id)
    assert again.paid == 8
    # Even with the cursor wound back (a crash before the record), nobody is paid twice.
    town.store.sql(
        "UPDATE batches SET next_row = 0, paid_rows = 0 WHERE id = ?", (report.batch.id,)
    )
    assert batches.run(CITY, report.batch.id).paid == 8
    for n in range(8):
        assert balance(town, wallet_id(n), "rewards") == 10_000 * (n + 1)
    state = town.ledgers.sequencer(CITY).state
    assert state.programs["rewards"].budget == BUDGET - sum(10_000 * (n + 1) for n in range(8))
    assert state.batches[report.batch.id].paid_rows == 8


def test_youth_rows_carry_the_decisions_evidence_hash_on_the_chain(town: Town) -> None:
    data = town.services.eligibility
    data.load(CITY, "youth", evidence_file(f"{wallet_id(0)},2000-06-01,2010-01-01/,"))
    data.decide(CITY, "youth", date(2024, 7, 1))
    digest = town.services.repo.decisions(CITY, "youth")[wallet_id(0)].evidence
    report = town.services.batches.upload(
        town.maker, "y.csv", csv(f"{wallet_id(0)},250000,youth,q1"), "y"
    )
    assert report.verdicts == {v.OK: 1}
    approved(town, report.batch.id)
    assert town.services.batches.run(CITY, report.batch.id).paid == 1
    rows = town.store.sql(
        "SELECT envelope FROM txs WHERE city = ? AND kind = 'batch_credit'", (CITY,)
    )
    assert len(rows) == 1 and digest.encode() in bytes(rows[0][0])


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_and_totals_are_exact(town: Town, tmp_path: Path) -> None:
    rows = 6000
    extra = [f"{wallet_id(n % WALLETS)},1,rewards,kill-{n}" for n in range(rows)]
    report = town.services.batches.upload(town.maker, "k.csv", csv(*extra), "k")
    assert report.batch.rows == rows
    approved(town, report.batch.id)
    town.ledgers.close()
    env = {**os.environ, "LOCALPAY_DB": town.url, "LOCALPAY_KEYS": str(town.keys)}
    command = [sys.executable, "-m", "localpay.entrypoints.cli", "batch", "run", report.batch.id,
               "--city", CITY, "--chunk", "500"]  # fmt: skip
    job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        (paid,) = town.store.sql("SELECT paid_rows FROM batches WHERE id = ?", (report.batch.id,))[
            0
        ]
        if int(paid) >= 1000 or job.poll() is not None:
            break
        time.sleep(0.05)
    assert job.poll() is None, job.communicate()
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    (paid,) = town.store.sql("SELECT paid_rows FROM batches WHERE id = ?", (report.batch.id,))[0]
    assert 0 < int(paid) < rows  # killed in the middle
    finished = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert "done" in finished.stdout
    (paid, refused) = town.store.sql(
        "SELECT paid_rows, refused_rows FROM batches WHERE id = ?", (report.batch.id,)
    )[0]
    assert (int(paid), int(refused)) == (rows, 0)
    keys = KeyStore(town.keys, master_key_from_environment())
    town.ledgers = Ledgers(town.store, keys, now)  # the fixture closes this one
    state = town.ledgers.sequencer(CITY).state
    assert state.batches[report.batch.id].paid_rows == rows
    assert sum(balance(town, wallet_id(n), "rewards") for n in range(WALLETS)) == rows
    assert state.programs["rewards"].budget == BUDGET - rows


def cli(town: Town, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOCALPAY_DB": town.url, "LOCALPAY_KEYS": str(town.keys)}
    return subprocess.run(
        [sys.executable, "-m", "localpay.entrypoints.cli", *args],
        check=False,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_cli_loads_data_uploads_shows_and_submits(town: Town, tmp_path: Path) -> None:
    town.ledgers.close()  # the CLI runs the city's sequencer itself
    data = tmp_path / "youth-data.csv"
    data.write_text("".join(evidence_file(f"{wallet_id(0)},2002-12-01,2010-01-01/,")))
    loaded = cli(town, "eligibility", "load", str(data), "--city", CITY, "--program", "youth",
                 "--on", "2026-12-01")  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "1 eligible" in loaded.stdout
    assert town.store.sql("SELECT COUNT(*) FROM eligibility_evidence", ()) == [(0,)]
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(csv("w-9999999,1000,rewards,a")))
    refused = cli(town, "batch", "upload", str(bad), "--city", CITY, "--username", "maker",
                  "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert refused.returncode == 1
    assert "no line is valid" in refused.stderr and "unknown_citizen: 1" in refused.stdout
    good = tmp_path / "good.csv"
    good.write_text("".join(csv(f"{wallet_id(1)},5000,rewards,cli-1", "x,1")))
    made = cli(town, "batch", "upload", str(good), "--city", CITY, "--username", "maker",
               "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    batch = made.stdout.split()[1]
    again = cli(town, "batch", "upload", str(good), "--city", CITY, "--username", "maker",
                "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert again.stdout.split()[1] == batch  # the same file: the same batch
    shown = cli(town, "batch", "show", batch, "--city", CITY, "--bad")
    assert shown.returncode == 0 and "line 2: malformed" in shown.stdout
    early = cli(town, "batch", "run", batch, "--city", CITY)
    assert early.returncode == 1 and "not approved" in early.stderr
    submitted = cli(town, "batch", "submit", batch, "--city", CITY, "--username", "maker",
                    "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    assert "submitted" in submitted.stdout and "localpay official approve pr-" in submitted.stdout
    wrong = cli(town, "batch", "upload", str(good), "--city", CITY, "--username", "maker",
                "--password-stdin", stdin="wrong-password\n")  # fmt: skip
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1


def test_the_runner_pays_approved_batches_and_resumes_a_half_paid_one(town: Town) -> None:
    batches = town.services.batches
    first = batches.upload(
        town.maker, "1.csv", csv(*(f"{wallet_id(n)},1000,rewards,run-{n}" for n in range(10))), "1"
    )
    draft = batches.upload(town.maker, "2.csv", csv(f"{wallet_id(0)},1000,rewards,d"), "2")
    approved(town, first.batch.id)
    batches.run(CITY, first.batch.id, chunk=4, stop=None)
    # As after a crash: the cursor recorded half-way, the ledger already paid it all.
    town.store.sql("UPDATE batches SET next_row = 4, paid_rows = 4 WHERE id = ?", (first.batch.id,))
    assert batches.resumable(CITY) == [first.batch.id]  # not the draft: nobody approved it
    BatchRunner(batches, lambda: [CITY]).run_once()
    done = batches.progress(CITY, first.batch.id)
    assert (done.status, done.paid, done.refused) == ("done", 10, 0)
    assert batches.progress(CITY, draft.batch.id).status == "draft"
    assert sum(balance(town, wallet_id(n), "rewards") for n in range(10)) == 10_000
