"""Run the simulated bank: its book, its notifier and its HTTP app on a port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from localpay.adapters.bank.mockbank import MockBankClient
from localpay.sim.bank.app import create_bank_app
from localpay.sim.bank.ledger import BankBook
from localpay.sim.bank.notifier import Notifier


class BankServer:
    """The bank on 127.0.0.1:`port` (`host` to change), in a thread of this process.
    With `mock_bank` (its URL), each deposit's won also arrive in the city's trust
    account there."""

    def __init__(
        self,
        db: str | Path,
        notify: str,
        secret: bytes,
        port: int,
        host: str = "127.0.0.1",
        mock_bank: str = "",
    ):
        self.book = BankBook(db)
        self.notifier = Notifier(self.book, notify, secret)
        self.trust = MockBankClient(mock_bank) if mock_bank else None
        app = create_bank_app(self.book, self.notifier, secret, self.trust)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.run, name="bank-sim", daemon=True)

    def start(self) -> BankServer:
        self.notifier.start()
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the simulated bank did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.notifier.stop()
        self.book.close()
        if self.trust is not None:
            self.trust.close()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI)."""
        self.notifier.start()
        try:
            self.server.run()
        finally:
            self.notifier.stop()
            self.book.close()


@contextmanager
def running_bank(
    db: str | Path, notify: str, secret: bytes, port: int, mock_bank: str = ""
) -> Iterator[BankServer]:
    bank = BankServer(db, notify, secret, port, mock_bank=mock_bank).start()
    try:
        yield bank
    finally:
        bank.stop()
