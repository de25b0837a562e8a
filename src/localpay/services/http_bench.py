"""`localpay bench --http`: signed payments over real HTTP on loopback.

Sets up a funded bench city in the store, starts `localpay serve` as a separate
process on a free loopback port, and drives it with a bounded, self-stopping
closed-loop load generator: `connections` keep-alive HTTP/1.1 connections, each
with one payment in flight. The generator frames requests by hand on asyncio
streams: it shares the machine's two cores with the server, so it must be cheap.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from localpay.adapters.keystore import KeyStore
from localpay.services.bench import BenchCity, percentile
from localpay.services.ledgers import Ledgers, new_id

STARTUP_TIMEOUT_S: Final = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(city: str, body: bytes) -> bytes:
    return (
        f"POST /v1/cities/{city}/payments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nIdempotency-Key: {new_id()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


class LoadGenerator:
    def __init__(
        self, port: int, city: str, bodies: list[bytes], connections: int, limit_s: float
    ) -> None:
        self.port, self.city, self.connections, self.limit_s = port, city, connections, limit_s
        self.items: Iterator[bytes] = iter(bodies)
        self.latencies: list[float] = []
        self.errors = 0

    async def _client(self, deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for body in self.items:
                if time.monotonic() > deadline:
                    return
                sent = time.perf_counter()
                writer.write(_request(self.city, body))
                status = await _read_response(reader)
                self.latencies.append(time.perf_counter() - sent)
                self.errors += not 200 <= status < 300
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.errors += 1
        finally:
            writer.close()

    async def run(self) -> float:
        deadline = time.monotonic() + self.limit_s
        begin = time.perf_counter()
        await asyncio.gather(*(self._client(deadline) for _ in range(self.connections)))
        return time.perf_counter() - begin


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run_http_bench(
    url: str,
    store: Any,
    keys_dir: Path,
    store_kind: str,
    payments: int = 20_000,
    connections: int = 64,
    limit_s: float = 120.0,
) -> dict[str, Any]:
    city = f"bench-{new_id()[:6]}"
    ledgers = Ledgers(store, KeyStore(keys_dir), lambda: time.time_ns() // 1_000_000)
    bench = BenchCity(ledgers, city)
    bench.set_up(wallets=2000, merchants=200)
    bodies = bench.payments(payments)
    ledgers.close()  # the server process takes the city's lease
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localpay.cli",
            "--db",
            url,
            "--keys",
            str(keys_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--ip-rate",
            "1000000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        _wait_ready(port, server)
        generator = LoadGenerator(port, city, bodies, connections, limit_s)
        elapsed = asyncio.run(generator.run())
    finally:
        _stop(server)
    done = len(generator.latencies)
    return {
        "store": store_kind,
        "city": city,
        "payments": done,
        "connections": connections,
        "http_payments_per_s": round(done / elapsed, 1),
        "http_p50_ms": round(percentile(generator.latencies, 0.50) * 1000, 2),
        "http_p99_ms": round(percentile(generator.latencies, 0.99) * 1000, 2),
        "errors": generator.errors,
    }
