"""Card authorizations over TCP: the ISO 8583 host (entrypoints/cardhost) under
BENCH_CARD_CONNECTIONS (50) terminal connections, beside a bare pyiso8583 echo host
(entrypoints/cardhost/echo.py) in the same run as the ratio's anchor.

Each host runs in a child process of its own (`bench/card.py --serve KIND`), the load in
this one, so the two do not share a GIL. Our load: every connection is one terminal
sending 0100s one after another (a terminal waits for its answer), BENCH_CARD_REQUESTS
(20,000) in all; p50/p99 are per request, send to answer. The same load again from
iso8583sim's load mode (uvx, never a dependency), whose own sample 0100 the real host
answers 30 (it is in US dollars and lacks 7, 12, 13 and 37; the CLI cannot change that),
so its figure measures the host's framing and checks, not the service.

Hosts: `echo` (the anchor), `null` (the real CardHost in front of a service that answers
00 at once: the host's own cost) and `ledger` (the real host over `container.cards` on a
seeded SQLite city, every 0100 a signed hold through the sequencer).

Run alone: `uv run python bench/card.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from localpay.adapters.secrets import ENV_FILE, ENV_KEY
from localpay.bootstrap import Container
from localpay.domain.principals import Principal
from localpay.entrypoints.api import telemetry
from localpay.entrypoints.cardhost import server, terminal
from localpay.entrypoints.cardhost.echo import EchoHost
from localpay.entrypoints.cardhost.server import CardHost
from localpay.services.payments.card.messages import CardAnswer, CardRequest
from localpay.sim.bench import percentile
from localpay.testing.servers import FAST_HASHER, seed

REQUESTS: Final = int(os.environ.get("BENCH_CARD_REQUESTS", "20000"))
CONNECTIONS: Final = int(os.environ.get("BENCH_CARD_CONNECTIONS", "50"))
#: The host's threads for the card service (server.WORKERS by default).
WORKERS: Final = int(os.environ.get("BENCH_CARD_WORKERS", str(server.WORKERS)))
SIM: Final = ["uvx", "--from", "iso8583sim==1.6.0", "iso8583sim"]
PAN: Final = "9410001234567897"
CITY: Final = "gimpo"
#: Each authorization holds this much; each connection's card is topped up with enough.
AMOUNT: Final = 100
TOP_UP: Final = 200_000


class Instant:
    """A card service that approves at once: what is left is the host's own cost."""

    def answer(self, request: CardRequest) -> CardAnswer:
        return CardAnswer("00", "000001", 1_000_000)


# -- the hosts, each in its own process ------------------------------------------------------------


