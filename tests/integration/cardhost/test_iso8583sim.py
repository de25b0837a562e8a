"""iso8583sim (PyPI, AGPL: never a dependency, run as a separate tool through uvx) as an
independent client of the card host: its own encoder and framing (`--format ascii-hex
--header 2b`) against ours, a 0800 and a 0100 with `send`, and its load mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cardhost_double import Ledgerless, Running

from localpay.entrypoints.cardhost import terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("uvx") is None, reason="uvx (from uv) is not installed"),
]

SIM = ["uvx", "--from", "iso8583sim==1.6.0", "iso8583sim"]
WIRE = ["--format", "ascii-hex", "--header", "2b"]
PAN = "9410001234567897"


def _sim(*args: str) -> str:
    done = subprocess.run(
        [*SIM, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _built(tmp_path: Path, mti: str, fields: dict[str, str]) -> str:
    source, message = tmp_path / f"{mti}.json", tmp_path / f"{mti}.txt"
    source.write_text(json.dumps({k: v for k, v in fields.items() if k != "t"}))
    _sim("build", "--mti", mti, "--fields", str(source), "--output", str(message))
    return message.read_text().strip()


def _row(output: str, field: int) -> str:
    """A field's value in `send`'s table of the response."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if cells and cells[0] == str(field):
            return cells[2]
    raise AssertionError(f"field {field} not in the response:\n{output}")


def test_iso8583sim_sends_an_echo_and_a_purchase(start_host: object, tmp_path: Path) -> None:
    running: Running = start_host(Ledgerless(balances={PAN: 100_000}))  # type: ignore[operator]
    port = ["--port", str(running.port)]
    echo = _sim("send", _built(tmp_path, "0800", terminal.echo(1)), *port, *WIRE)
    assert "Response 0810" in echo
    assert (_row(echo, 39), _row(echo, 11), _row(echo, 70)) == ("00", "000001", "301")
    fields = terminal.purchase(2, pan=PAN, amount=1_000, terminal="T0000001", acceptor="M" * 15)
    bought = _sim("send", _built(tmp_path, "0100", fields), *port, *WIRE)
    assert "Response 0110" in bought
    assert (_row(bought, 39), _row(bought, 11), _row(bought, 41)) == ("00", "000002", "T0000001")
    assert _row(bought, 54) == "0002410C000000099000"
    assert [r.stan for r in running.authority.seen] == ["000002"]


def test_iso8583sim_load_mode_is_answered_every_time(start_host: object) -> None:
    """Its load mode sends its own sample 0100 (US dollars, no 7, 12, 13 or 37; the CLI
    cannot change them): the host answers each with 30, none times out or is dropped."""
    running: Running = start_host(Ledgerless())  # type: ignore[operator]
    report = _sim(
        "load", "--port", str(running.port), *WIRE,
        "-n", "300", "-c", "20", "--connections", "10",
    )  # fmt: skip
    assert "30: 300" in report, report
    assert running.authority.seen == []  # a format error never reaches the service
