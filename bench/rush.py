"""The 9 a.m. rush: BENCH_RUSH_BUYERS (10,000) buyers arriving within BENCH_RUSH_ARRIVAL_S
(60 s, not compressed) at a sale opening whose discount budget runs out part way.

Each buyer, a coroutine of this process: joins the waiting room over the real HTTP API
on a real loopback socket (POST .../waiting/general/tickets), waits as the page does
(GET .../status, sleeping for the estimate it was given), and once admitted orders:
a signed `order_purchase` (the buyer's key), then the bank's deposit notice as the
signed `confirm_purchase` (the operator's key). Those two go to the city's sequencer in
this process (`Ledgers.submit`) after the same admission check the sales service makes
(`WaitingRoom.admitted`), NOT through POST /v1/cities/{city}/sales/orders: that route
needs the simulated bank process and its webhook, which this benchmark does not run yet.

The server (`create_site` under uvicorn, in a thread) and the load share this process
and its GIL, so the figures are a floor. Reported: won oversold (from the chain replayed
afresh: discount paid + held <= budget minted; must be 0), errors, buyers dropped from
the queue (must be 0), admission (arrival -> admitted) and purchase (order -> deposit
booked) p50/p99, purchases/s, and how many bought with and without discount.

Run alone: `uv run python bench/rush.py [sqlite:///path | postgresql://...]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
import nacl.signing

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import ENV_FILE, ENV_KEY, master_key_from_environment
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.policy import default_sale, sale_bonus
from localpay.entrypoints.api.middleware.ratelimit import Limits
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.tickets import Ticket
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city, current_operator
from localpay.sim import gimpo
from localpay.sim.bench import percentile
from localpay.sim.http_bench import read_response
from localpay.testing.servers import live_container

BUYERS: Final = int(os.environ.get("BENCH_RUSH_BUYERS", "10000"))
ARRIVAL_S: Final = float(os.environ.get("BENCH_RUSH_ARRIVAL_S", "60"))
#: People admitted a second: the rate the room lets the ledger see (docs/waiting-room.md).
RATE: Final = int(os.environ.get("BENCH_RUSH_RATE", "150"))
#: Each buys this much; the discount budget covers BUDGET_SHARE of the buyers.
AMOUNT: Final = 100_000
BUDGET_SHARE: Final = 0.6
CONNECTIONS: Final = int(os.environ.get("BENCH_RUSH_CONNECTIONS", "48"))
PROGRAM: Final = "general"
UNLIMITED: Final = Limits(per_ip_rate=1e9, per_ip_burst=1e9)


@dataclass
class Figures:
    admission_s: list[float] = field(default_factory=list)
    join_s: list[float] = field(default_factory=list)
    purchase_s: list[float] = field(default_factory=list)
    errors: int = 0
    dropped: int = 0
    discounted: int = 0
    undiscounted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    polls: int = 0
    first_order: float = 0.0
    last_booked: float = 0.0


class Connections:
    """A pool of keep-alive HTTP/1.1 connections to the server (framed by hand: the load
    must cost the shared process little)."""

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def call(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        reader, writer = await self.free.get()
        try:
            lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}Content-Length: 0\r\n"
            writer.write((head + "\r\n").encode())
            status, body, keep = await read_response(reader)
        except BaseException:
            writer.close()
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
            raise
        if keep:
            self.free.put_nowait((reader, writer))
        else:
            writer.close()
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
        return status, json.loads(body) if body else None


@dataclass
class Buyer:
    wallet: str
    order: bytes
    confirm: bytes
    arrives_s: float


def set_up(ledgers: Ledgers, city: str, budget: int) -> list[Buyer]:
    """The city, its sale program with `budget` won of discount, the buyers' wallets, and
    every order and deposit notice signed in advance (signing is not what is measured)."""
    create_city(ledgers, city, "러시 시험시")
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    signer = OfficialSigner(ledgers.keys, city, dict(genesis.approvals))
    policy = msgspec.structs.replace(gimpo.programs(365)[PROGRAM], sale=default_sale())
    define = c.DefineProgram(id=new_id(), city=city, program=PROGRAM, policy=policy)
    mint = c.Mint(id=new_id(), city=city, program=PROGRAM, amount=budget, won_ref="rush-trust")
    _run(ledgers, city, [signer.sign(define), signer.sign(mint)])
    _, operator = current_operator(ledgers, city)
    rng = random.Random(9)
    buyers, opens = [], []
    for n in range(BUYERS):
        wallet, key = f"w-{n:07d}", nacl.signing.SigningKey.generate()
        opens.append(
            sign_command(
                c.OpenWallet(
                    id=new_id(),
                    city=city,
                    wallet=wallet,
                    keys=[public_key_hex(key)],
                    custodial=False,
                ),
                [key],
            )
        )
        order = c.OrderPurchase(
            id=new_id(), city=city, wallet=wallet, program=PROGRAM, amount=AMOUNT
        )
        confirm = c.ConfirmPurchase(
            id=new_id(),
            city=city,
            wallet=wallet,
            order=order.id,
            amount=AMOUNT,
            deposit_ref=f"rush-{n}",
        )
        buyers.append(
            Buyer(
                wallet,
                sign_command(order, [key]),
                sign_command(confirm, [operator]),
                rng.uniform(0, ARRIVAL_S),
            )
        )
    for start in range(0, len(opens), 2000):
        _run(ledgers, city, opens[start : start + 2000])
    return buyers


def _run(ledgers: Ledgers, city: str, items: list[bytes]) -> None:
    bad = [r for r in ledgers.execute_many(city, items, timeout=300) if not r.ok]
    if bad:
        raise RuntimeError(f"rush set-up failed: {bad[0].code} {bad[0].message}")


async def landed(ticket: Ticket[Receipt]) -> Receipt:
    """A sequencer's answer, awaited without a thread per waiting buyer."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Receipt] = loop.create_future()

    def tell(found: Ticket[Receipt]) -> None:
        loop.call_soon_threadsafe(_settle, done, found)

    ticket.add_done_callback(tell)
    return await done


