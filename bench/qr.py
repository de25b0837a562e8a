"""QR payments over HTTP, beside plain signed payments on the same connections.

One seeded city per store (bench-xxxxxx: BENCH_QR_WALLETS wallets, BENCH_QR_MERCHANTS shops
named in the directory, an API key for every shop: its POS, which downloads the shop's code), a
`localpay serve` child on loopback (sim/http_bench.Server: its own process, so the server
and this load do not share a GIL), and BENCH_QR_CONNECTIONS (32) keep-alive HTTP/1.1
connections opened once and used by every phase. Each connection is a lane: a closed loop,
one payment in flight, framed by hand on asyncio streams (the load must cost the shared
2 cores little; sim/http_bench.py says why). BENCH_QR_PAYMENTS (2,000) payments a phase
(BENCH_QR_DYNAMIC, 320, loops for the dynamic one), BENCH_QR_WALLETS (512) wallets:

- `plain`: the wallet's signed `pay`, POST /v1/cities/{city}/payments (the anchor; run
  first and again last, so drift of the growing chain shows; the ratios use their mean);
- `static_read`: POST .../qr/read with the shop's printed code (its text, fetched once by
  the shop's API key from GET .../merchants/{m}/qr?format=text), checked verified and of
  that shop, then the signed `pay` — a read every time;
- `static_cached`: the same, but each wallet reads a shop's code once and caches it: every
  (wallet, shop) pair pays BENCH_QR_PAYS_PER_PAIR (10) times, so a tenth of them read;
- `dynamic`: the whole loop of a dynamic code — the counter's POS creates a request
  (POST .../qr/requests, its API key), the wallet reads the payload (verified, the same
  reference and amount), signs a `pay` with evidence `qr:<reference>` and pays it
  (POST .../qr/requests/{reference}/pay), the POS polls once (GET, must say `paid` with
  the payment's id). Latency is the whole loop; its steps' p50 are shown too.

After the server stops, the shops' money on the chain (read afresh from the store) must
have grown by exactly the won the answers said were paid: `won_mismatch` must be 0.

Signing: pre-signed for plain and static (the wallet signs on its phone; signing is not
the server's cost), in the loop for dynamic (the reference is only known then), in this
process. Each lane owns its wallets (a phone pays one payment at a time), and each lane is
one shop's counter in `dynamic`, so each POS key stays under the server's 100 requests/s
per merchant credential. Every answer is checked; errors must be 0.

Run alone: `uv run python bench/qr.py` (SQLite, then a throwaway PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
import nacl.signing
import orjson
import psycopg

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import ENV_FILE, ENV_KEY
from localpay.bootstrap import open_directory, open_identity, open_store
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import Merchant
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.sim.bench import BenchCity, percentile
from localpay.sim.demo import demo_directory
from localpay.sim.http_bench import ProtocolError, Server, read_response
from localpay.testing.postgres import throwaway_postgres
from localpay.testing.servers import FAST_HASHER

# The `localpay serve` child runs no card host: bench/card.py measures its own.
os.environ.setdefault("LOCALPAY_CARD_PORT", "0")
PAYMENTS: Final = int(os.environ.get("BENCH_QR_PAYMENTS", "2000"))
#: Fewer: a loop is four requests and five of the store's own commits (docs/benchmarks.md).
DYNAMIC: Final = int(os.environ.get("BENCH_QR_DYNAMIC", "320"))
CONNECTIONS: Final = int(os.environ.get("BENCH_QR_CONNECTIONS", "32"))
WALLETS: Final = int(os.environ.get("BENCH_QR_WALLETS", "512"))
MERCHANTS: Final = int(os.environ.get("BENCH_QR_MERCHANTS", "200"))
PAYS_PER_PAIR: Final = int(os.environ.get("BENCH_QR_PAYS_PER_PAIR", "10"))
#: A phase that has not finished in this long is a failure, not a figure.
PHASE_TIMEOUT_S: Final = 300.0
T = TypeVar("T")


# -- the city ------------------------------------------------------------------------------


@dataclass
class City:
    name: str
    keys: dict[str, nacl.signing.SigningKey]  # wallet -> its key
    merchants: list[str]
    api_keys: dict[str, str]  # merchant -> its API key
    pos: dict[str, str]  # the first CONNECTIONS shops: the counters of the dynamic phase
    codes: dict[str, str] = field(default_factory=dict)  # merchant -> its printed code's text


def seed_city(url: str, keys: Path) -> City:
    """A funded bench city (sim/bench.BenchCity) whose shops have names in the directory
    (a code carries the Korean name) and POS keys; closed again so the server takes it."""
    name = f"bench-{new_id()[:6]}"
    store = open_store(url)
    try:
        ledgers = Ledgers(store, KeyStore(keys), now_ms)
        try:
            bench = BenchCity(ledgers, name)
            bench.set_up(WALLETS, MERCHANTS)
        finally:
            ledgers.close()  # releases the city's lease
        demo_directory(open_directory(store), name, now_ms())
        identity = open_identity(store, now_ms, FAST_HASHER)
        pos = {m: identity.issue_api_key(name, m, "bench POS")[1] for m in bench.merchants}
    finally:
        store.close()
    lanes = min(CONNECTIONS, len(bench.merchants))
    return City(name, bench.wallet_keys, bench.merchants, pos, dict(list(pos.items())[:lanes]))


def shops_received(url: str, city: str) -> int:
    """The won every shop of `city` has received (held or redeemed), from the chain's state."""
    store = open_store(url)
    try:
        rows = [raw for key, raw in store.state(city) if key.startswith("m:")]
    finally:
        store.close()
    shops = [msgspec.json.decode(raw, type=Merchant) for raw in rows]
    return sum(shop.balance + shop.redeemed for shop in shops)


