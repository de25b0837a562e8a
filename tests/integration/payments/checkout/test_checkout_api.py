"""Checkout over HTTP against a live server, on SQLite and on PostgreSQL: intents created
with merchants' API keys and checked field by field, the citizen's approval bound to the
intent's merchant, amount, intent and order (the service refuses a hold that differs, the
ledger a second hold of the same intent), capture in full and in part (the rest back in
the wallet), cancel before and after approval, refund in part then in full (the original
lots restored), expiry, and tenancy (another merchant's or city's intent is 404)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.services.cities.inspect import merchant_view, wallet_view
from localpay.services.cities.ledgers import new_id
from localpay.services.payments.checkout.expiry import ExpiryRunner
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import live_container, seeded_store

CITY = "gimpo"
SHOP = "m-00000"
OTHER_SHOP = "m-00001"
WALLET = "w-0000001"
RETURN = "https://mall.example/orders/return"


@dataclass
class Site:
    base: str
    container: Container
    keys: Path
    api_keys: dict[str, str]  # "gimpo/m-00000" -> key

    def merchant(self, shop: str = SHOP, city: str = CITY) -> httpx.Client:
        key = self.api_keys[f"{city}/{shop}"]
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def wallet_key(self, wallet: str = WALLET, city: str = CITY) -> nacl.signing.SigningKey:
        return derived_key(bytes(KeyStore(self.keys).load(city, DEMO_SECRET)), wallet)

    def balance(self, wallet: str = WALLET) -> int:
        return sum(wallet_view(self.container.store, CITY, wallet).by_program.values())

    def lots(self, wallet: str = WALLET) -> list[tuple[str, int, int]]:
        """(program, amount, expiry) of each lot, as the refunds must restore them."""
        state = self.container.ledgers.sequencer(CITY).state
        found = [(lot.program, lot.amount, lot.expires_ms) for lot in state.wallets[wallet].lots]
        return sorted(found)

    def shop_balance(self, shop: str = SHOP) -> int:
        return merchant_view(self.container.store, CITY, shop).balance


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("checkout")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys") as (base, container, _):
        identity = container.identity
        api_keys = {
            f"{city}/{shop}": identity.issue_api_key(city, shop, "mall")[1]
            for city, shop in ((CITY, SHOP), (CITY, OTHER_SHOP), ("yangju", SHOP))
        }
        yield Site(base, container, folder / "keys", api_keys)


def idem() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def create(site: Site, amount: int = 10_000, **fields: Any) -> dict[str, Any]:
    body = {"amount": amount, "order_id": f"ORD-{uuid.uuid4().hex[:8]}", "return_url": RETURN}
    body.update(fields)
    with site.merchant() as client:
        answer = client.post(f"/v1/cities/{CITY}/checkout/intents", json=body, headers=idem())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def hold_for(site: Site, made: dict[str, Any], changes: dict[str, Any] | None = None) -> bytes:
    """The hold the wallet signs to approve the intent `made` (fields changed by `changes`)."""
    fields: dict[str, Any] = {
        "id": new_id(),
        "city": CITY,
        "wallet": WALLET,
        "merchant": made["merchant"],
        "amount": made["amount"],
        "intent": made["id"],
        "order": made["order_id"],
    }
    fields.update(changes or {})
    return sign_command(c.Hold(**fields), [site.wallet_key(fields["wallet"])])


def approve(site: Site, intent: dict[str, Any], envelope: bytes | None = None) -> httpx.Response:
    body = envelope if envelope is not None else hold_for(site, intent)
    return httpx.post(
        f"{site.base}/v1/cities/{CITY}/checkout/intents/{intent['id']}/approval",
        content=body,
        headers={**idem(), "Content-Type": "application/json"},
        timeout=30,
    )


def act(site: Site, intent: str, action: str, body: dict[str, Any] | None = None,
        shop: str = SHOP, city: str = CITY) -> httpx.Response:  # fmt: skip
    with site.merchant(shop, city) as client:
        return client.post(
            f"/v1/cities/{city}/checkout/intents/{intent}/{action}", json=body or {}, headers=idem()
        )


def intent_now(site: Site, intent: str) -> dict[str, Any]:
    with site.merchant() as client:
        answer = client.get(f"/v1/cities/{CITY}/checkout/intents/{intent}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def code_of(answer: httpx.Response) -> Any:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    return answer.json()["code"]


# -- creating an intent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 10_000_000_001}, "amount"),
        ({"order_id": "ORD 1"}, "order_id"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "주문-1"}, "order_id"),
        ({"return_url": "http://mall.example/back"}, "return_url"),
        ({"return_url": "ftp://mall.example/back"}, "return_url"),
        ({"return_url": "https://user:pw@mall.example/back"}, "return_url"),
        ({"return_url": "https://mall.example/back#done"}, "return_url"),
        ({"return_url": "https://mall.example:99999/back"}, "return_url"),
        ({"return_url": "/orders/back"}, "return_url"),
        ({"expires_in": 59}, "expires_in"),
        ({"expires_in": 86_401}, "expires_in"),
        ({"description": "x" * 201}, "description"),
        ({"description": "line\nbreak"}, "description"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_recorded(
    site: Site, change: dict[str, Any], field: str
) -> None:
    body = {"amount": 5_000, "order_id": "ORD-BAD", "return_url": RETURN, **change}
    with site.merchant() as client:
        before = client.get(f"/v1/cities/{CITY}/checkout/intents?limit=100").json()["items"]
        answer = client.post(f"/v1/cities/{CITY}/checkout/intents", json=body, headers=idem())
        after = client.get(f"/v1/cities/{CITY}/checkout/intents?limit=100").json()["items"]
    assert answer.status_code == 422, answer.text
    assert code_of(answer) == "intent_invalid"
    assert answer.json()["field"] == field
    assert [i["id"] for i in after] == [i["id"] for i in before]


def test_amount_as_text_is_refused_by_the_schema(site: Site) -> None:
    body = {"amount": "5000", "order_id": "ORD-T", "return_url": RETURN}
    with site.merchant() as client:
        answer = client.post(f"/v1/cities/{CITY}/checkout/intents", json=body, headers=idem())
    assert answer.status_code == 422 and code_of(answer) == "validation_failed"


def test_create_gives_a_random_intent_with_its_link_and_the_same_one_when_repeated(
    site: Site,
) -> None:
    body = {
        "amount": 23_000,
        "order_id": "ORD-REPEAT",
        "return_url": "http://localhost:3000/back?cart=7",
        "description": "떡볶이 2인분",
    }
    headers = idem()
    with site.merchant() as client:
        first = client.post(f"/v1/cities/{CITY}/checkout/intents", json=body, headers=headers)
        again = client.post(f"/v1/cities/{CITY}/checkout/intents", json=body, headers=headers)
    assert first.status_code == 201, first.text
    made = first.json()
    assert again.json()["id"] == made["id"]
    assert len(made["id"]) == 32 and int(made["id"], 16) >= 0
    assert made["status"] == "requires_approval"
    assert made["amount"] == 23_000 and made["currency"] == "KRW"
    assert made["expires_ms"] - made["created_ms"] == 15 * 60 * 1000  # the default
    assert made["approval_url"].endswith(f"/c/{CITY}/wallet/checkout/{made['id']}")
    # The service itself finds the first intent for a repeated key (not only the middleware).
    checkout = site.container.checkout
    one = checkout.create(CITY, SHOP, "same-key", 1_000, "ORD-SVC", RETURN)
    two = checkout.create(CITY, SHOP, "same-key", 1_000, "ORD-SVC", RETURN)
    assert one.id == two.id


def test_only_merchants_create_intents(site: Site) -> None:
    body = {"amount": 1_000, "order_id": "ORD-ANON", "return_url": RETURN}
    anonymous = httpx.post(
        f"{site.base}/v1/cities/{CITY}/checkout/intents", json=body, headers=idem(), timeout=30
    )
    assert anonymous.status_code == 401
    unchecked = httpx.post(  # who asks is checked before what is asked
        f"{site.base}/v1/cities/{CITY}/checkout/intents", json={}, headers=idem(), timeout=30
    )
    assert unchecked.status_code == 401
    with site.merchant(SHOP, "yangju") as client:  # a merchant of another city
        answer = client.post(f"/v1/cities/{CITY}/checkout/intents", json=body, headers=idem())
    assert answer.status_code == 404


# -- the approval binds the intent ---------------------------------------------------------------


def test_a_hold_that_differs_from_the_intent_is_refused_and_moves_nothing(site: Site) -> None:
    intent = create(site, 12_000)
    before = site.balance()
    for change, field in (
        ({"amount": 11_000}, "amount"),
        ({"order": "ORD-OTHER"}, "order"),
        ({"merchant": OTHER_SHOP}, "merchant"),
        ({"intent": "0" * 32}, "intent"),
        ({"capture": True}, "capture"),
    ):
        answer = approve(site, intent, hold_for(site, intent, change))
        assert answer.status_code == 422, answer.text
        assert code_of(answer) == "hold_mismatch", change
        assert field in answer.json()["detail"] or field == "capture"
    assert site.balance() == before
    assert intent_now(site, intent["id"])["status"] == "requires_approval"


def test_approval_holds_the_money_and_a_second_hold_is_refused_by_the_ledger(site: Site) -> None:
    intent = create(site, 15_000)
    before = site.balance()
    answer = approve(site, intent)
    assert answer.status_code == 201, answer.text
    approved = answer.json()
    assert approved["status"] == "approved"
    assert approved["redirect"] == f"{RETURN}?intent={intent['id']}&status=approved"
    assert site.balance() == before - 15_000
    now = intent_now(site, intent["id"])
    assert now["status"] == "approved" and now["held"] == 15_000
    assert now["payment"] == approved["id"]
    second = approve(site, intent)  # another hold, another id, of the same intent
    assert second.status_code == 409, second.text
    assert code_of(second) == "intent_used"
    assert second.json()["receipt"]["seq"] is not None  # recorded on the chain
    assert site.balance() == before - 15_000


def test_capture_in_full_pays_the_merchant(site: Site) -> None:
    intent = create(site, 9_000)
    assert approve(site, intent).status_code == 201
    shop = site.shop_balance()
    answer = act(site, intent["id"], "capture")
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["status"] == "captured" and done["captured"] == 9_000 and done["held"] == 0
    assert done["command"]["code"] == "ok"
    assert site.shop_balance() == shop + 9_000
    again = act(site, intent["id"], "capture")  # a new request: the hold is closed
    assert again.status_code == 409 and code_of(again) == "hold_closed"
    assert site.shop_balance() == shop + 9_000


def test_partial_capture_gives_the_rest_back_at_once(site: Site) -> None:
    intent = create(site, 30_000)
    before = site.balance()
    assert approve(site, intent).status_code == 201
    over = act(site, intent["id"], "capture", {"amount": 30_001})
    assert over.status_code == 422 and code_of(over) == "capture_exceeds_hold"
    answer = act(site, intent["id"], "capture", {"amount": 21_000})  # an item out of stock
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["status"] == "partially_captured" and done["captured"] == 21_000
    assert site.balance() == before - 21_000


def test_capture_before_approval_is_refused(site: Site) -> None:
    intent = create(site, 4_000)
    answer = act(site, intent["id"], "capture")
    assert answer.status_code == 409 and code_of(answer) == "intent_not_approved"


def test_cancel_before_approval_then_the_approval_is_refused(site: Site) -> None:
    intent = create(site, 6_000)
    before = site.balance()
    answer = act(site, intent["id"], "cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled" and answer.json()["command"] is None
    assert act(site, intent["id"], "cancel").json()["status"] == "cancelled"  # again: same
    refused = approve(site, intent)
    assert refused.status_code == 409 and code_of(refused) == "intent_cancelled"
    assert site.balance() == before


def test_cancel_after_approval_releases_the_hold(site: Site) -> None:
    intent = create(site, 7_000)
    before = site.lots()
    assert approve(site, intent).status_code == 201
    assert site.balance() == sum(a for _, a, _ in before) - 7_000
    answer = act(site, intent["id"], "cancel")
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["status"] == "cancelled" and done["command"]["code"] == "ok"
    assert site.lots() == before  # every lot back as it was
    late = act(site, intent["id"], "capture")
    assert late.status_code == 409 and code_of(late) == "intent_cancelled"


def test_refund_in_part_then_in_full_restores_the_lots(site: Site) -> None:
    intent = create(site, 20_000)
    before = site.lots()
    assert approve(site, intent).status_code == 201
    assert act(site, intent["id"], "capture").status_code == 200
    not_yet = act(site, intent["id"], "refund", {"amount": 20_001})
    assert not_yet.status_code == 422 and code_of(not_yet) == "refund_exceeds_payment"
    part = act(site, intent["id"], "refund", {"amount": 5_000})
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "partially_refunded" and part.json()["refunded"] == 5_000
    rest = act(site, intent["id"], "refund", {"amount": 15_000})
    assert rest.status_code == 200, rest.text
    assert rest.json()["status"] == "refunded" and rest.json()["refunded"] == 20_000
    assert site.lots() == before
    cancel = act(site, intent["id"], "cancel")
    assert cancel.status_code == 409 and code_of(cancel) == "intent_captured"


def test_refund_before_capture_is_refused(site: Site) -> None:
    intent = create(site, 3_000)
    assert approve(site, intent).status_code == 201
    answer = act(site, intent["id"], "refund", {"amount": 1_000})
    assert answer.status_code == 409 and code_of(answer) == "intent_not_captured"


def test_an_intent_not_approved_in_time_expires(site: Site) -> None:
    intent = create(site, 2_000, expires_in=60)
    checkout = site.container.checkout
    assert checkout.expire_due(intent["created_ms"] + 59_000) == 0
    assert intent_now(site, intent["id"])["status"] == "requires_approval"
    assert checkout.expire_due(intent["expires_ms"]) >= 1
    assert intent_now(site, intent["id"])["status"] == "expired"
    before = site.balance()
    refused = approve(site, intent)
    assert refused.status_code == 409 and code_of(refused) == "intent_expired"
    assert site.balance() == before
    with site.merchant() as client:
        listed = client.get(f"/v1/cities/{CITY}/checkout/intents?status=expired").json()
    assert intent["id"] in [i["id"] for i in listed["items"]]


def test_the_expiry_job_marks_due_intents_in_the_store(site: Site) -> None:
    intent = create(site, 2_500, expires_in=60)
    runner = ExpiryRunner(site.container.checkout, lambda: intent["expires_ms"] + 1)
    assert runner.run_once() >= 1
    stored = site.container.checkout.repo.get(CITY, intent["id"])
    assert stored is not None and (stored.state, stored.status) == ("expired", "expired")
    assert runner.run_once() == 0  # once


# -- tenancy -----------------------------------------------------------------------------------


def test_another_merchants_intent_is_not_found(site: Site) -> None:
    intent = create(site, 8_000)
    assert approve(site, intent).status_code == 201
    with site.merchant(OTHER_SHOP) as client:
        seen = client.get(f"/v1/cities/{CITY}/checkout/intents/{intent['id']}")
        listed = client.get(f"/v1/cities/{CITY}/checkout/intents").json()["items"]
    assert seen.status_code == 404 and code_of(seen) == "intent_not_found"
    assert intent["id"] not in [i["id"] for i in listed]
    for action, body in (("capture", None), ("cancel", None), ("refund", {"amount": 1})):
        answer = act(site, intent["id"], action, body, shop=OTHER_SHOP)
        assert answer.status_code == 404 and code_of(answer) == "intent_not_found", action
    foreign = act(site, intent["id"], "capture", shop=SHOP, city="yangju")
    assert foreign.status_code == 404
    assert intent_now(site, intent["id"])["status"] == "approved"  # untouched


# -- the chain is the truth from the approval on ---------------------------------------------


def _generic_hold(site: Site, envelope: bytes) -> Receipt:
    """A hold that reached the ledger past the checkout service (the API has no route for
    that: a hold naming an intent goes through the approval route only; here it is put to
    the city's sequencer directly, as an answer lost between the two would leave it)."""
    return site.container.ledgers.execute(CITY, envelope)


def test_an_approval_the_store_never_heard_of_is_read_from_the_chain(site: Site) -> None:
    """The hold reached the ledger but not the intent's store (an answer lost on the way):
    the status comes from the chain, and the merchant can capture it."""
    intent = create(site, 5_500)
    landed = _generic_hold(site, hold_for(site, intent))
    assert landed.ok, landed.code
    assert site.container.checkout.repo.get(CITY, intent["id"]).hold == ""  # type: ignore[union-attr]
    now = intent_now(site, intent["id"])
    assert now["status"] == "approved" and now["payment"] == landed.id
    assert act(site, intent["id"], "capture").json()["status"] == "captured"


def test_a_hold_naming_the_intent_with_another_amount_is_not_its_approval(site: Site) -> None:
    """Past the checkout service, the ledger takes a hold naming the intent with any
    amount; the intent does not count it as approved, so nothing can be captured."""
    intent = create(site, 40_000)
    landed = _generic_hold(site, hold_for(site, intent, {"amount": 1}))
    assert landed.ok, landed.code
    now = intent_now(site, intent["id"])
    assert now["status"] == "requires_approval" and now["held"] == 0 and now["payment"] == ""
    refused = act(site, intent["id"], "capture")
    assert refused.status_code == 409 and code_of(refused) == "intent_not_approved"


def test_lists_page_on_and_find_an_intent_whose_status_moved_on_the_chain(site: Site) -> None:
    intent = create(site, 6_000)
    assert approve(site, intent).status_code == 201
    payment = act(site, intent["id"], "capture").json()["payment"]
    with site.merchant() as client:  # a refund at the counter's route, past checkout
        refunded = client.post(
            f"/v1/cities/{CITY}/merchants/{SHOP}/refunds",
            json={"payment": payment, "amount": 1_000},
            headers=idem(),
        )
        assert refunded.status_code == 201, refunded.text
        found = client.get(f"/v1/cities/{CITY}/checkout/intents?status=partially_refunded")
        assert intent["id"] in [i["id"] for i in found.json()["items"]]
        everything = client.get(f"/v1/cities/{CITY}/checkout/intents?limit=100").json()
        seen: list[str] = []
        cursor = None
        while True:
            query = f"limit=3&cursor={cursor}" if cursor else "limit=3"
            page = client.get(f"/v1/cities/{CITY}/checkout/intents?{query}").json()
            assert "items" in page, page
            seen += [i["id"] for i in page["items"]]
            cursor = page["next"]
            if cursor is None:
                break
        bad = client.get(f"/v1/cities/{CITY}/checkout/intents?cursor=nope")
    assert seen == [i["id"] for i in everything["items"]]
    assert bad.status_code == 422 and code_of(bad) == "validation_failed"
