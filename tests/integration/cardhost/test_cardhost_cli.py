"""The card host from the command line: inside `localpay serve --card-port` and alone as
`localpay cardhost`, real processes on a seeded SQLite store, reached over TCP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localpay.entrypoints.cardhost import terminal
from localpay.entrypoints.cardhost.terminal import BlockingTerminal
from localpay.testing.servers import free_port, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("cardhost-cli")
    url = f"sqlite:///{folder}/cards.db"
    seed(url, folder / "keys")
    return url, folder / "keys"


def _localpay(store: tuple[str, Path], *args: str) -> list[str]:
    url, keys = store
    return [
        sys.executable,
        "-m",
        "localpay.entrypoints.cli",
        "--db",
        url,
        "--keys",
        str(keys),
        *args,
    ]


def _reached(process: subprocess.Popen[str], port: int) -> BlockingTerminal:
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the card host did not start"
        try:
            return BlockingTerminal("127.0.0.1", port)
        except OSError:
            time.sleep(0.2)


def _speaks(link: BlockingTerminal) -> None:
    echo = link.ask(terminal.echo(1))
    assert echo is not None and (echo["t"], echo["39"]) == ("0810", "00")
    # An unregistered terminal: the card service itself answers (58), so it is wired in.
    buy = terminal.purchase(2, pan="9410001234567897", amount=1_000, terminal="TNOWHERE",
                            acceptor="M" * 15)  # fmt: skip
    answer = link.ask(buy)
    assert answer is not None and (answer["t"], answer["39"]) == ("0110", "58")


def _stopped(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def test_serve_runs_the_card_host_on_its_card_port(store: tuple[str, Path]) -> None:
    port, card_port = free_port(), free_port()
    process = subprocess.Popen(
        _localpay(store, "serve", "--port", str(port), "--card-port", str(card_port)),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _speaks(_reached(process, card_port))
    finally:
        _stopped(process)


def test_cardhost_runs_alone_and_stops_on_sigterm(store: tuple[str, Path]) -> None:
    port = free_port()
    process = subprocess.Popen(
        _localpay(store, "cardhost", "--port", str(port)),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _speaks(_reached(process, port))
    finally:
        _stopped(process)
    assert process.returncode == 0


def test_a_card_port_in_use_is_one_line_and_a_failure(store: tuple[str, Path]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        done = subprocess.run(
            _localpay(store, "serve", "--port", str(free_port()), "--card-port", str(busy)),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"the card host cannot listen on 127.0.0.1:{busy}" in done.stderr
    assert "Traceback" not in done.stderr
