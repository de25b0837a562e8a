"""The HTTP benchmark runs end to end on a real server (shape only: no timing asserted)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from localpay.sim.http_bench import (
    LoadGenerator,
    free_port,
    payment_request,
    read_response,
    run_http_bench,
    run_loop,
)


@pytest.mark.slow
def test_the_http_benchmark_sends_payments_to_a_real_server(tmp_path: Path) -> None:
    result = run_http_bench(
        f"sqlite:///{tmp_path}/x.db", tmp_path / "keys", "sqlite", payments=300, connections=8
    )
    assert result["errors"] == 0, result
    assert result["payments"] == result["ok"] == 300
    assert result["statuses"] == {"201": 300}
    assert result["store"] == "sqlite" and result["connections"] == 8
    assert result["http_payments_per_s"] > 0
    assert 0 < result["http_p50_ms"] <= result["http_p99_ms"]
    # server CPU per payment answered (Linux /proc): what bounds the rate on one interpreter
    assert result["http_server_cpu_us_per_payment"] > 0


@pytest.mark.slow
def test_the_cli_prints_one_json_object(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "localpay.entrypoints.cli",
            "--db",
            f"sqlite:///{tmp_path}/x.db",
            "bench",
            "--http",
            "--json",
            "--payments",
            "200",
            "--connections",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"http_payments_per_s", "http_p50_ms", "http_p99_ms", "errors"} <= result.keys()
    assert result["errors"] == 0 and result["payments"] == 200


def test_a_dead_server_is_counted_as_errors_not_a_hang(tmp_path: Path) -> None:
    requests = [payment_request("nowhere", b"{}") for _ in range(20)]
    generator = LoadGenerator("127.0.0.1", free_port(), requests, 4, limit_s=10)
    run_loop(generator.run())
    assert generator.errors == 20 and generator.ok == 0 and generator.sent == 20


def test_responses_are_framed_by_content_length() -> None:
    async def parse(raw: bytes) -> tuple[int, bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_response(reader)

    answer = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx: y\r\n\r\n{}"
    assert asyncio.run(parse(answer + b"HTTP/1.1 ...")) == (201, b"{}", True)
    closing = b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert asyncio.run(parse(closing)) == (503, b"", False)
