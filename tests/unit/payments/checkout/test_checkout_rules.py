"""The checkout's pure parts: a new intent's fields, the return URL with the status added,
and the status derived from the chain's hold and payment records or the store."""

from __future__ import annotations

import dataclasses

import pytest

from localpay.ledger.state import Draw, HoldRecord, Payment
from localpay.services.payments.checkout import ports as p
from localpay.services.payments.checkout.errors import IntentInvalid
from localpay.services.payments.checkout.ports import IntentRecord
from localpay.services.payments.checkout.rules import back_to_shop, checked, return_url_checked
from localpay.services.payments.checkout.status import derive

NOW = 1_800_000_000_000
INTENT = "ab" * 16
HOLD = "cd" * 16


@pytest.mark.parametrize(
    "url",
    [
        "https://mall.example/back",
        "https://mall.example:8443/back?cart=1",
        "http://localhost:3000/back",
        "http://127.0.0.1/back",
        "http://[::1]:8080/back",
    ],
)
def test_return_urls_taken(url: str) -> None:
    assert return_url_checked(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://mall.example/back",  # plain http off this machine
        "http://localhost.mall.example/back",
        "javascript:alert(1)",
        "https:///back",
        "https://a@mall.example/",
        "https://mall.example/back#x",
        "https://mall.example/ back",
        "https://mall.example:0x1/",
        "https://mall.example/" + "a" * 2000,
    ],
)
def test_return_urls_refused(url: str) -> None:
    with pytest.raises(IntentInvalid) as refused:
        return_url_checked(url)
    assert refused.value.field == "return_url"


@pytest.mark.parametrize(
    ("amount", "order", "expires", "description", "field"),
    [
        (True, "A-1", None, "", "amount"),
        (1.0, "A-1", None, "", "amount"),
        (0, "A-1", None, "", "amount"),
        (1, "A 1", None, "", "order_id"),
        (1, "A" * 65, None, "", "order_id"),
        (1, "A-1", 59, "", "expires_in"),
        (1, "A-1", 86_401, "", "expires_in"),
        (1, "A-1", None, "\u0000", "description"),
    ],
)
def test_each_bad_field_is_named(
    amount: object, order: str, expires: int | None, description: str, field: str
) -> None:
    with pytest.raises(IntentInvalid) as refused:
        checked(amount, order, "https://mall.example/", expires, description)
    assert refused.value.field == field


def test_defaults_and_limits_taken() -> None:
    new = checked(10_000_000_000, "A" * 64, "https://mall.example/", None, "  김포 쌀  ")
    assert new.expires_in_s == 900 and new.description == "김포 쌀"
    assert checked(1, "A-1", "https://m.example/", 86_400, "").expires_in_s == 86_400


def test_back_to_shop_keeps_the_query_and_replaces_a_forged_status() -> None:
    url = "https://mall.example/back?cart=7&status=approved&intent=x"
    assert back_to_shop(url, INTENT, "approved") == (
        f"https://mall.example/back?cart=7&intent={INTENT}&status=approved"
    )


def _record(**changes: object) -> IntentRecord:
    base = IntentRecord(
        city="gimpo", intent=INTENT, merchant="m-1", request_key="k", order="A-1",
        amount=10_000, return_url="https://m.example/", description="", created_ms=NOW,
        expires_ms=NOW + 900_000, state=p.OPEN, status=p.REQUIRES_APPROVAL, changed_ms=NOW,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _hold(status: str, captured: int = 0) -> HoldRecord:
    draw = Draw("lot", "general", 1, 10_000, NOW + 10**9, "test")
    return HoldRecord(
        id=HOLD, wallet="w-1", merchant="m-1", amount=10_000, status=status, at_ms=NOW,
        expires_ms=NOW + 7 * 86_400_000, draws=[draw], captured=captured, intent=INTENT,
        order="A-1",
    )  # fmt: skip


def _payment(refunded: int) -> Payment:
    return Payment(HOLD, "w-1", "m-1", 10_000, refunded, NOW, [])


def test_before_approval_the_store_says() -> None:
    assert derive(_record(), None, None, NOW).status == p.REQUIRES_APPROVAL
    assert derive(_record(), None, None, NOW + 900_000).status == p.EXPIRED  # time is up
    assert derive(_record(state=p.EXPIRED), None, None, NOW).status == p.EXPIRED
    assert derive(_record(state=p.CANCELLED), None, None, NOW).status == p.CANCELLED


def test_from_the_approval_on_the_chain_says() -> None:
    record = _record(state=p.CANCELLED)  # the store's word does not outweigh a held hold
    assert derive(record, _hold("held"), None, NOW).status == p.APPROVED
    assert derive(_record(), _hold("captured", 10_000), None, NOW).status == p.CAPTURED
    assert derive(_record(), _hold("captured", 7_000), None, NOW).status == p.PARTIALLY_CAPTURED
    hold = _hold("captured", 10_000)
    assert derive(_record(), hold, _payment(3_000), NOW).status == p.PARTIALLY_REFUNDED
    assert derive(_record(), hold, _payment(10_000), NOW).status == p.REFUNDED
    assert derive(_record(state=p.CANCELLED), _hold("released"), None, NOW).status == p.CANCELLED
    lapsed = NOW + 7 * 86_400_000  # released by the operator once the hold ran out
    assert derive(_record(), _hold("released"), None, lapsed).status == p.EXPIRED


def test_a_retired_hold_leaves_the_last_status_seen() -> None:
    seen = _record(hold=HOLD, status=p.PARTIALLY_REFUNDED, captured=10_000, refunded=4_000)
    snap = derive(seen, None, None, NOW + 10**10)
    assert (snap.status, snap.hold, snap.captured, snap.refunded) == (
        p.PARTIALLY_REFUNDED, HOLD, 10_000, 4_000,
    )  # fmt: skip