def signed_pay(city: City, wallet: str, merchant: str, amount: int, evidence: str = "") -> bytes:
    pay = c.Pay(
        id=new_id(), city=city.name, wallet=wallet, merchant=merchant, amount=amount,
        evidence=evidence,
    )  # fmt: skip
    return sign_command(pay, [city.keys[wallet]])


# -- one connection ------------------------------------------------------------------------


class Failed(Exception):
    """An answer that is not the one a successful payment gets."""


class Lane:
    """One keep-alive connection, one request at a time; reconnects after a broken one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.stream is None:
            self.stream = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.stream
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            status, data, keep = await read_response(reader)
        except (OSError, EOFError, ValueError, ProtocolError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise Failed(f"{method} {path}: {exc!r}") from exc
        if not keep:
            self.close()
        return status, data

    async def expect(
        self, status: int, method: str, path: str, body: bytes = b"", **headers: str
    ) -> Any:
        found, data = await self.call(method, path, body, headers)
        if found != status:
            raise Failed(f"{method} {path}: {found} {data[:300]!r}")
        return orjson.loads(data)

    def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None


def idem() -> str:
    return new_id()


# -- the phases ----------------------------------------------------------------------------


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    first_error: str = ""
    reads: int = 0
    won: int = 0  # paid in the answers: the chain must have exactly this more

    def step(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.steps.setdefault(name, []).append(now - since)
        return now


Payment = Callable[[Lane, Phase], Awaitable[None]]


async def _lane(lane: Lane, work: list[Payment], phase: Phase) -> None:
    for pay in work:
        began = time.perf_counter()
        try:
            await pay(lane, phase)
        except Failed as exc:
            phase.errors += 1
            phase.first_error = phase.first_error or str(exc)
            continue
        phase.latencies.append(time.perf_counter() - began)


async def _run_phase(lanes: list[Lane], work: list[list[Payment]]) -> tuple[Phase, float]:
    phase = Phase()
    began = time.perf_counter()
    runs = (_lane(lane, items, phase) for lane, items in zip(lanes, work, strict=True))
    await asyncio.wait_for(asyncio.gather(*runs), PHASE_TIMEOUT_S)
    return phase, time.perf_counter() - began


def _lane_wallets(city: City, lanes: int) -> list[list[str]]:
    """Each lane's own wallets: a phone pays one payment at a time."""
    wallets = sorted(city.keys)
    return [wallets[n::lanes] for n in range(lanes)]


