"""A merchant's webhook endpoints: create (the secret shown once), list, delete, rotate the
secret, read the delivery log, replay one event or everything from a height, send a test
ping. Delivery itself runs in the background (delivery.py, worker.py).

Who may: the entrypoints check the merchant's owner or API key (identity/access.py) and
name the merchant here; a subscription of another merchant is "no such subscription"."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from localpay.ledger.ports import Store
from localpay.services.webhooks import errors, signing
from localpay.services.webhooks.chain import ChainReader
from localpay.services.webhooks.delivery import BACKOFF_MS, Deliverer, Poster
from localpay.services.webhooks.events import EVENT_TYPES, WEBHOOK_TEST, event_id, iso, tx_id_of
from localpay.services.webhooks.ports import (
    ACTIVE,
    Attempt,
    LoggedAttempt,
    Sealer,
    Sender,
    Subscription,
    WebhookRepository,
    secret_context,
)
from localpay.services.webhooks.views import Created, subscription_view

SUBSCRIPTIONS_MAX: Final = 10
URL_MAX: Final = 2_048
LOG_PAGE_MAX: Final = 200
#: Plain http is for a developer's own machine only.
LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_ID_PREFIX: Final = b"localpay/webhook-subscription/v1\n"


def check_url(url: str) -> str:
    """An https URL with a host (or http on localhost), no user info, no fragment."""
    if len(url) > URL_MAX or any(ch <= " " or ch == "\x7f" for ch in url):
        raise errors.BadEndpoint(f"the URL must be at most {URL_MAX} characters, no spaces")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise errors.BadEndpoint(f"not a URL: {url!r}") from None
    if not host or parts.username is not None or parts.fragment:
        raise errors.BadEndpoint("the URL needs a host, and no user name or #fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS):
        return url
    raise errors.BadEndpoint("the URL must be https:// (http:// only on localhost)")


def check_types(types: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        known = ", ".join(EVENT_TYPES)
        raise errors.UnknownEventType(f"no event type {unknown[0]!r}: one of {known}")
    return tuple(t for t in EVENT_TYPES if t in types)  # one order, no repeats


def subscription_id(city: str, merchant: str, key: str) -> str:
    """Derived from the idempotency key: a repeated create finds the same subscription."""
    material = "\n".join((city, merchant, key)).encode()
    return "wh_" + hashlib.sha256(_ID_PREFIX + material).hexdigest()[:24]


@dataclass(frozen=True)
class Replayed:
    """Where a replay from a height put the cursor: delivery starts again after it."""

    subscription: str
    from_height: int
    cursor: int


class Webhooks:
    def __init__(
        self,
        repo: WebhookRepository,
        store: Store,
        master: Sealer,
        sender: Sender,
        clock: Callable[[], int],
        backoff: Sequence[int] = BACKOFF_MS,
    ) -> None:
        self.repo = repo
        self.master = master
        self.clock = clock
        self.reader = ChainReader(store)
        self.poster = Poster(repo, master, sender, clock)
        self.deliverer = Deliverer(repo, self.reader, self.poster, clock, backoff)

    # -- subscriptions -------------------------------------------------------------------

    def create(self, city: str, merchant: str, url: str, types: Sequence[str], key: str) -> Created:
        """A new endpoint, delivered the events committed from now on."""
        url, wanted = check_url(url), check_types(types)
        ident = subscription_id(city, merchant, key or secrets.token_hex(16))
        if self.repo.get(city, ident) is not None:
            raise errors.AlreadyCreated("this request already made the endpoint; see the list")
        if len(self.repo.of_merchant(city, merchant)) >= SUBSCRIPTIONS_MAX:
            raise errors.TooManySubscriptions(
                f"a shop has at most {SUBSCRIPTIONS_MAX} endpoints: delete one first"
            )
        secret = signing.new_secret()
        now = self.clock()
        sub = Subscription(
            city, ident, merchant, url, wanted,
            self.master.seal(secret.encode(), secret_context(city, ident)), None, 0, now,
            self.reader.last_seq(city), 0, 0, ACTIVE, "", None,
        )  # fmt: skip
        if not self.repo.add(sub):
            raise errors.AlreadyCreated("this request already made the endpoint; see the list")
        return Created(subscription_view(sub, now), secret)

    def of_merchant(self, city: str, merchant: str) -> list[Subscription]:
        return self.repo.of_merchant(city, merchant)

    def get(self, city: str, merchant: str, subscription: str) -> Subscription:
        found = self.repo.get(city, subscription)
        if found is None or found.merchant != merchant:
            raise errors.NoSuchSubscription(f"no endpoint {subscription!r} at this shop")
        return found

    def delete(self, city: str, merchant: str, subscription: str) -> None:
        self.get(city, merchant, subscription)
        self.repo.delete(city, subscription)

    def rotate(self, city: str, merchant: str, subscription: str, key: str = "") -> Created:
        """A new secret (shown once); the old one signs beside it for a day. A repeat of
        the same request (`key`) rotates nothing: a second new secret would leave the one
        the receiver still uses signing nothing."""
        sub = self.get(city, merchant, subscription)
        secret = signing.new_secret()
        now = self.clock()
        sealed = self.master.seal(secret.encode(), secret_context(city, sub.id))
        until = now + signing.ROTATION_OVERLAP_MS
        if not self.repo.rotate(city, sub.id, sealed, sub.secret_sealed, until, key):
            raise errors.AlreadyRotated("this request already made the new secret (shown once)")
        return Created(subscription_view(self.get(city, merchant, subscription), now), secret)

    def attempts(
        self, city: str, merchant: str, subscription: str, before: int | None, limit: int
    ) -> list[LoggedAttempt]:
        self.get(city, merchant, subscription)
        return self.repo.attempts(city, subscription, before, max(1, min(limit, LOG_PAGE_MAX)))

    # -- replay and ping -----------------------------------------------------------------

    def replay_event(self, city: str, merchant: str, subscription: str, event: str) -> Attempt:
        """One event sent again now, once, out of order (the cursor does not move): the
        answer is that attempt, also in the log. Another try is another replay."""
        sub = self.get(city, merchant, subscription)
        tx_id = tx_id_of(event)
        found = self.reader.find(city, tx_id) if tx_id is not None else None
        if found is None or found.merchant != merchant:
            raise errors.NoSuchEvent(f"no event {event!r} at this shop")
        return self.poster.event(sub, found, 1, replay=True)

    def replay_from(self, city: str, merchant: str, subscription: str, height: int) -> Replayed:
        """Every event from block `height` on delivered again, in order, by the worker."""
        sub = self.get(city, merchant, subscription)
        cursor = self.reader.before_height(city, height)
        if cursor is None:
            raise errors.NoSuchEvent(f"the chain has no block {height} yet")
        self.repo.rewind(city, sub.id, cursor, self.clock())
        return Replayed(sub.id, height, cursor)

    def ping(self, city: str, merchant: str, subscription: str) -> Attempt:
        """A `webhook.test` event now, to check the endpoint and its verification."""
        sub = self.get(city, merchant, subscription)
        now = self.clock()
        ident = event_id(secrets.token_hex(16)).replace("evt_", "evt_test_")
        data = {"merchant": merchant, "subscription": sub.id}
        payload = {"type": WEBHOOK_TEST, "id": ident, "timestamp": iso(now), "data": data}
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return self.poster.post(sub, ident, WEBHOOK_TEST, -1, body, 1, replay=True)