async def _serve(kind: str, url: str) -> None:
    """Serves `kind` until the parent closes our stdin; first prints a JSON line: the
    port, and the card and terminal of each connection."""
    cards = [PAN] * CONNECTIONS
    terminals = [f"T{n:07d}" for n in range(CONNECTIONS)]
    container = None
    if kind == "ledger":
        container, cards = _seeded(url, terminals)
        host: EchoHost | CardHost = CardHost(container.cards, workers=WORKERS)
    else:
        host = EchoHost() if kind == "echo" else CardHost(Instant())
    port = await host.start("127.0.0.1", 0)
    print(json.dumps({"port": port, "cards": cards, "terminals": terminals}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await host.stop()
    if container is not None:
        container.close()


def _seeded(url: str, terminals: list[str]) -> tuple[Container, list[str]]:
    """A seeded SQLite city (testing/servers.seed), a card-only wallet with a card and
    TOP_UP won per connection, each connection's terminal registered to a demo shop."""
    folder = Path(url.removeprefix("sqlite:///")).parent
    seed(url, folder / "keys")
    container = Container(url, str(folder / "keys"), hasher=FAST_HASHER)
    container.start()
    maker = Principal(id="p-bench-maker", city=CITY, role="city_maker", username="maker")
    cards = []
    for n, tid in enumerate(terminals):
        container.cards.add_terminal(maker, CITY, tid, f"m-{n % 3:05d}")
        issued = container.cards.issue(maker, CITY, f"bench-card-{n}")
        wallet = issued.view.wallet
        container.cards.top_up(maker, CITY, wallet, "general", TOP_UP, f"bench-top-up-{n}")
        cards.append(issued.number)
    return container, cards


class Child:
    def __init__(self, kind: str, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        setup = json.loads(self.process.stdout.readline())
        self.port: int = setup["port"]
        self.cards: list[str] = setup["cards"]
        self.terminals: list[str] = setup["terminals"]

    def cpu_s(self) -> float:
        """The child's CPU time so far (Linux /proc), user + system."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


# -- the load ----------------------------------------------------------------------------------


async def _terminal(
    port: int, card: str, tid: str, n: int, first_stan: int, latencies: list[float]
) -> int:
    link = await terminal.Terminal().connect("127.0.0.1", port)
    approved = 0
    try:
        for i in range(n):
            stan = first_stan + i
            fields = terminal.purchase(
                stan % 1_000_000, pan=card, amount=AMOUNT, terminal=tid, acceptor="M" * 15,
                rrn=f"{stan:012d}",
            )  # fmt: skip
            started = time.perf_counter()
            answer = await link.request(fields)
            latencies.append(time.perf_counter() - started)
            approved += answer.get("39") == "00"
    finally:
        await link.close()
    return approved


async def _load(child: Child) -> dict[str, Any]:
    latencies: list[float] = []
    each = REQUESTS // CONNECTIONS
    started = time.perf_counter()
    approved = await asyncio.gather(
        *(
            _terminal(child.port, child.cards[c], child.terminals[c], each, 1 + c * each, latencies)
            for c in range(CONNECTIONS)
        )
    )
    wall = time.perf_counter() - started
    return {
        "per_s": round(len(latencies) / wall),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "approved": sum(approved),
        "requests": len(latencies),
    }


def _sim_load(port: int) -> dict[str, Any]:
    """iso8583sim's load mode, same connections, one request in flight on each."""
    if shutil.which("uvx") is None:
        return {"sim_skipped": "uvx not installed"}
    done = subprocess.run(
        [
            *SIM, "load", "--port", str(port), "--format", "ascii-hex", "--header", "2b",
            "-n", str(REQUESTS), "-c", str(CONNECTIONS), "--connections", str(CONNECTIONS),
        ],
        capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip

    def row(label: str) -> str:
        found = re.search(rf"{label}\s*│\s*([^│]+?)\s*│", done.stdout)
        return found.group(1) if found else "?"

    return {
        "sim_per_s": round(float(row("Throughput").split()[0].replace(",", ""))),
        "sim_p50_ms": float(row("Latency p50").split()[0]),
        "sim_p99_ms": float(row("Latency p99").split()[0]),
        "sim_codes": row("Response codes"),
        "sim_exit": done.returncode,
    }


def _one_host(kind: str, url: str = "") -> dict[str, Any]:
    child = Child(kind, url)
    try:
        before = child.cpu_s()
        ours = asyncio.run(_load(child))
        ours["host_cpu_us_per_request"] = round((child.cpu_s() - before) / REQUESTS * 1e6)
        ours.update(_sim_load(child.port))
    finally:
        child.close()
    return {f"card_{kind}_{k}": v for k, v in ours.items()}


def measure() -> dict[str, Any]:
    if not (os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"  # throwaway, like the city's keys
    result: dict[str, Any] = {"card_connections": CONNECTIONS, "card_requests": REQUESTS}
    for kind in ("echo", "null"):
        result.update(_one_host(kind))
    with tempfile.TemporaryDirectory(prefix="localpay-card-bench-") as folder:
        result.update(_one_host("ledger", f"sqlite:///{folder}/card.db"))
    for kind in ("null", "ledger"):
        result[f"card_{kind}_over_echo"] = round(
            result[f"card_{kind}_per_s"] / result["card_echo_per_s"], 3
        )
    return result


#: What `make bench` shows (bench/run.py), in this order.
SHOWN: Final = (
    "card_connections",
    "card_echo_per_s",
    "card_echo_p50_ms",
    "card_echo_p99_ms",
    "card_echo_sim_per_s",
    "card_echo_sim_p99_ms",
    "card_null_per_s",
    "card_null_p50_ms",
    "card_null_p99_ms",
    "card_null_host_cpu_us_per_request",
    "card_null_sim_per_s",
    "card_null_sim_p99_ms",
    "card_null_sim_codes",
    "card_null_over_echo",
    "card_ledger_per_s",
    "card_ledger_p50_ms",
    "card_ledger_p99_ms",
    "card_ledger_approved",
    "card_ledger_host_cpu_us_per_request",
    "card_ledger_sim_per_s",
    "card_ledger_sim_p99_ms",
    "card_ledger_sim_codes",
    "card_ledger_over_echo",
)


def report(result: dict[str, Any]) -> None:
    print("\n== card authorizations over TCP (ISO 8583)")
    for key in SHOWN:
        print(f"  {key:>36}  {result.get(key, '-')}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        telemetry.configure_logging("error")  # a line per request (or per 30) would be the cost
        asyncio.run(_serve(sys.argv[2], sys.argv[3]))
    else:
        found = measure()
        report(found)
        print(json.dumps(found))
