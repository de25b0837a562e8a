"""`localpay bench`: signed payments committed end to end through the sequencer.

The run creates its own city (bench-xxxxxx) in the given store, funds wallets,
pre-signs the payments (clients sign on their own devices, so signing is not the
ledger's cost), then drives a closed loop of `concurrency` clients: each submits
a payment and, when its block is durable, the next one. Latency is submit to
durable acknowledgement. The raw Ed25519 verify rate of one core is measured in
the same run, so the ratio between the two is comparable across machines.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import nacl.bindings
import nacl.signing

from localpay.adapters.runtime import settle_heap
from localpay.domain import commands as c
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.tickets import Ticket
from localpay.services.cities.ledgers import Keys, Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.cities.verify import verify_city
from localpay.services.witness.replay import witness_replay_per_s
from localpay.sim import gimpo

BENCH_WALLETS: Final = 2000
BENCH_MERCHANTS: Final = 200
#: Each wallet gets LOTS_PER_WALLET lots of LOT_AMOUNT (below the holding cap).
LOTS_PER_WALLET: Final = 3
LOT_AMOUNT: Final = 400_000
VERIFY_SAMPLE: Final = 20_000


def ed25519_verify_per_s(samples: int = VERIFY_SAMPLE) -> float:
    """Raw PyNaCl verifications per second on one core (same message size as a payment)."""
    key = nacl.signing.SigningKey.generate()
    public = bytes(key.verify_key)
    signed = [key.sign(b"x" * 190 + i.to_bytes(4, "big")) for i in range(samples)]
    begin = time.perf_counter()
    for message in signed:
        nacl.bindings.crypto_sign_open(bytes(message), public)
    return samples / (time.perf_counter() - begin)


class BenchCity:
    """A funded city of wallets and merchants whose keys the benchmark holds."""

    def __init__(self, ledgers: Ledgers, city: str) -> None:
        self.ledgers = ledgers
        self.city = city
        self.wallet_keys: dict[str, nacl.signing.SigningKey] = {}
        self.merchants: list[str] = []

    def set_up(self, wallets: int, merchants: int) -> None:
        create_city(self.ledgers, self.city, f"benchmark {self.city}")
        genesis = self.ledgers.sequencer(self.city).state.genesis
        assert genesis is not None
        signer = OfficialSigner(self.ledgers.keys, self.city, dict(genesis.approvals))
        policy = gimpo.programs(365)["general"]
        admin: list[c.Command] = [
            c.DefineProgram(id=new_id(), city=self.city, program="general", policy=policy),
            c.Mint(
                id=new_id(),
                city=self.city,
                program="general",
                amount=wallets * LOTS_PER_WALLET * LOT_AMOUNT,
                won_ref="bench-trust",
            ),
        ]
        self._run([signer.sign(cmd) for cmd in admin])
        self._run([self._open_wallet(n) for n in range(wallets)])
        merchant_cmds: list[bytes] = []
        for n in range(merchants):
            merchant = f"m-{n:05d}"
            self.merchants.append(merchant)
            merchant_cmds.append(
                signer.sign(
                    c.RegisterMerchant(
                        id=new_id(),
                        city=self.city,
                        merchant=merchant,
                        keys=[public_key_hex(nacl.signing.SigningKey.generate())],
                        category="restaurant",
                        area="gurae-dong",
                        annual_revenue=100_000_000,
                        registration_hash="0" * 64,
                    )
                )
            )
        self._run(merchant_cmds)
        self._run(
            [
                signer.sign(c.ApproveMerchant(id=new_id(), city=self.city, merchant=m))
                for m in self.merchants
            ]
        )
        # Fund below the general program's holding cap, in several lots per wallet.
        credits = [
            signer.sign(
                c.Credit(
                    id=new_id(),
                    city=self.city,
                    program="general",
                    wallet=w,
                    amount=LOT_AMOUNT,
                    origin="bench",
                )
            )
            for w in self.wallet_keys
            for _ in range(LOTS_PER_WALLET)
        ]
        self._run(credits)

    def _open_wallet(self, n: int) -> bytes:
        wallet = f"w-{n:07d}"
        key = nacl.signing.SigningKey.generate()
        self.wallet_keys[wallet] = key
        return sign_command(
            c.OpenWallet(
                id=new_id(),
                city=self.city,
                wallet=wallet,
                keys=[public_key_hex(key)],
                custodial=False,
            ),
            [key],
        )

    def _run(self, items: list[bytes]) -> None:
        bad = [r for r in self.ledgers.execute_many(self.city, items, timeout=300) if not r.ok]
        if bad:
            raise RuntimeError(f"benchmark set-up failed: {bad[0].code} {bad[0].message}")

    def payments(self, count: int, seed: int = 7) -> list[bytes]:
        rng = random.Random(seed)  # noqa: S311 (load shape, not security)
        wallets = list(self.wallet_keys)
        signed = []
        for _ in range(count):
            wallet = rng.choice(wallets)
            pay = c.Pay(
                id=new_id(),
                city=self.city,
                wallet=wallet,
                merchant=rng.choice(self.merchants),
                amount=rng.randrange(10, 300) * 100,
                evidence="",
            )
            signed.append(sign_command(pay, [self.wallet_keys[wallet]]))
        return signed


class ClosedLoop:
    """`concurrency` clients, each with one command in flight; records latencies.

    Tickets are answered on the sequencer's committer thread, so the callbacks that
    record a latency and send the next command all run there: no locks needed.
    """

    def __init__(
        self, submit: Callable[[bytes], Ticket[Receipt]], items: list[bytes], concurrency: int
    ) -> None:
        self.submit = submit
        self.total = len(items)
        self.queue = iter(items)
        self.concurrency = concurrency
        self.latencies: list[float] = []
        self.codes: collections.Counter[str] = collections.Counter()
        self.done = threading.Event()

    def _send(self) -> None:
        item = next(self.queue, None)
        if item is None:
            return
        sent = time.perf_counter()
        self.submit(item).add_done_callback(lambda t: self._landed(t, sent))

    def _landed(self, ticket: Ticket[Receipt], sent: float) -> None:
        self.latencies.append(time.perf_counter() - sent)
        error = ticket.exception()
        self.codes[ticket.result().code if error is None else "exception"] += 1
        if len(self.latencies) == self.total:
            self.done.set()
        else:
            self._send()

    def run(self, timeout: float) -> float:
        begin = time.perf_counter()
        for _ in range(min(self.concurrency, self.total)):
            self._send()
        if not self.done.wait(timeout):
            raise RuntimeError("benchmark did not finish in time")
        return time.perf_counter() - begin


def verify_rate_of(store: Any, city: str) -> dict[str, Any]:
    """`localpay verify` of the city (every check, from genesis, signatures on every
    core): its rate, the chain it was measured on, and the time 1,000,000 would take."""
    begin = time.perf_counter()
    report = verify_city(store, city)
    elapsed = time.perf_counter() - begin
    if not report.ok:
        raise RuntimeError(f"the bench chain does not verify: {report.problems[0]}")
    per_s = report.txs / elapsed
    return {
        "verify_tx_per_s": round(per_s, 1),
        "verify_chain_txs": report.txs,
        "verify_projected_1m_s": round(1_000_000 / per_s, 1),
    }


def _rss_figures(points: list[tuple[int, float]]) -> dict[str, Any]:
    """The city's measured RSS points and, from the last two, its projection to 1M."""
    if not points:
        return {}
    figures: dict[str, Any] = {"rss_city_points": [[n, mib] for n, mib in points]}
    if len(points) >= 2:
        (n0, m0), (n1, m1) = points[-2], points[-1]
        figures["rss_city_1m_tx_mib"] = round(m1 + (m1 - m0) / (n1 - n0) * (1_000_000 - n1), 1)
        figures["rss_city_1m_tx_projected"] = n1 < 1_000_000
    return figures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run_bench(
    store: Any,
    keys: Keys,
    clock: Callable[[], int],
    store_kind: str,
    payments: int = 50_000,
    concurrency: int = 512,
    verify_txs: int = 0,
    server_rss: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """The payments run, then the witness's replay and `localpay verify` of its chain,
    which is first grown (more payments) to `verify_txs` transactions if it is shorter.

    With `server_rss` (the RSS of a fresh server on this store, sim/memory.py), the
    city's memory is measured after the payments and after the growth, and projected
    to 1,000,000 transactions on the line through the two."""
    city = f"bench-{new_id()[:6]}"
    ledgers = Ledgers(store, keys, clock)
    rss: list[tuple[int, float]] = []
    try:
        bench = BenchCity(ledgers, city)
        bench.set_up(BENCH_WALLETS, BENCH_MERCHANTS)
        signed = bench.payments(payments)
        verify_rate = ed25519_verify_per_s()
        settle_heap()  # as the server does once it has loaded its cities
        sequencer = ledgers.sequencer(city)
        height_before = sequencer.head.height
        loop = ClosedLoop(sequencer.submit, signed, concurrency)
        elapsed = loop.run(timeout=600)
        blocks = sequencer.head.height - height_before
        if server_rss is not None:  # the server takes the city's lease: hand it over
            ledgers.close()
            rss.append((sequencer.head.log.size, server_rss()))
            ledgers = Ledgers(store, keys, clock)
            sequencer = ledgers.sequencer(city)
        if (more := verify_txs - sequencer.head.log.size) > 0:
            ClosedLoop(sequencer.submit, bench.payments(more, seed=11), concurrency).run(600)
        grown = sequencer.head.log.size
    finally:
        ledgers.close()
    if server_rss is not None and grown > rss[0][0]:
        rss.append((grown, server_rss()))
    rate = payments / elapsed
    # A witness re-executes the same chain (every check, from genesis) after the run.
    replay_rate = witness_replay_per_s(store, city)
    verified = verify_rate_of(store, city)
    return {
        "store": store_kind,
        "city": city,
        "payments": payments,
        "concurrency": concurrency,
        "payments_per_s": round(rate, 1),
        "ed25519_verify_per_s": round(verify_rate, 1),
        "ratio_to_verify": round(rate / verify_rate, 3),
        "witness_replay_per_s": round(replay_rate, 1),
        "witness_ratio": round(replay_rate / rate, 2),
        **verified,
        **_rss_figures(rss),
        "p50_commit_ms": round(percentile(loop.latencies, 0.50) * 1000, 2),
        "p99_commit_ms": round(percentile(loop.latencies, 0.99) * 1000, 2),
        "blocks": blocks,
        "txs_per_block": round(payments / max(blocks, 1), 1),
        "outcomes": dict(loop.codes),
        "errors": sum(n for code, n in loop.codes.items() if code != "ok"),
    }
