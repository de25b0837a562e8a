"""`make run`'s card tour as a new user takes it: `localpay up` (a real process, a small
demo city) prints a demo card and the `localpay terminal send` command; that command, run
as printed, buys over TCP from the card host inside the server, and the same tool sends a
duplicate (one debit), a balance enquiry, a reversal (the money back) and a wrong PIN."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localpay.testing.servers import free_port

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "localpay.entrypoints.cli"]


@dataclass
class Up:
    process: subprocess.Popen[str]
    printed: list[str]
    command: list[str]  # the printed `terminal send`, as arguments after `localpay`


def _read_until_command(process: subprocess.Popen[str]) -> tuple[list[str], list[str]]:
    assert process.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        printed.append(line.rstrip("\n"))
        if "localpay terminal send" in line:
            words = shlex.split(line)
            return printed, words[words.index("localpay") + 1 :]
    raise AssertionError(f"`up` printed no terminal command:\n{chr(10).join(printed)}")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    folder = tmp_path_factory.mktemp("up-card")
    card_port = free_port()
    process = subprocess.Popen(
        [*CLI, "--db", f"sqlite:///{folder}/demo.db", "up", "--citizens", "40",
         "--merchants", "4", "--days", "2", "--port", str(free_port()),
         "--bank-port", str(free_port()), "--card-port", str(card_port),
         "--payout-bank-port", str(free_port())],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        printed, command = _read_until_command(process)
        _wait_for_port(process, card_port)
        yield Up(process, printed, command)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_for_port(process: subprocess.Popen[str], port: int) -> None:
    import socket  # noqa: PLC0415

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "`up` ended"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the card host did not listen")


def _send(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _json(args: list[str]) -> tuple[int, dict[str, Any]]:
    done = _send([*args, "--json"])
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_up_prints_a_demo_card_and_the_command_buys_with_it(up: Up) -> None:
    said = "\n".join(up.printed)
    card = _option(up.command, "--card")
    assert re.search(rf"a demo card \(card-only wallet wc-[0-9a-f]{{16}}\): {card}", said)
    assert card.startswith("941") and _option(up.command, "--pin") == "1234"
    done = _send(up.command)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.match(r"0210 00 approved · approval [0-9A-F]{6} · balance [\d,]+ won", done.stdout)


def test_a_duplicate_is_answered_alike_and_a_reversal_gives_the_money_back(up: Up) -> None:
    code, bought = _json([*up.command, "--amount", "3000"])
    assert (code, bought["code"]) == (0, "00")
    again = [*up.command, "--amount", "3000", "--stan", bought["stan"], "--rrn", bought["rrn"]]
    code, duplicate = _json(again)
    assert code == 0 and duplicate == bought  # the first answer: no second debit
    base = [a for a in up.command if a not in ("--amount", _option(up.command, "--amount"))]
    _, enquiry = _json([*base, "--balance"])
    assert enquiry["balance"] == bought["balance"]
    reverse = [*base, "--amount", "3000", "--mti", "0400", "--rrn", bought["rrn"]]
    code, reversed_ = _json(reverse)
    assert (code, reversed_["mti"], reversed_["code"]) == (0, "0410", "00")
    assert reversed_["balance"] == bought["balance"] + 3000


def test_a_wrong_pin_is_55_and_exit_1(up: Up) -> None:
    wrong = [a if a != "1234" else "9999" for a in up.command]
    done = _send(wrong)
    assert done.returncode == 1
    assert " 55 wrong PIN" in done.stdout
    assert _send(up.command).returncode == 0  # the right PIN again: the count starts over


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--card", "12345"], "a card number is 16 digits"),
        (["--terminal", "T1"], "a terminal id is 8 letters or digits"),
        (["--mti", "0400"], "a reversal names the purchase it reverses"),
        (["--pin", "12"], "a PIN is 4 to 6 digits"),
    ],
)
def test_bad_input_is_one_line_and_sends_nothing(
    args: list[str], says: str, tmp_path: Path
) -> None:
    base = {"--terminal": "GIM00000", "--card": "9410010000000000", "--amount": "5000"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for pair in base.items() for x in pair]
    done = _send(["terminal", "send", "--port", "1", *flat])
    assert done.returncode == 1 and says in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_no_host_listening_is_one_line() -> None:
    port = free_port()
    done = _send(["terminal", "send", "--port", str(port), "--terminal", "GIM00000",
                  "--card", "9410010000000000", "--amount", "5000"])  # fmt: skip
    assert done.returncode == 1 and f"no answer from the card host at 127.0.0.1:{port}" in (
        done.stderr
    )
