"""Issue 12's routes that no token authorizes (test_access_matrix.py names this file):

- sales orders, cancellations and refunds are signed by the wallet: a session of any role,
  the wallet's own included, never stands in for the wallet's signature;
- an applicant follows an application by its status token, which opens that one
  application of its own city only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.testing.bank import SALE, order, post, sale_site
from localpay.testing.servers import World, problem_code, seeded_store

CITY = "gimpo"
APPLICATION = {
    "brn": "124-81-00998",
    "name": "구래동 토큰 베이커리",
    "name_en": "Gurae-dong Token Bakery",
    "industry": "56191",
    "area": "gurae-dong",
    "annual_revenue": 150_000_000,
    "bank": "088",
    "account_number": "110-123-456789",
    "account_holder": "김하나",
    "owner_username": "token-owner",
    "owner_password": "owner-password-2026",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("issue12")
    url = seeded_store(request, folder)
    with sale_site(url, folder / "keys", folder) as site:  # orders need a bank
        found = World(site.base, site.keys)
        found.sign_in_everyone()
        yield found


_ids = iter(range(10**9))


def _id() -> str:
    return f"{next(_ids):032x}"


def _signed_by_a_stranger(route: str) -> bytes:
    stranger = nacl.signing.SigningKey.generate()
    command: Any
    if route == "orders":
        command = c.OrderPurchase(
            id=_id(), city=CITY, wallet="w-0000001", program=SALE, amount=10_000
        )
    elif route == "cancellations":
        command = c.CancelPurchase(id=_id(), city=CITY, wallet="w-0000001", purchase=_id())
    else:
        command = c.RefundBalance(id=_id(), city=CITY, wallet="w-0000001", purchase=_id())
    return sign_command(command, [stranger])


@pytest.mark.parametrize("route", ["orders", "cancellations", "refunds"])
def test_a_token_never_replaces_the_wallets_signature(world: World, route: str) -> None:
    for role, token in world.tokens[CITY].items():
        with world.client(token) as client:
            r = client.post(
                f"/v1/cities/{CITY}/sales/{route}",
                content=_signed_by_a_stranger(route),
                headers={"Idempotency-Key": f"issue12-{_id()}", "Content-Type": "application/json"},
            )
        assert r.status_code == 403 and problem_code(r) == "unknown_signer", (role, r.text)
    with world.client(world.tokens[CITY]["citizen"]) as client:
        bought = client.get(f"/v1/cities/{CITY}/wallets/w-0000001/purchases").json()["items"]
    assert bought == []  # nothing was booked for the wallet


def test_the_wallets_own_signature_is_enough_without_a_session(world: World) -> None:
    """The other side: these routes authenticate the signature, so no token is needed."""
    answer = post(
        world.base, f"/v1/cities/{CITY}/sales/orders", order(world.keys, "w-0000002", 1000)
    )
    assert answer.status_code == 201, answer.text


def test_a_status_token_opens_its_own_citys_application_only(world: World) -> None:
    with world.client() as public:
        sent = public.post(
            f"/v1/cities/{CITY}/merchant-applications",
            json=APPLICATION,
            headers={"Idempotency-Key": "issue12-application"},
        )
        assert sent.status_code == 201, sent.text
        token = sent.json()["token"]
        mine = public.get(f"/v1/cities/{CITY}/merchant-applications/status/{token}")
        assert mine.status_code == 200 and mine.json()["status"] == "pending"
        assert mine.json()["brn"] is None  # the applicant's view: no BRN echoed
        elsewhere = public.get(f"/v1/cities/yangju/merchant-applications/status/{token}")
        assert elsewhere.status_code == 404 and problem_code(elsewhere) == "not_found"
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        wrong = public.get(f"/v1/cities/{CITY}/merchant-applications/status/{forged}")
        assert wrong.status_code == 404
        assert "구래동" not in wrong.text and "구래동" not in elsewhere.text
