"""`localpay jobs run` on both stores: a job by hand, one line of what it did; a second
run does nothing; bad input is one line on stderr and a non-zero exit, changing nothing."""

from __future__ import annotations

import subprocess
import sys

from localpay.adapters.sql.notices import SqlJobRuns
from localpay.domain.calendar import iso_date
from localpay.testing.town import CITY, Town

CLI = [sys.executable, "-m", "localpay.entrypoints.cli"]


def _cli(town: Town, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [*CLI, "--db", town.url, "--keys", str(town.keys.root), "jobs", "run", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def test_an_operator_runs_the_expiry_by_hand_once(town: Town) -> None:
    town.program("welfare", 100_000, valid_days=1)  # credited on 11-20, spendable to 11-21
    town.wallet("alice")
    town.credit("welfare", "alice", 30_000)
    busy = _cli(town, "expiry", "--city", CITY)  # the town's sequencer holds the lease
    assert busy.returncode == 1 and len(busy.stderr.strip().splitlines()) == 1, busy.stderr
    assert "Traceback" not in busy.stderr
    town.ledgers.close()

    done = _cli(town, "expiry", "--city", CITY)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith(f"expiry {CITY} ") and line.endswith("done=1 repeated=0 refused=0")
    assert town.wallet_state("alice").lots == []
    assert town.program_state("welfare").budget == 100_000
    day = line.split()[2].rstrip(":")
    assert SqlJobRuns(town.store).done(CITY, "expiry", day)
    size = town.log_size()
    again = _cli(town, "expiry", "--city", CITY)
    assert again.returncode == 0 and again.stdout.strip().endswith("done=0 repeated=0 refused=0")
    assert town.log_size() == size
    assert day == iso_date(_now_ms())


def _now_ms() -> int:
    import time  # noqa: PLC0415

    return int(time.time() * 1000)


def test_bad_input_is_one_line_and_changes_nothing(town: Town) -> None:
    town.ledgers.close()
    size = town.log_size()
    for args, code, words in (
        (("payday", "--city", CITY), 2, "no job 'payday'"),
        (("expiry", "--city", CITY, "--at", "2999-01-01T00:00"), 2, "in the future"),
        (("expiry", "--city", CITY, "--at", "midnight"), 2, "ISO 8601"),
        (("expiry", "--city", "nowhere"), 1, "no city 'nowhere'"),
    ):
        done = _cli(town, *args)
        assert done.returncode == code, (args, done.stderr)
        (line,) = done.stderr.strip().splitlines()
        assert words in line and "Traceback" not in done.stderr
    assert town.log_size() == size


def test_the_server_runs_the_jobs_from_its_start(town: Town) -> None:
    """Container(jobs=True), as `localpay serve` makes it: its scheduler's first tick
    catches up the day's expiry; closing the container stops it."""
    import time  # noqa: PLC0415

    from localpay.bootstrap import Container  # noqa: PLC0415

    town.program("welfare", 100_000, valid_days=1)
    town.wallet("alice")
    town.credit("welfare", "alice", 30_000)
    town.ledgers.close()
    container = Container(town.url, str(town.keys.root), jobs=True)
    try:
        container.start()
        assert container.scheduler.running
        deadline = time.monotonic() + 60
        runs = SqlJobRuns(town.store)
        while not runs.done(CITY, "expiry", iso_date(_now_ms())):  # recorded after the run
            assert time.monotonic() < deadline, "the server's scheduler did not run the expiry"
            time.sleep(0.1)
        assert town.wallet_state("alice").lots == []
    finally:
        container.close()
    assert not container.scheduler.running
