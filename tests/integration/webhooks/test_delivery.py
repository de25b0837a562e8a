"""Webhooks on both stores, to a real merchant server that verifies every delivery with
`standardwebhooks`: order kept through retries, the cursor moved only on a 2xx, the
backoff schedule, `failing` after it, replay of one event and from a height, the test
ping, rotation, deletion, and the secret sealed at rest."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from localpay.adapters.secrets import MasterKey, Sealer, master_key_from_environment
from localpay.adapters.sql.webhooks import SqlWebhooks
from localpay.adapters.webhook_sender import HttpSender
from localpay.domain import commands as c
from localpay.services.cities.ledgers import new_id
from localpay.services.webhooks import errors
from localpay.services.webhooks.delivery import BACKOFF_MS
from localpay.services.webhooks.ports import ACTIVE, FAILING
from localpay.services.webhooks.service import Webhooks
from localpay.testing.town import CITY, Town
from localpay.testing.webhooks import Receiver, Shop


def _paid(town: Town, wallet: str, merchant: str, amount: int) -> str:
    command = c.Pay(
        id=new_id(), city=CITY, wallet=wallet, merchant=merchant, amount=amount, evidence=""
    )
    assert town.by(wallet, command).ok
    return command.id


def _refunded(town: Town, merchant: str, payment: str, amount: int) -> str:
    command = c.Refund(id=new_id(), city=CITY, merchant=merchant, payment=payment, amount=amount)
    assert town.by(merchant, command).ok
    return command.id


def _subscribe(shop: Shop, receiver: Receiver, types: tuple[str, ...] = ()) -> str:
    made = shop.hooks.create(CITY, "bakery", receiver.url, types, new_id())
    receiver.secret = made.secret
    return made.subscription.id


def test_in_order_through_retries_cursor_moves_only_on_2xx(shop: Shop, receiver: Receiver) -> None:
    town = shop.town
    sub = _subscribe(shop, receiver)
    first = _paid(town, "alice", "bakery", 12_000)
    second = _paid(town, "bob", "bakery", 3_000)
    _paid(town, "alice", "florist", 7_000)  # another shop's: never sent to the bakery
    refund = _refunded(town, "bakery", first, 2_000)
    receiver.fail_first = 2
    start = shop.repo.get(CITY, sub)
    assert start is not None

    shop.hooks.deliverer.tick()  # 500: nothing moves, the first retry in 5 s
    after_one = shop.repo.get(CITY, sub)
    assert after_one is not None and after_one.cursor == start.cursor
    assert (after_one.attempts, after_one.status, after_one.last_error) == (1, ACTIVE, "HTTP 500")
    shop.hooks.deliverer.tick()  # not due yet: not tried again
    assert receiver.requests == 1
    shop.clock.offset_ms += BACKOFF_MS[0]
    shop.hooks.deliverer.tick()  # 500 again: the next wait is 30 s
    assert receiver.requests == 2
    shop.clock.offset_ms += BACKOFF_MS[1] - 2_000
    shop.hooks.deliverer.tick()
    assert receiver.requests == 2  # still early
    shop.clock.offset_ms += 2_000
    shop.hooks.deliverer.tick()

    got = receiver.delivered()
    assert [(r.id, r.type) for r in got] == [
        (f"evt_{first}", "payment.succeeded"),
        (f"evt_{second}", "payment.succeeded"),
        (f"evt_{refund}", "payment.refunded"),
    ]
    assert got[0].payload["data"] == {
        "merchant": "bakery", "payment": first, "amount": 12_000, "channel": "pay",
    }  # fmt: skip
    assert got[2].payload["data"]["payment"] == first
    assert "alice" not in str([r.payload for r in got])  # no wallet id reaches the shop
    done = shop.repo.get(CITY, sub)
    assert done is not None and done.cursor == town.log_size() - 1
    assert (done.attempts, done.status, done.last_error) == (0, ACTIVE, "")
    log = shop.hooks.attempts(CITY, "bakery", sub, None, 50)
    rows = [(a.attempt.event_id, a.attempt.attempt, a.attempt.status_code) for a in log]
    assert rows[::-1] == [
        (f"evt_{first}", 1, 500),
        (f"evt_{first}", 2, 500),
        (f"evt_{first}", 3, 204),
        (f"evt_{second}", 1, 204),
        (f"evt_{refund}", 1, 204),
    ]


def test_a_tampered_body_fails_verification_at_the_receiver(shop: Shop, receiver: Receiver) -> None:
    _subscribe(shop, receiver)
    _paid(shop.town, "alice", "bakery", 12_000)
    shop.hooks.deliverer.tick()
    (got,) = receiver.delivered()
    Webhook(receiver.secret).verify(got.body, got.headers)  # the real one verifies
    tampered = got.body.replace(b"12000", b"92000")
    assert tampered != got.body
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(tampered, got.headers)
    other = shop.hooks.create(CITY, "bakery", receiver.url, (), new_id()).secret
    with pytest.raises(WebhookVerificationError):  # another endpoint's secret
        Webhook(other).verify(got.body, got.headers)


def test_types_filter_and_only_the_own_merchant(shop: Shop, receiver: Receiver) -> None:
    _subscribe(shop, receiver, ("payment.refunded",))
    payment = _paid(shop.town, "alice", "bakery", 5_000)
    florist = _paid(shop.town, "bob", "florist", 5_000)
    _refunded(shop.town, "florist", florist, 5_000)
    refund = _refunded(shop.town, "bakery", payment, 1_000)
    shop.hooks.deliverer.tick()
    assert [r.id for r in receiver.delivered()] == [f"evt_{refund}"]


def test_failing_after_the_schedule_then_tried_at_the_cap(shop: Shop, receiver: Receiver) -> None:
    sub = _subscribe(shop, receiver)
    payment = _paid(shop.town, "alice", "bakery", 5_000)
    receiver.fail_first = 10**6
    schedule = shop.hooks.deliverer.backoff = (1_000, 2_000)
    for wait in (*schedule, schedule[-1]):
        shop.hooks.deliverer.tick()
        shop.clock.offset_ms += wait
    found = shop.repo.get(CITY, sub)
    assert found is not None and (found.attempts, found.status) == (3, FAILING)
    shop.hooks.deliverer.tick()  # still tried, at the cap
    assert receiver.requests == 4
    receiver.fail_first = 0
    shop.clock.offset_ms += schedule[-1]
    shop.hooks.deliverer.tick()
    assert [r.id for r in receiver.delivered()] == [f"evt_{payment}"]
    healed = shop.repo.get(CITY, sub)
    assert healed is not None and (healed.attempts, healed.status) == (0, ACTIVE)


def test_replay_one_event_and_from_a_height(shop: Shop, receiver: Receiver) -> None:
    sub = _subscribe(shop, receiver)
    first = _paid(shop.town, "alice", "bakery", 1_000)
    second = _paid(shop.town, "alice", "bakery", 2_000)
    shop.hooks.deliverer.tick()
    assert len(receiver.delivered()) == 2
    again = shop.hooks.replay_event(CITY, "bakery", sub, f"evt_{first}")
    assert (again.status_code, again.replay) == (204, True)
    bodies = [r.body for r in receiver.delivered() if r.id == f"evt_{first}"]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same event, the same bytes

    tx = shop.town.store.find_tx(CITY, first)
    assert tx is not None
    shop.hooks.replay_from(CITY, "bakery", sub, tx.height)
    shop.hooks.deliverer.tick()
    ids = [r.id for r in receiver.delivered()]
    assert ids == [f"evt_{first}", f"evt_{second}", f"evt_{first}", f"evt_{first}", f"evt_{second}"]

    with pytest.raises(errors.NoSuchEvent):
        shop.hooks.replay_event(CITY, "bakery", sub, "evt_" + "0" * 32)
    with pytest.raises(errors.NoSuchEvent):
        shop.hooks.replay_from(CITY, "bakery", sub, 10**6)


def test_a_florist_cannot_see_or_touch_the_bakerys_endpoint(shop: Shop, receiver: Receiver) -> None:
    sub = _subscribe(shop, receiver)
    payment = _paid(shop.town, "alice", "bakery", 1_000)
    for act in (
        lambda: shop.hooks.get(CITY, "florist", sub),
        lambda: shop.hooks.delete(CITY, "florist", sub),
        lambda: shop.hooks.rotate(CITY, "florist", sub),
        lambda: shop.hooks.attempts(CITY, "florist", sub, None, 10),
        lambda: shop.hooks.ping(CITY, "florist", sub),
    ):
        with pytest.raises(errors.NoSuchSubscription):
            act()
    florist = shop.hooks.create(CITY, "florist", receiver.url, (), new_id()).subscription.id
    with pytest.raises(errors.NoSuchEvent):  # the bakery's event is not the florist's
        shop.hooks.replay_event(CITY, "florist", florist, f"evt_{payment}")
    assert receiver.requests == 0


def test_ping_rotation_with_overlap_and_delete(shop: Shop, receiver: Receiver) -> None:
    sub = _subscribe(shop, receiver)
    ping = shop.hooks.ping(CITY, "bakery", sub)
    assert ping.status_code == 204
    assert receiver.delivered()[0].type == "webhook.test"
    old = receiver.secret
    new = shop.hooks.rotate(CITY, "bakery", sub).secret
    assert new != old and new.startswith("whsec_")
    _paid(shop.town, "alice", "bakery", 1_000)
    shop.hooks.deliverer.tick()
    got = receiver.delivered()[-1]
    Webhook(old).verify(got.body, got.headers)  # both secrets sign during the overlap
    Webhook(new).verify(got.body, got.headers)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    shop.hooks.delete(CITY, "bakery", sub)
    assert shop.hooks.of_merchant(CITY, "bakery") == []
    assert shop.repo.attempts(CITY, sub, None, 10) == []


def test_secret_sealed_at_rest_and_shown_once(shop: Shop, receiver: Receiver) -> None:
    key = new_id()
    made = shop.hooks.create(CITY, "bakery", receiver.url, (), key)
    rows = shop.town.store.sql("SELECT * FROM webhook_subscriptions", ())
    assert made.secret.encode() not in repr(rows).encode()
    assert made.secret.removeprefix("whsec_") not in repr(rows)
    with pytest.raises(errors.AlreadyCreated):  # the same request again: no second secret
        shop.hooks.create(CITY, "bakery", receiver.url, (), key)


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/hooks",  # plain http off localhost
        "ftp://shop.example/hooks",
        "https:///hooks",
        "https://user:pw@shop.example/hooks",
        "https://shop.example/hooks#x",
        "https://shop.example/ho oks",
        "https://shop.example:99999/",
        "https://shop.example/" + "a" * 2_100,
    ],
)
def test_bad_urls_are_refused(shop: Shop, url: str) -> None:
    with pytest.raises(errors.BadEndpoint):
        shop.hooks.create(CITY, "bakery", url, (), new_id())
    assert shop.hooks.of_merchant(CITY, "bakery") == []


def test_unknown_event_type_refused(shop: Shop) -> None:
    with pytest.raises(errors.UnknownEventType, match=r"payment\.sucseeded"):
        shop.hooks.create(CITY, "bakery", "https://shop.example/h", ["payment.sucseeded"], "k")


def test_a_checkout_through_the_sequencer_approved_captured_refunded(
    shop: Shop, receiver: Receiver
) -> None:
    town = shop.town
    _subscribe(shop, receiver, ("checkout.approved", "checkout.captured", "payment.refunded"))
    hold = c.Hold(
        id=new_id(), city=CITY, wallet="alice", merchant="bakery", amount=30_000,
        intent="ci_web_1", order="order-1",
    )  # fmt: skip
    assert town.by("alice", hold).ok
    capture = c.Capture(
        id=new_id(), city=CITY, hold=hold.id, wallet="alice", merchant="bakery", amount=20_000
    )
    assert town.by("bakery", capture).ok
    refund = _refunded(town, "bakery", hold.id, 5_000)
    shop.hooks.deliverer.tick()
    got = receiver.delivered()
    assert [(r.id, r.type) for r in got] == [
        (f"evt_{hold.id}", "checkout.approved"),
        (f"evt_{capture.id}", "checkout.captured"),
        (f"evt_{refund}", "payment.refunded"),
    ]
    assert got[1].payload["data"] == {
        "merchant": "bakery", "hold": hold.id, "payment": hold.id, "amount": 20_000,
        "held": 30_000, "channel": "checkout", "intent": "ci_web_1", "order": "order-1",
    }  # fmt: skip
    assert got[0].payload["timestamp"].endswith("Z")


def _restarted(shop: Shop, master: Sealer) -> Webhooks:
    """The webhooks of a new process over the same store (its own reader and caches)."""
    store = shop.town.store
    return Webhooks(SqlWebhooks(store), store, master, shop.hooks.poster.sender, shop.clock)


def test_a_repeated_rotation_rotates_nothing(shop: Shop, receiver: Receiver) -> None:
    sub = _subscribe(shop, receiver)
    key = new_id()
    new = shop.hooks.rotate(CITY, "bakery", sub, key).secret
    with pytest.raises(errors.AlreadyRotated):  # a double submit: the receiver's secret,
        shop.hooks.rotate(CITY, "bakery", sub, key)  # and the one shown, still sign
    _paid(shop.town, "alice", "bakery", 1_000)
    shop.hooks.deliverer.tick()
    got = receiver.delivered()[-1]
    Webhook(receiver.secret).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)
    assert shop.hooks.rotate(CITY, "bakery", sub, new_id()).secret not in (new, receiver.secret)


def test_secrets_resealed_under_a_new_master_key(shop: Shop, receiver: Receiver) -> None:

    sub = _subscribe(shop, receiver)
    shop.hooks.rotate(CITY, "bakery", sub, new_id())  # an old secret beside the new one
    old = master_key_from_environment()
    new = MasterKey.generate(old.version + 1, "the test's new master key")
    assert shop.repo.reseal(old, new) == 1
    assert shop.repo.reseal(old, new) == 0  # a re-run finds nothing left to do
    hooks = _restarted(shop, new)
    _paid(shop.town, "alice", "bakery", 1_000)
    hooks.deliverer.tick()  # opens both secrets under the new key, signs with both
    got = receiver.delivered()[-1]
    Webhook(receiver.secret).verify(got.body, got.headers)
    assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_after_a_restart_delivery_goes_on_from_the_stored_cursor(
    shop: Shop, receiver: Receiver
) -> None:

    _subscribe(shop, receiver)
    first = _paid(shop.town, "alice", "bakery", 1_000)
    shop.hooks.deliverer.tick()
    second = _paid(shop.town, "alice", "bakery", 2_000)  # committed while "down"
    _restarted(shop, master_key_from_environment()).deliverer.tick()
    assert [r.id for r in receiver.delivered()] == [f"evt_{first}", f"evt_{second}"]


def test_a_secret_under_another_master_key_is_never_sent_unsigned_nor_stops_the_others(
    shop: Shop, receiver: Receiver
) -> None:
    stray = MasterKey.generate(9, "a key this process does not have")
    broken = _restarted(shop, stray).create(CITY, "bakery", receiver.url, (), new_id())
    sub = _subscribe(shop, receiver)
    payment = _paid(shop.town, "alice", "bakery", 1_000)
    shop.hooks.deliverer.tick()
    assert [r.id for r in receiver.delivered()] == [f"evt_{payment}"]  # the good one only
    assert receiver.requests == 1
    (tried,) = shop.hooks.attempts(CITY, "bakery", broken.subscription.id, None, 10)
    assert tried.attempt.status_code is None
    assert tried.attempt.error.startswith("signing secret unavailable")
    stuck = shop.repo.get(CITY, broken.subscription.id)
    assert stuck is not None and stuck.attempts == 1 and sub != broken.subscription.id


def test_a_hanging_endpoint_holds_up_no_other_shop(shop: Shop, receiver: Receiver) -> None:
    """The florist's endpoint answers nothing until the sender's timeout; the bakery's
    delivery does not wait for it."""
    hang = threading.Event()
    server = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        port = server.getsockname()[1]
        slow = Webhooks(shop.repo, shop.town.store, master_key_from_environment(),
                        HttpSender(connect_s=1.0, total_s=3.0), shop.clock)  # fmt: skip
        slow.create(CITY, "florist", f"http://127.0.0.1:{port}/h", (), new_id())
        _subscribe(shop, receiver)
        _paid(shop.town, "bob", "florist", 1_000)
        bakery = _paid(shop.town, "alice", "bakery", 1_000)

        def tick() -> None:
            slow.deliverer.tick()
            hang.set()

        ticking = threading.Thread(target=tick)
        started = time.monotonic()
        ticking.start()
        got = receiver.wait(1, timeout=2.5)
        assert [r.id for r in got] == [f"evt_{bakery}"]
        assert time.monotonic() - started < 2.5 and not hang.is_set()  # the florist still hangs
        ticking.join(10)
        assert hang.is_set()
    finally:
        server.close()
