"""`localpay bench --http`: signed payments over real HTTP on loopback.

Sets up a funded bench city in the store (in process, then closes it so that the
server can take the city's lease), pre-signs the payments, starts `localpay serve`
as a separate process on a free loopback port and drives it with a bounded,
self-stopping closed-loop load generator: `connections` keep-alive HTTP/1.1
connections, each with one payment in flight, until every payment was sent or the
time limit passed. Latency is request written to response read.

The generator shares the machine's cores with the server, so it must be cheap: it
frames HTTP/1.1 by hand on asyncio streams (the server always answers with a
Content-Length body), pre-builds every request before the clock starts and runs on
uvloop when it is installed. Measured on the 2-core machine (20,000 payments, 64
connections, SQLite): 0.7 s of client CPU for the whole run (0.9 s on the default
asyncio loop), against 60 s with httpx.AsyncClient, which left the server a
starved share of the machine (310 payments/s instead of ~1,600).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import IO, Any, Final

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.ledger.ports import Store
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.sim.bench import BENCH_MERCHANTS, BENCH_WALLETS, BenchCity, percentile

STARTUP_TIMEOUT_S: Final = 90.0
STOP_TIMEOUT_S: Final = 15.0
#: After the time limit no request is started; those in flight get this long to finish.
DRAIN_S: Final = 30.0
#: The server's per-address rate limit would otherwise throttle a loopback load test.
UNLIMITED_IP_RATE: Final = 1_000_000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on the loopback interface right now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def open_store_url(url: str) -> Store:
    """The store of a URL (bootstrap's rule; services may not import the composition root)."""
    if url.startswith("sqlite:///"):
        from localpay.adapters.sql.sqlite import SQLiteStore  # noqa: PLC0415

        return SQLiteStore(url.removeprefix("sqlite:///"))
    from localpay.adapters.sql.postgres import PostgresStore  # noqa: PLC0415

    return PostgresStore(url)


# -- the load generator -------------------------------------------------------------------


def payment_request(city: str, body: bytes, idempotency_key: str | None = None) -> bytes:
    """One HTTP/1.1 POST /v1/cities/{city}/payments, keep-alive, with a fresh key."""
    return (
        f"POST /v1/cities/{city}/payments HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Idempotency-Key: {idempotency_key or new_id()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 with a Content-Length body."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one response; Content-Length framing only."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    length, keep_alive = 0, parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
        elif name == b"transfer-encoding":
            raise ProtocolError("chunked responses are not supported")
    body = await reader.readexactly(length) if length else b""
    return status, body, keep_alive


class LoadGenerator:
    """A closed loop over `connections` keep-alive connections; bounded in count and time.

    Each connection takes the next prepared request, writes it, reads the whole
    response, records its latency and takes the next. No request starts after the
    time limit; one still in flight DRAIN_S later is cancelled and counted an error.
    A connection that fails counts its request as an error and reconnects.
    """

    def __init__(
        self,
        host: str,
        port: int,
        requests: list[bytes],
        connections: int,
        limit_s: float,
    ) -> None:
        self.host, self.port = host, port
        self.requests: Iterator[bytes] = iter(requests)
        self.connections = max(1, min(connections, len(requests)))
        self.limit_s = limit_s
        self.latencies: list[float] = []
        self.ok = 0
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.sent = 0

    async def _client(self, deadline: float) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        busy = False
        try:
            for request in self.requests:
                if time.monotonic() > deadline:
                    return
                self.sent += 1
                busy = True
                try:
                    if reader is None or writer is None:
                        reader, writer = await asyncio.open_connection(self.host, self.port)
                    sent = time.perf_counter()
                    writer.write(request)
                    status, _, keep_alive = await read_response(reader)
                except (OSError, ValueError, EOFError, ProtocolError, asyncio.LimitOverrunError):
                    # Refused, reset, closed mid-answer or garbled: an error; reconnect.
                    busy = False
                    self.errors += 1
                    _close(writer)
                    reader = writer = None
                    await asyncio.sleep(0.01)  # a dead server must not become a busy loop
                    continue
                busy = False
                self.latencies.append(time.perf_counter() - sent)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    self.ok += 1
                else:
                    self.errors += 1
                if not keep_alive:
                    _close(writer)
                    reader = writer = None
        except asyncio.CancelledError:
            self.errors += busy  # cut off at the time limit: no answer in time
            raise
        finally:
            _close(writer)

    async def run(self) -> float:
        """Run to the end; the wall-clock seconds it took."""
        deadline = time.monotonic() + self.limit_s
        begin = time.perf_counter()
        tasks = [asyncio.create_task(self._client(deadline)) for _ in range(self.connections)]
        _, pending = await asyncio.wait(tasks, timeout=self.limit_s + DRAIN_S)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return time.perf_counter() - begin


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


def run_loop(main: Coroutine[Any, Any, float]) -> float:
    """Run a coroutine on uvloop when installed (uvicorn[standard] brings it), else asyncio."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


# -- the server process -------------------------------------------------------------------


class Server:
    """`localpay serve` in a child process on a loopback port; stop() always reaps it."""

    def __init__(self, url: str, keys_dir: Path, port: int | None = None) -> None:
        self.url, self.keys_dir = url, keys_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> Server:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localpay.entrypoints.cli",
                "--keys",
                str(self.keys_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--ip-rate",
                str(UNLIMITED_IP_RATE),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            # The URL may hold a password: the environment, not the argument list.
            env={**os.environ, "LOCALPAY_DB": self.url},
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited during start-up ({self.process.returncode}):"
                    f" {self.log_tail()}"
                )
            if ready(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready in {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        if self._log is None or self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-chars:]

    def cpu_seconds(self) -> float | None:
        """User + system CPU the server process has used so far (Linux), else None."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL: the crash tests' power cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ready(port: int, host: str = "127.0.0.1") -> bool:
    """GET /readyz answers 200 (straight to loopback: never through a proxy)."""
    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# -- the benchmark --------------------------------------------------------------------------


def prepare_city(url: str, keys_dir: Path, payments: int) -> tuple[str, list[bytes]]:
    """A new funded bench city in the store and `payments` signed payments for it."""
    city = f"bench-{new_id()[:6]}"
    store = open_store_url(url)
    try:
        ledgers = Ledgers(store, KeyStore(keys_dir), now_ms)
        try:
            bench = BenchCity(ledgers, city)
            bench.set_up(BENCH_WALLETS, BENCH_MERCHANTS)
            signed = bench.payments(payments)
        finally:
            ledgers.close()  # releases the city's lease: the server takes it
    finally:
        store.close()
    return city, signed


def run_http_bench(
    url: str,
    keys_dir: str | os.PathLike[str],
    store_kind: str,
    payments: int = 20_000,
    connections: int = 64,
    duration_limit_s: float = 120.0,
) -> dict[str, Any]:
    """Payments over HTTP to `localpay serve` on loopback; one dict of figures."""
    keys = Path(keys_dir)
    city, signed = prepare_city(url, keys, payments)
    requests = [payment_request(city, body) for body in signed]
    with Server(url, keys) as server:
        generator = LoadGenerator("127.0.0.1", server.port, requests, connections, duration_limit_s)
        server_cpu = server.cpu_seconds()
        client_cpu = time.process_time()
        elapsed = run_loop(generator.run())
        client_cpu = time.process_time() - client_cpu
        server_after = server.cpu_seconds()
    latencies = generator.latencies or [0.0]
    return {
        "store": store_kind,
        "city": city,
        "payments": generator.sent,
        "ok": generator.ok,
        "connections": generator.connections,
        "http_payments_per_s": round(generator.ok / elapsed, 1),
        "http_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "http_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "errors": generator.errors,
        "statuses": {str(k): v for k, v in sorted(generator.statuses.items())},
        "seconds": round(elapsed, 2),
        "client_cpu_s": round(client_cpu, 2),
        "server_cpu_s": _spent(server_cpu, server_after),
        # CPU the server spent per payment answered (all its threads): on one interpreter,
        # its inverse bounds the rate however many cores the machine has.
        "http_server_cpu_us_per_payment": (
            round(spent * 1e6 / generator.ok)
            if (spent := _spent(server_cpu, server_after)) is not None and generator.ok
            else None
        ),
    }


def _spent(before: float | None, after: float | None) -> float | None:
    return round(after - before, 2) if before is not None and after is not None else None
