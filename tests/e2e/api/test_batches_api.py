"""Policy money over real HTTP on both stores: eligibility data as text/csv (a bad file
is a problem and keeps nothing), a batch upload judged line by line, the same
Idempotency-Key giving the same batch, submission by the maker, refusal of the maker's
own approval, the checker's approval and the rows paid; another city's batch is a 404."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.servers import live_container, seeded_store

pytestmark = pytest.mark.slow
CITY = "gimpo"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("batches-api")
    url = seeded_store(request, root)
    with live_container(url, root / "keys") as (found, container, _):
        from localpay.domain import commands as c  # noqa: PLC0415
        from localpay.services.cities.ledgers import new_id  # noqa: PLC0415
        from localpay.testing.browser import Site  # noqa: PLC0415
        from localpay.testing.journeys import as_officials  # noqa: PLC0415

        mint = c.Mint(id=new_id(), city=CITY, program="rewards", amount=500_000, won_ref="api")
        as_officials(Site(found, container, root / "keys"), CITY, mint)
        yield found


def login(base: str, username: str, city: str = CITY) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    r = client.post(
        "/v1/auth/login", json={"city": city, "username": username, "password": DEMO_PASSWORD}
    )
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client


def post_csv(client: httpx.Client, path: str, text: str, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key or str(uuid.uuid4()), "Content-Type": "text/csv"}
    return client.post(path, content=text.encode(), headers=headers)


def post(client: httpx.Client, path: str, body: Any = None) -> httpx.Response:
    return client.post(path, json=body or {}, headers={"Idempotency-Key": str(uuid.uuid4())})


def test_eligibility_data_is_loaded_whole_or_refused(base: str) -> None:
    maker = login(base, "maker")
    path = f"/v1/cities/{CITY}/programs/youth/eligibility?on=2026-12-01"
    bad = post_csv(maker, path, "citizen,birth,residence,employment\nw-0000001,2002-02-30,,\n")
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "line 2" in bad.json()["detail"]
    good = post_csv(
        maker, path, "citizen,birth,residence,employment\nw-0000001,2002-12-01,2010-01-01/,\n"
    )
    assert good.status_code == 200, good.text
    assert good.json() == {"loaded": 1, "eligible": 1, "ineligible": 0}
    json_body = maker.post(path, json={}, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert json_body.status_code == 415


def test_upload_submit_approve_and_rows_paid(base: str) -> None:
    maker, checker = login(base, "maker"), login(base, "checker")
    stamp = time.time_ns()
    text = (
        "citizen,amount,program,reference\n"
        f"w-0000005,40000,rewards,api-{stamp}-1\n"
        f"w-0000006,30000,rewards,api-{stamp}-2\n"
        f"w-0000006,30000,rewards,api-{stamp}-2\n"
        "w-0000007,abc,rewards,x\n"
    )
    key = str(uuid.uuid4())
    made = post_csv(maker, f"/v1/cities/{CITY}/batches?name=api.csv", text, key)
    assert made.status_code == 201, made.text
    batch = made.json()
    assert (batch["rows"], batch["total"], batch["lines"]) == (2, 70_000, 4)
    assert batch["verdicts"] == {"ok": 2, "duplicate": 1, "malformed": 1}
    assert post_csv(maker, f"/v1/cities/{CITY}/batches", text, key).json()["id"] == batch["id"]
    lines = maker.get(f"/v1/cities/{CITY}/batches/{batch['id']}/lines", params={"bad": True})
    assert [x["verdict"] for x in lines.json()] == ["duplicate", "malformed"]
    submitted = post(maker, f"/v1/cities/{CITY}/batches/{batch['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    proposal = submitted.json()["proposal"]
    own = post(maker, f"/v1/cities/{CITY}/proposals/{proposal}/approvals")
    assert own.status_code in (403, 422), own.text
    approved = post(checker, f"/v1/cities/{CITY}/proposals/{proposal}/approvals")
    assert approved.status_code == 201, approved.text
    deadline = time.monotonic() + 30
    progress: dict[str, Any] = {}
    while time.monotonic() < deadline:
        progress = maker.get(f"/v1/cities/{CITY}/batches/{batch['id']}/progress").json()
        if progress["status"] == "done":
            break
        time.sleep(0.2)
    assert (progress["status"], progress["paid"], progress["to_go"]) == ("done", 2, 0)


def test_another_citys_officials_see_a_404(base: str) -> None:
    maker = login(base, "maker")
    made = post_csv(
        maker,
        f"/v1/cities/{CITY}/batches",
        "citizen,amount,program,reference\nw-0000001,1,rewards,z\n",
    )
    other = login(base, "maker", city="yangju")
    answer = other.get(f"/v1/cities/{CITY}/batches/{made.json()['id']}")
    assert answer.status_code in (403, 404)
    unknown = maker.get(f"/v1/cities/{CITY}/batches/b-0000000000000000")
    assert unknown.status_code == 404