def _amount(rng: random.Random) -> int:
    return rng.randrange(10, 300) * 100  # 1,000 to 29,900 won, as sim/bench.py


def plain_work(city: City, lanes: int, rng: random.Random) -> list[list[Payment]]:
    path = f"/v1/cities/{city.name}/payments"

    def payment(wallet: str, amount: int) -> Payment:
        envelope = signed_pay(city, wallet, rng.choice(city.merchants), amount)

        async def pay(lane: Lane, phase: Phase) -> None:
            await lane.expect(201, "POST", path, envelope, **{"Idempotency-Key": idem()})
            phase.won += amount

        return pay

    return [
        [payment(own[n % len(own)], _amount(rng)) for n in range(PAYMENTS // lanes)]
        for own in _lane_wallets(city, lanes)
    ]


def static_work(city: City, lanes: int, rng: random.Random, cached: bool) -> list[list[Payment]]:
    """Static-code payments; `cached`: each (wallet, shop) pair pays PAYS_PER_PAIR times,
    its code read the first time only (the lane's cache stands for the phones')."""
    read_path = f"/v1/cities/{city.name}/qr/read"
    pay_path = f"/v1/cities/{city.name}/payments"
    each = PAYMENTS // lanes

    def payment(wallet: str, merchant: str, amount: int, cache: set[str]) -> Payment:
        envelope = signed_pay(city, wallet, merchant, amount)

        async def pay(lane: Lane, phase: Phase) -> None:
            began = time.perf_counter()
            if not cached or wallet + merchant not in cache:
                body = orjson.dumps({"payload": city.codes[merchant]})
                read = await lane.expect(200, "POST", read_path, body)
                if not read["verified"] or read["qr"]["merchant"] != merchant:
                    raise Failed(f"read {merchant}: {str(read)[:200]}")
                phase.reads += 1
                cache.add(wallet + merchant)
                began = phase.step("read", began)
            await lane.expect(201, "POST", pay_path, envelope, **{"Idempotency-Key": idem()})
            phase.won += amount
            phase.step("pay", began)

        return pay

    work = []
    for own in _lane_wallets(city, lanes):
        cache: set[str] = set()
        if cached:  # pairs: this lane's wallets, each with a shop it keeps coming back to
            pairs = [(own[n % len(own)], rng.choice(city.merchants)) for n in range(
                max(1, each // PAYS_PER_PAIR))]  # fmt: skip
        else:
            pairs = [(own[n % len(own)], rng.choice(city.merchants)) for n in range(each)]
        chosen = [pairs[n % len(pairs)] for n in range(each)]
        work.append([payment(w, m, _amount(rng), cache) for w, m in chosen])
    return work


def dynamic_work(city: City, lanes: int, rng: random.Random) -> list[list[Payment]]:
    """Lane n is the counter of the n-th shop with a POS; its own wallets scan and pay."""
    base = f"/v1/cities/{city.name}/qr"

    def loop(merchant: str, key: str, wallet: str, amount: int) -> Payment:
        auth = {"Authorization": f"Bearer {key}"}

        async def pay(lane: Lane, phase: Phase) -> None:
            began = time.perf_counter()
            made = await lane.expect(
                201, "POST", base + "/requests",
                orjson.dumps({"merchant": merchant, "amount": amount}),
                **auth, **{"Idempotency-Key": idem()},
            )  # fmt: skip
            began = phase.step("create", began)
            reference = made["reference"]
            body = orjson.dumps({"payload": made["payload"]})
            read = await lane.expect(200, "POST", base + "/read", body)
            qr = read["qr"] or {}
            if not read["verified"] or (qr.get("reference"), qr.get("amount")) != (
                reference, amount
            ):  # fmt: skip
                raise Failed(f"read {reference}: {str(read)[:200]}")
            phase.reads += 1
            began = phase.step("read", began)
            envelope = signed_pay(city, wallet, merchant, amount, f"qr:{reference}")
            paid = await lane.expect(
                201, "POST", f"{base}/requests/{reference}/pay", envelope,
                **{"Idempotency-Key": idem()},
            )  # fmt: skip
            phase.won += amount
            began = phase.step("pay", began)
            polled = await lane.expect(200, "GET", f"{base}/requests/{reference}", b"", **auth)
            if polled["status"] != "paid" or polled["payment"] != paid["id"]:
                raise Failed(f"poll {reference}: {str(polled)[:200]}")
            phase.step("poll", began)

        return pay

    shops = list(city.pos.items())
    return [
        [
            loop(shops[lane][0], shops[lane][1], own[n % len(own)], _amount(rng))
            for n in range(DYNAMIC // lanes)
        ]
        for lane, own in enumerate(_lane_wallets(city, lanes))
    ]


# -- one store -----------------------------------------------------------------------------


def _ms(values: list[float], p: float) -> float:
    return round(percentile(values or [0.0], p) * 1000, 2)


def _figures(phase: Phase, wall: float, server_cpu_s: float | None) -> dict[str, Any]:
    done = len(phase.latencies)
    out: dict[str, Any] = {
        "per_s": round(done / wall, 1),
        "p50_ms": _ms(phase.latencies, 0.5),
        "p99_ms": _ms(phase.latencies, 0.99),
        "ok": done,
        "errors": phase.errors,
        "reads": phase.reads,
        "won": phase.won,
        "server_cpu_us": round(server_cpu_s * 1e6 / done) if server_cpu_s and done else None,
    }
    out.update({f"{step}_p50_ms": _ms(values, 0.5) for step, values in phase.steps.items()})
    if phase.first_error:
        out["first_error"] = phase.first_error
    return out


async def _codes(lane: Lane, city: City) -> None:
    """Each shop's printed code, as its staff or POS downloads it (not timed)."""
    for merchant in city.merchants:
        path = f"/v1/cities/{city.name}/merchants/{merchant}/qr?format=text"
        auth = {"Authorization": f"Bearer {city.api_keys[merchant]}"}
        status, data = await lane.call("GET", path, headers=auth)
        if status != 200:
            raise Failed(f"GET {path}: {status} {data[:200]!r}")
        city.codes[merchant] = data.decode()


async def _drive(port: int, city: City, server: Server) -> dict[str, Any]:
    lanes = [Lane(port) for _ in range(len(city.pos))]
    for lane in lanes:  # opened once: every phase runs on the same connections
        lane.stream = await asyncio.open_connection("127.0.0.1", port)
    await _codes(lanes[0], city)
    rng = random.Random(13)  # load shape, not security
    phases: list[tuple[str, list[list[Payment]]]] = [
        ("plain", plain_work(city, len(lanes), rng)),
        ("static_read", static_work(city, len(lanes), rng, cached=False)),
        ("static_cached", static_work(city, len(lanes), rng, cached=True)),
        ("dynamic", dynamic_work(city, len(lanes), rng)),
        ("plain_again", plain_work(city, len(lanes), rng)),
    ]
    out: dict[str, Any] = {}
    for name, work in phases:
        cpu = server.cpu_seconds()
        phase, wall = await _run_phase(lanes, work)
        after = server.cpu_seconds()
        spent = after - cpu if cpu is not None and after is not None else None
        out.update({f"{name}_{k}": v for k, v in _figures(phase, wall, spent).items()})
    for lane in lanes:
        lane.close()
    return out


def _run(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop when installed (uvicorn[standard] brings it): a cheaper client."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def measure_store(url: str, keys: Path) -> dict[str, Any]:
    """Every phase against one `localpay serve` of the store at `url`."""
    began = time.perf_counter()
    city = seed_city(url, keys)
    seeded = time.perf_counter() - began
    before = shops_received(url, city.name)
    with Server(url, keys) as server:
        client = time.process_time()
        out = _run(_drive(server.port, city, server))
        out["client_cpu_s"] = round(time.process_time() - client, 2)
    # Money both ways: what the answers said was paid is what the shops received on the
    # chain, read afresh from the store (no payment "failed but deducted", none lost).
    answered = sum(v for k, v in out.items() if k.endswith("_won"))
    out["won_answered"] = answered
    out["won_mismatch"] = shops_received(url, city.name) - before - answered
    plain = (out["plain_per_s"] + out["plain_again_per_s"]) / 2
    for name in ("static_read", "static_cached", "dynamic"):
        out[f"{name}_over_plain"] = round(out[f"{name}_per_s"] / plain, 3) if plain else None
    out["errors"] = sum(v for k, v in out.items() if k.endswith("_errors"))
    out["seed_s"] = round(seeded, 1)
    return out


# -- both stores ---------------------------------------------------------------------------


def measure(postgres_url: str) -> dict[str, Any]:
    """SQLite (a file of its own), then the PostgreSQL database at `postgres_url` (empty,
    made for this: bench/run.py's throwaway server)."""
    if not (os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"  # throwaway, like the city's keys
    lanes = min(CONNECTIONS, MERCHANTS)
    result: dict[str, Any] = {
        "connections": lanes,
        "payments_per_phase": PAYMENTS // lanes * lanes,
        "dynamic_loops": DYNAMIC // lanes * lanes,
        "wallets": WALLETS,
        "merchants": MERCHANTS,
        "pays_per_pair": PAYS_PER_PAIR,
    }
    with tempfile.TemporaryDirectory(prefix="localpay-qr-bench-") as tmp:
        folder = Path(tmp)
        result["sqlite"] = measure_store(f"sqlite:///{folder}/qr.db", folder / "keys")
        result["postgres"] = measure_store(postgres_url, folder / "pg-keys")
    return result


#: What `make bench` shows of each store (bench/run.py), in this order.
SHOWN: Final = (
    "plain_per_s",
    "plain_p50_ms",
    "plain_p99_ms",
    "plain_server_cpu_us",
    "static_read_per_s",
    "static_read_p50_ms",
    "static_read_p99_ms",
    "static_read_read_p50_ms",
    "static_read_server_cpu_us",
    "static_read_over_plain",
    "static_cached_per_s",
    "static_cached_p50_ms",
    "static_cached_p99_ms",
    "static_cached_reads",
    "static_cached_over_plain",
    "dynamic_per_s",
    "dynamic_p50_ms",
    "dynamic_p99_ms",
    "dynamic_create_p50_ms",
    "dynamic_read_p50_ms",
    "dynamic_pay_p50_ms",
    "dynamic_poll_p50_ms",
    "dynamic_server_cpu_us",
    "dynamic_over_plain",
    "plain_again_per_s",
    "plain_again_p99_ms",
    "errors",
    "won_answered",
    "won_mismatch",
    "client_cpu_s",
)


def report(result: dict[str, Any]) -> None:
    print(
        f"\n== QR payments over HTTP ({result['connections']} connections,"
        f" {result['payments_per_phase']} payments a phase, {result['dynamic_loops']} dynamic)"
    )
    print(f"  {'':>28}  {'SQLite':>10}  {'PostgreSQL':>10}")
    for key in SHOWN:
        row = [result.get(store, {}).get(key, "-") for store in ("sqlite", "postgres")]
        print(f"  {key:>28}  {row[0]!s:>10}  {row[1]!s:>10}")
    for store in ("sqlite", "postgres"):
        for key, value in result.get(store, {}).items():
            if key.endswith("first_error"):
                print(f"  {store} {key}: {value}")


def new_database(url: str, name: str) -> str:
    """A new empty database on the server of `url`; its URL (as bench/run.py makes them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    with throwaway_postgres() as url:
        found = measure(new_database(url, "qr_bench"))
    report(found)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
