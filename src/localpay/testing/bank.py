"""The simulated bank as its own process beside a live server, and a city with a sale
program, for the sales tests (integration and browser)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from localpay.adapters.bank.http import bank_secret
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.domain.policy import default_sale
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.builders import policy
from localpay.testing.servers import free_port, live_container

#: The test sale program: 10 %, 700,000 a month, holding 1,500,000, budget SALE_BUDGET.
SALE = "sale"
SALE_BUDGET = 50_000


@contextmanager
def bank_process(keys: Path, notify: str, folder: Path, port: int) -> Iterator[str]:
    """`localpay bank-sim serve` in a child process, sharing the key store's secret."""
    secret_file = folder / "bank.secret"
    secret_file.write_text(bank_secret(KeyStore(keys)).hex())
    secret_file.chmod(0o600)
    argv = [
        sys.executable,
        "-m",
        "localpay.entrypoints.cli",
        "bank-sim",
        "serve",
        "--port",
        str(port),
        "--notify",
        notify,
        "--secret-file",
        str(secret_file),
        "--db",
        str(folder / "bank.db"),
    ]
    log = (folder / "bank.log").open("wb")
    child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert child.poll() is None, (folder / "bank.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the simulated bank did not start"
            time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        child.wait(10)
        log.close()


@dataclass
class SaleSite:
    base: str
    bank: str
    container: Container
    keys: Path


def add_sale_program(container: Container, city: str, budget: int = SALE_BUDGET) -> None:
    """The test's own sale program (its budget the discounts' money), by the officials."""
    ledgers = container.ledgers
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    signer = OfficialSigner(ledgers.keys, city, dict(genesis.approvals))
    rules = policy(
        "김포사랑상품권 (Gimpo gift certificate)",
        sale=default_sale(),
        holding_cap=1_500_000,
        valid_days=365,
    )
    for command in (
        c.DefineProgram(id=new_id(), city=city, program=SALE, policy=rules),
        c.Mint(id=new_id(), city=city, program=SALE, amount=budget, won_ref="budget"),
    ):
        receipt = ledgers.execute(city, signer.sign(command))
        assert receipt.ok, receipt


@contextmanager
def sale_site(url: str, keys: Path, folder: Path, city: str = "gimpo") -> Iterator[SaleSite]:
    """A live server of the seeded store at `url` whose bank is a simulated bank process."""
    port = free_port()
    bank = f"http://127.0.0.1:{port}"
    before = os.environ.get("LOCALPAY_BANK")
    os.environ["LOCALPAY_BANK"] = bank  # read by the Container as it is made
    try:
        served = live_container(url, keys)
        base, container, _ = served.__enter__()
    finally:
        if before is None:
            os.environ.pop("LOCALPAY_BANK", None)
        else:
            os.environ["LOCALPAY_BANK"] = before
    try:
        add_sale_program(container, city)
        with bank_process(keys, f"{base}/v1/bank/deposits", folder, port):
            yield SaleSite(base, bank, container, keys)
    finally:
        served.__exit__(None, None, None)


def wallet_key(keys: Path, wallet: str, city: str = "gimpo") -> Any:
    secret = bytes(KeyStore(keys).load(city, DEMO_SECRET))
    return derived_key(secret, wallet)


def signed(keys: Path, command: c.Command, wallet: str, city: str = "gimpo") -> bytes:
    return sign_command(command, [wallet_key(keys, wallet, city)])


def order(keys: Path, wallet: str, amount: int, program: str = SALE, city: str = "gimpo") -> bytes:
    command = c.OrderPurchase(id=new_id(), city=city, wallet=wallet, program=program, amount=amount)
    return signed(keys, command, wallet, city)


def post(
    base: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    sent = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    return httpx.post(
        f"{base}{path}", content=body, headers={**sent, **(headers or {})}, timeout=30
    )