def _settle(done: asyncio.Future[Receipt], found: Ticket[Receipt]) -> None:
    try:
        done.set_result(found.result(0))
    except BaseException as exc:  # the sequencer's failure is the buyer's error
        done.set_exception(exc)


async def buy(
    buyer: Buyer, pool: Connections, container: Any, city: str, figures: Figures, t0: float
) -> None:
    await asyncio.sleep(max(0.0, t0 + buyer.arrives_s - time.monotonic()))
    base = f"/v1/cities/{city}/waiting/{PROGRAM}"
    arrived = time.monotonic()
    status, body = await pool.call("POST", base + "/tickets", {"Idempotency-Key": new_id()})
    if status != 201:
        figures.errors += 1
        return
    ticket = body["ticket"]
    figures.join_s.append(time.monotonic() - arrived)
    while body["state"] == "waiting":
        # as the page does, live: look again when the estimate says, at least each 5 s
        await asyncio.sleep(min(max(float(body["estimate_s"] or 1), 0.5), 5.0))
        status, body = await pool.call("GET", base + "/status", {"X-Queue-Ticket": ticket})
        figures.polls += 1
        if status != 200:
            figures.dropped += 1  # the line lost this ticket
            return
    if body["state"] != "admitted" or not container.waiting.admitted(city, PROGRAM, ticket):
        figures.dropped += 1
        return
    admitted = time.monotonic()
    figures.admission_s.append(admitted - arrived)
    figures.first_order = figures.first_order or admitted
    ordered = await landed(container.ledgers.submit(city, buyer.order))
    if not ordered.ok:
        figures.refused[ordered.code] = figures.refused.get(ordered.code, 0) + 1
        return
    booked = await landed(container.ledgers.submit(city, buyer.confirm))
    if not booked.ok:
        figures.errors += 1
        return
    done = time.monotonic()
    figures.purchase_s.append(done - admitted)
    figures.last_booked = max(figures.last_booked, done)
    lots = (ordered.result.lots if ordered.result else None) or []
    if any(lot_id.endswith(".d") and amount > 0 for lot_id, amount in lots):
        figures.discounted += 1
    else:
        figures.undiscounted += 1


