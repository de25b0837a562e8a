"""Deposit notices to the platform's webhook: signed (HMAC-SHA256 over the exact body),
sent at least once, retried with a growing pause until the platform answers 2xx. The
platform dedups by the notice's id."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import httpx

from localpay.sim.bank.ledger import BankBook, Notice

#: Longest pause between two tries of one notice.
PAUSE_MAX_MS = 30_000


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def body_of(notice: Notice) -> bytes:
    fields = {
        "notice": notice.id,
        "account": notice.account,
        "amount": notice.amount,
        "deposit_ref": notice.deposit_ref,
        "paid_ms": notice.paid_ms,
    }
    return json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()


class Notifier:
    def __init__(self, book: BankBook, url: str, secret: bytes) -> None:
        self.book = book
        self.url = url
        self.secret = secret
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, name="bank-notifier", daemon=True)

    def start(self) -> Notifier:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
        self.thread.join(10)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stopped.is_set():
                for notice in self.book.due(int(time.time() * 1000)):
                    self._send(client, notice)
                self.wake.wait(0.5)
                self.wake.clear()

    def _send(self, client: httpx.Client, notice: Notice) -> None:
        body = body_of(notice)
        headers = {
            "Content-Type": "application/json",
            "X-Bank-Signature": sign(self.secret, body),
            "Idempotency-Key": notice.id,  # the platform's API asks every POST for one
        }
        try:
            answer = client.post(self.url, content=body, headers=headers)
            ok = 200 <= answer.status_code < 300
        except httpx.HTTPError:
            ok = False
        if ok:
            self.book.delivered(notice.id)
            self.sent += 1
            return
        pause = min(250 * 2**notice.attempts, PAUSE_MAX_MS)
        self.book.failed(notice.id, int(time.time() * 1000) + pause)
