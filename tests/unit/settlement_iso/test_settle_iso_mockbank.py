"""Our files against a real ISO 20022 counterparty: mock-bank (PyPI, MIT), its own process.

It takes the pain.001 we write for a KRW account, answers with a pain.002 and, as its
clock passes the business day, a camt.053; our readers read both, XSD and all."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localpay.adapters.iso20022 import camt053, pain001, pain002, sniff

BANNER = re.compile(r"listening on (http://[0-9.]+:[0-9]+)/")


def _mod97(text: str) -> int:
    remainder = 0
    for char in text:
        value = int(char, 36)
        remainder = (remainder * (10 if value < 10 else 100) + value) % 97
    return remainder


def _iban(country: str, bban: str) -> str:
    """mock-bank keys every account by an IBAN; Korea has none, so a made-up valid one."""
    return f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[httpx.Client]:
    exe = shutil.which("mock-bank")
    assert exe, "mock-bank is a dev dependency"
    log = tmp_path / "bank.log"
    with log.open("w") as out:
        args = [exe, "--port", "0", "--timezone", "Asia/Seoul", "--clock", "2026-09-30T10:00"]
        proc = subprocess.Popen(args, stdout=out, stderr=out)
    try:
        for _ in range(200):  # the banner names the port it took
            if found := BANNER.search(log.read_text()):
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.02)
        else:
            pytest.fail("mock-bank did not start: " + log.read_text())
        with httpx.Client(base_url=found.group(1), timeout=10) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _open_trust_account(bank: httpx.Client, trust, balance: int, behaviour: str) -> None:
    fields = {
        "id": "TRUST",
        "name": trust.name,
        "iban": _iban("KR", "MOCK" + trust.account),
        "currency": "KRW",
        "balance": balance,
        "behaviour": behaviour,
        "account_number": trust.account,  # how our Othr/Id finds it
    }
    answer = bank.post("/_mock/accounts", json=fields)
    assert answer.status_code == 201, answer.text


def _mailbox(bank: httpx.Client) -> list[bytes]:
    messages = bank.get("/_mock/mailbox").json()
    return [m["body"].encode() for m in messages if m["account"] == "TRUST"]


def test_settle_iso_mock_bank_takes_our_file_and_we_read_its_answers(bank, iso):
    _open_trust_account(bank, iso.trust, balance=20000, behaviour="insufficient-funds")
    data = pain001.write(iso.payout(12000, 3000, 9000))
    checked = bank.post("/_mock/validate", content=data)
    assert checked.status_code == 200 and "0 findings" in checked.text, checked.text
    assert bank.post("/payments", content=data).status_code == 202
    assert bank.post("/_mock/advance", params={"days": 2}).status_code == 200

    messages = _mailbox(bank)
    kinds = [sniff(m) for m in messages]
    report = pain002.read(messages[kinds.index("pain.002.001.10")])
    assert (report.original_msg_id, report.group_status) == ("LP-20261001-0001", "PART")
    statuses = {line.end_to_end: (line.status, line.reason) for line in report.lines}
    assert statuses == {"PO-1": ("ACCP", ""), "PO-2": ("ACCP", ""), "PO-3": ("RJCT", "AM04")}

    statements = [
        camt053.read(m) for m, k in zip(messages, kinds, strict=True) if k == "camt.053.001.08"
    ]
    booked = [s for s in statements if s.entries]
    assert len(booked) == 1
    day = booked[0]
    assert (day.opening, day.closing, day.currency) == (20000, 5000, "KRW")
    assert [(e.end_to_end, e.amount, e.direction) for e in day.entries] == [
        ("PO-1", 12000, "DBIT"),
        ("PO-2", 3000, "DBIT"),
    ]
    assert all(e.bank_ref for e in day.entries)