async def drive(port: int, container: Any, city: str, buyers: list[Buyer]) -> Figures:
    pool = Connections(port, CONNECTIONS)
    await pool.open()
    figures = Figures()
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(buy(b, pool, container, city, figures, t0) for b in buyers), return_exceptions=True
    )
    figures.errors += sum(1 for r in results if isinstance(r, BaseException))
    return figures


def from_chain(url: str, keys: Path, city: str, budget: int) -> dict[str, int]:
    """The program's money as a fresh replay of the chain says it."""
    store = open_store(url)
    ledgers = Ledgers(store, KeyStore(keys, master_key_from_environment()), now_ms)
    try:
        program = ledgers.sequencer(city).state.programs[PROGRAM]
        paid, held = program.bonus, program.reserved
        ledgers.sequencer(city).state.check_invariants()
    finally:
        ledgers.close()
        store.close()
    return {"discount_paid": paid, "discount_held": held, "oversold": max(0, paid + held - budget)}


def run_rush(url: str) -> dict[str, Any]:
    if not (os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"  # throwaway, like the cities'
    city = f"rush-{new_id()[:6]}"
    budget = int(BUYERS * BUDGET_SHARE) * sale_bonus(default_sale(), AMOUNT)
    with tempfile.TemporaryDirectory(prefix="localpay-rush-") as tmp:
        keys = Path(tmp) / "keys"
        with live_container(url, keys, UNLIMITED) as (base, container, _):
            buyers = set_up(container.ledgers, city, budget)
            container.waiting.schedule(city, PROGRAM, now_ms() + 2_000, RATE, 10)
            port = int(base.rsplit(":", 1)[1])
            began = time.monotonic()
            figures = asyncio.run(drive(port, container, city, buyers))
            wall = time.monotonic() - began
        chain = from_chain(url, keys, city, budget)
    bought = len(figures.purchase_s)
    span = max(figures.last_booked - figures.first_order, 1e-9)
    return {
        "rush_buyers": BUYERS,
        "rush_arrival_s": ARRIVAL_S,
        "rush_rate": RATE,
        "rush_budget": budget,
        "rush_won_oversold": chain["oversold"],
        "rush_discount_paid": chain["discount_paid"] + chain["discount_held"],
        "rush_errors": figures.errors,
        "rush_dropped": figures.dropped,
        "rush_refused": figures.refused,
        "rush_bought": bought,
        "rush_discounted": figures.discounted,
        "rush_without_discount": figures.undiscounted,
        "rush_admission_p50_s": round(percentile(figures.admission_s or [0.0], 0.5), 2),
        "rush_admission_p99_s": round(percentile(figures.admission_s or [0.0], 0.99), 2),
        "rush_join_p50_ms": round(percentile(figures.join_s or [0.0], 0.5) * 1000, 1),
        "rush_join_p99_ms": round(percentile(figures.join_s or [0.0], 0.99) * 1000, 1),
        "rush_purchase_p50_ms": round(percentile(figures.purchase_s or [0.0], 0.5) * 1000, 1),
        "rush_purchase_p99_ms": round(percentile(figures.purchase_s or [0.0], 0.99) * 1000, 1),
        "rush_purchases_per_s": round(bought / span, 1),
        "rush_status_polls": figures.polls,
        "rush_wall_s": round(wall, 1),
    }


#: What `make bench` shows of the rush (bench/run.py), in this order.
SHOWN: Final = (
    "rush_buyers",
    "rush_rate",
    "rush_won_oversold",
    "rush_errors",
    "rush_dropped",
    "rush_bought",
    "rush_discounted",
    "rush_without_discount",
    "rush_admission_p50_s",
    "rush_admission_p99_s",
    "rush_purchase_p50_ms",
    "rush_purchase_p99_ms",
    "rush_purchases_per_s",
)


def measure(url: str) -> dict[str, Any]:
    """The rush on the store at `url`, in a child process of its own (its server, its
    threads and its event loop end with it)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), url], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else None
    if url is None:
        with tempfile.TemporaryDirectory(prefix="localpay-rush-db-") as tmp:
            print(json.dumps(run_rush(f"sqlite:///{tmp}/rush.db"), indent=2))
        return
    print(json.dumps(run_rush(url), indent=2))


if __name__ == "__main__":
    main()
