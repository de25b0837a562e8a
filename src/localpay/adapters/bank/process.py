"""mock-bank (PyPI, MIT) as its own process: the trust account's ISO 20022 bank for the
demo and the tests. Started as `python -m mockbank` of this interpreter, on loopback,
in Korean bank time (Asia/Seoul) with the city's cut-off; ready once /_mock/health
answers; stopped with SIGTERM, then SIGKILL if it lingers.

Port 0 asks the system for a free port: mock-bank prints the address it listens on
("listening on http://127.0.0.1:NNNN/") on stderr, which goes to its log file, and we
read the port from there, so two test workers never race for one port.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from localpay.domain.errors import Unavailable

HOST: Final = "127.0.0.1"
TIMEZONE: Final = "Asia/Seoul"
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
_LISTENING = re.compile(rb"listening on http://[^:/\s]+:(\d+)/")


class MockBankDidNotStart(Unavailable):
    """mock-bank exited or did not answer its health check in time; the log says why."""

    code = "mock_bank_did_not_start"


@dataclass
class MockBankProcess:
    """A running mock-bank: its URL, its log, the child process."""

    url: str
    port: int
    log: Path
    child: subprocess.Popen[bytes]

    def alive(self) -> bool:
        return self.child.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; idempotent."""
        if self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait(STOP_TIMEOUT_S)


def argv(db: Path, port: int, cutoff: str, clock: str = "") -> list[str]:
    """The command line: this interpreter's mockbank, loopback only (its control plane
    can rewrite every balance, so it is never bound to another interface)."""
    args = [sys.executable, "-m", "mockbank", "--host", HOST, "--port", str(port)]
    args += ["--db", str(db), "--timezone", TIMEZONE, "--cutoff", cutoff]
    return args + (["--clock", clock] if clock else [])


def cutoff_text(cutoff_minutes: int) -> str:
    """15 * 60 -> "15:00", as --cutoff takes it."""
    return f"{cutoff_minutes // 60:02d}:{cutoff_minutes % 60:02d}"


def start(
    folder: Path, *, port: int = 0, cutoff_minutes: int = 15 * 60, clock: str = ""
) -> MockBankProcess:
    """mock-bank with its SQLite file and log in `folder`; returns once it answers.
    `clock` ("YYYY-MM-DDTHH:MM", Korean time) pins where bank time starts."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "mock-bank.log"
    command = argv(folder / "mock-bank.db", port, cutoff_text(cutoff_minutes), clock)
    with log.open("wb") as out:  # a fresh log: an old "listening on" line would mislead
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    running = MockBankProcess("", port, log, child)
    try:
        running.port = _wait_for_port(running, port)
        running.url = f"http://{HOST}:{running.port}"
        _wait_for_health(running)
    except BaseException:
        running.stop()
        raise
    return running


def _deadline_passed(running: MockBankProcess, deadline: float, what: str) -> None:
    if not running.alive():
        raise MockBankDidNotStart(f"mock-bank exited ({what}): {_tail(running.log)}")
    if time.monotonic() > deadline:
        raise MockBankDidNotStart(f"mock-bank did not {what} in time: {_tail(running.log)}")


def _wait_for_port(running: MockBankProcess, port: int) -> int:
    if port:
        return port
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        found = _LISTENING.search(running.log.read_bytes())
        if found:
            return int(found.group(1))
        _deadline_passed(running, deadline, "say its port")
        time.sleep(0.02)


def _wait_for_health(running: MockBankProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{running.url}/_mock/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        _deadline_passed(running, deadline, "answer /_mock/health")
        time.sleep(0.05)


def _tail(log: Path, size: int = 2000) -> str:
    return log.read_bytes()[-size:].decode("utf-8", "replace") if log.exists() else ""
