"""The waiting room over HTTP on a real socket, and its CLI: join (the same key, the same
ticket), status by header, the live SSE stream, officials' schedule and pause, problems
for bad input and for tenants that are not the caller's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localpay.testing.servers import World, live_container, seed

CITY, PROGRAM = "gimpo", "general"
BASE = f"/v1/cities/{CITY}/waiting/{PROGRAM}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    root = tmp_path_factory.mktemp("waiting")
    url, keys = f"sqlite:///{root / 'w.db'}", root / "keys"
    seed(url, keys)
    with live_container(url, keys) as (base, _, _):
        yield World(base, keys), url


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def key(n: int) -> dict[str, str]:
    return {"Idempotency-Key": f"waiting-test-key-{n:06d}"}


def test_officials_schedule_people_join_and_wait(world: tuple[World, str]) -> None:
    w, _ = world
    maker = w.login(CITY, "maker")
    with w.client(w.citizen(CITY, "w-0000001")) as citizen:
        r = citizen.put(BASE, json={"opens_at": "2030-01-01T09:00:00+09:00"})
        assert r.status_code in (403, 404), r.text  # a citizen schedules nothing
    with w.client(w.login("yangju", "maker")) as other_city:
        r = other_city.put(BASE, json={"opens_at": "2030-01-01T09:00:00+09:00"})
        assert r.status_code == 404  # another city's official: no such thing here
    with w.client(maker) as c:
        bad = c.put(BASE, json={"opens_at": "2030-01-01T09:00:00+09:00", "rate": 0})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert c.get(BASE).status_code == 404  # the refused schedule changed nothing
        r = c.put(BASE, json={"opens_at": "2030-01-01T09:00:00+09:00", "rate": 20})
        assert r.status_code == 200, r.text
        assert r.json()["rate"] == 20 and r.json()["waiting"] == 0
    with w.client() as anyone:
        first = anyone.post(BASE + "/tickets", headers=key(1))
        assert first.status_code == 201, first.text
        again = anyone.post(BASE + "/tickets", headers=key(1))
        assert again.json()["ticket"] == first.json()["ticket"]
        second = anyone.post(BASE + "/tickets", headers=key(2)).json()
        assert (first.json()["position"], second["position"]) == (1, 2)
        status = anyone.get(BASE + "/status", headers={"X-Queue-Ticket": second["ticket"]})
        assert status.json()["ahead"] == 1 and status.json()["state"] == "waiting"
        nobody = anyone.get(BASE + "/status", headers={"X-Queue-Ticket": "x" * 43})
        assert nobody.status_code == 404
        theirs = anyone.get(
            f"/v1/cities/yangju/waiting/{PROGRAM}/status",
            headers={"X-Queue-Ticket": second["ticket"]},
        )
        assert theirs.status_code == 404
        assert anyone.get(BASE).json()["waiting"] == 2
    with w.client(maker) as c:
        assert c.post(BASE + "/pause", headers=key(3)).json()["paused"] is True
    with w.client() as anyone:
        status = anyone.get(BASE + "/status", headers={"X-Queue-Ticket": second["ticket"]})
        assert status.json()["paused"] and status.json()["estimate_s"] is None


def test_live_stream_says_the_status(world: tuple[World, str]) -> None:
    w, _ = world
    with w.client(w.login(CITY, "maker")) as c:
        c.put(BASE, json={"opens_at": "2020-01-01T09:00:00+09:00", "rate": 50})
        c.post(BASE + "/resume", headers=key(4))
    with w.client() as anyone:
        ticket = anyone.post(BASE + "/tickets", headers=key(5)).json()["ticket"]
        headers = {"X-Queue-Ticket": ticket}
        said = []
        with anyone.stream("GET", BASE + "/events", headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    said.append(json.loads(line.removeprefix("data: ")))
                    if said[-1]["state"] != "waiting" or len(said) > 5:
                        break
    # open since 2020, 50 a second: admitted at the next tick, told without asking again
    assert said[-1]["state"] == "admitted" and said[-1]["admitted_until_ms"]
    assert len(said) <= 2


def test_cli_opens_and_shows_the_line(world: tuple[World, str], tmp_path: Path) -> None:
    w, url = world
    cli = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", url, "--keys", str(w.keys)]
    line = ["sale", "open", "--city", "yangju", "--program", "general"]
    opened = run([*cli, *line, "--at", "2030-01-01T09:00", "--rate", "30", "--json"])
    assert opened.returncode == 0, opened.stderr
    shown = json.loads(opened.stdout)
    assert shown["rate"] == 30 and shown["opens_at"] == "2030-01-01T09:00:00+09:00"
    with httpx.Client(base_url=w.base) as anyone:
        r = anyone.post("/v1/cities/yangju/waiting/general/tickets", headers=key(6))
        assert r.status_code == 201, r.text  # the server reads the CLI's opening
    queue = run([*cli, "sale", "queue", "--city", "yangju", "--program", "general", "--json"])
    assert json.loads(queue.stdout)["waiting"] == 1
    bad = run([*cli, *line, "--at", "soon"])
    assert bad.returncode != 0 and "ISO 8601" in bad.stderr and bad.stdout == ""
