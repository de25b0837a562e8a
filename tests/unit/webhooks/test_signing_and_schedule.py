"""Standard Webhooks headers as the spec's reference verifier reads them, the backoff
schedule and when a subscription turns `failing`, and the endpoint URL rules."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from localpay.services.webhooks import errors, signing
from localpay.services.webhooks.delivery import BACKOFF_MS, next_try
from localpay.services.webhooks.ports import ACTIVE, FAILING
from localpay.services.webhooks.service import check_types, check_url, subscription_id


def test_headers_verify_and_a_changed_byte_does_not() -> None:
    secret = signing.new_secret()
    body = b'{"data":{"amount":12000},"type":"payment.succeeded"}'
    now = int(time.time() * 1000)
    headers = signing.headers("evt_" + "a" * 32, body, [secret], now)
    assert Webhook(secret).verify(body, headers)["type"] == "payment.succeeded"
    assert headers["webhook-timestamp"] == str(now // 1000)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"12000", b"12001"), headers)
    with pytest.raises(WebhookVerificationError):  # another id, the same body and signature
        Webhook(secret).verify(body, {**headers, "webhook-id": "evt_" + "b" * 32})
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_secrets_are_fresh_whsec_base64_of_32_bytes() -> None:
    import base64  # noqa: PLC0415

    one, two = signing.new_secret(), signing.new_secret()
    assert one != two and one.startswith("whsec_")
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32


def test_backoff_schedule_capped_then_failing() -> None:
    waits = [next_try(n, BACKOFF_MS) for n in range(1, len(BACKOFF_MS) + 3)]
    assert [w for w, _ in waits] == [5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000,
                                     21_600_000, 21_600_000]  # fmt: skip
    assert [s for _, s in waits] == [ACTIVE] * len(BACKOFF_MS) + [FAILING, FAILING]


@pytest.mark.parametrize(
    "url",
    ["https://shop.example/hooks", "https://shop.example:8443/h?x=1", "http://localhost:8000/h",
     "http://127.0.0.1:9/h", "http://[::1]:9/h"],
)  # fmt: skip
def test_good_urls(url: str) -> None:
    assert check_url(url) == url


def test_types_in_one_order_without_repeats() -> None:
    assert check_types(["payment.refunded", "checkout.approved", "payment.refunded"]) == (
        "checkout.approved", "payment.refunded",
    )  # fmt: skip
    with pytest.raises(errors.UnknownEventType):
        check_types(["payment.*"])


def test_subscription_ids_follow_the_idempotency_key() -> None:
    one = subscription_id("gimpo", "m-1", "key-1")
    assert one == subscription_id("gimpo", "m-1", "key-1")
    assert (
        one != subscription_id("gimpo", "m-2", "key-1") != subscription_id("yangju", "m-1", "key-1")
    )
    assert one.startswith("wh_") and len(one) == 27
