"""The witness's health server (entrypoints/witness/health.py) over a real socket.

Monitoring reads it: /healthz must turn 503 with the reason the moment the witness
raises an alarm, and a port it cannot bind must fail the start, not a thread.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import nacl.signing
import pytest

from localpay.bootstrap import new_witness, open_store
from localpay.entrypoints.witness.health import serve_health
from localpay.services.witness.alarms import Alarm
from localpay.services.witness.service import Witness
from localpay.services.witness.settings import WitnessSettings


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[Witness]:
    store = open_store(f"sqlite:///{tmp_path}/witness.db")
    key = nacl.signing.SigningKey.generate()
    # Never run: the server at `follow` is not asked for anything here.
    made = new_witness(store, key, WitnessSettings(city="gimpo", follow="http://127.0.0.1:9"))
    yield made
    made.close()
    store.close()


def test_healthz_turns_503_with_the_reason_once_the_witness_alarms(witness: Witness) -> None:
    health = serve_health(witness, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{health.port}"
    try:
        ok = httpx.get(f"{base}/healthz", timeout=5)
        assert ok.status_code == 200 and ok.json()["status"] == "ok"
        assert ok.json()["witness_key"] == witness.public
        witness.raise_alarm(Alarm("gap", "expected block 4, got 6", 4))
        bad = httpx.get(f"{base}/healthz?probe=1", timeout=5)
        assert bad.status_code == 503
        body = bad.json()
        assert (body["status"], body["reason"], body["height"]) == ("alarm", "gap", 4)
        metrics = httpx.get(f"{base}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert 'localpay_witness_alarm{reason="gap"} 1.0' in metrics.text
    finally:
        health.shutdown()
    assert not health.thread.is_alive()


def test_checkpoint_and_unknown_paths_answer_json_404(witness: Witness) -> None:
    health = serve_health(witness, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{health.port}"
    try:
        none_yet = httpx.get(f"{base}/checkpoint", timeout=5)
        assert none_yet.status_code == 404
        assert none_yet.json() == {"status": "nothing co-signed yet"}
        missing = httpx.get(f"{base}/nowhere", timeout=5)
        assert missing.status_code == 404 and missing.json() == {"status": "not found"}
    finally:
        health.shutdown()


def test_a_port_in_use_fails_the_start_with_an_os_error(witness: Witness) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            serve_health(witness, "127.0.0.1", taken.getsockname()[1])
