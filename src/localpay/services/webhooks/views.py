"""What an API answer or a page shows of a subscription and of its delivery log: never
a secret (shown once, at creation and rotation), never the sealed bytes."""

from __future__ import annotations

from dataclasses import dataclass

from localpay.services.webhooks.ports import Attempt, LoggedAttempt, Subscription


@dataclass(frozen=True)
class SubscriptionView:
    id: str
    merchant: str
    url: str
    types: list[str]
    status: str  # active | failing
    cursor: int  # the seq of the last transaction done for it
    attempts: int  # failed tries of the next event
    next_ms: int  # when the next try is due
    last_error: str
    delivered_ms: int | None
    created_ms: int
    rotating_until_ms: int | None  # the old secret still signs until then


def subscription_view(s: Subscription, now_ms: int) -> SubscriptionView:
    rotating = s.previous_until_ms if s.previous_sealed and s.previous_until_ms > now_ms else None
    return SubscriptionView(
        s.id,
        s.merchant,
        s.url,
        list(s.types),
        s.status,
        s.cursor,
        s.attempts,
        s.next_ms,
        s.last_error,
        s.delivered_ms,
        s.created_ms,
        rotating,
    )


@dataclass(frozen=True)
class AttemptView:
    id: int
    event_id: str
    type: str
    seq: int
    attempt: int
    status_code: int | None
    ok: bool
    error: str
    duration_ms: int
    at_ms: int
    replay: bool


def attempt_view(logged_id: int, a: Attempt) -> AttemptView:
    ok = a.status_code is not None and 200 <= a.status_code < 300
    return AttemptView(
        logged_id,
        a.event_id,
        a.type,
        a.seq,
        a.attempt,
        a.status_code,
        ok,
        a.error,
        a.duration_ms,
        a.at_ms,
        a.replay,
    )


def log_view(rows: list[LoggedAttempt]) -> list[AttemptView]:
    return [attempt_view(r.id, r.attempt) for r in rows]


@dataclass(frozen=True)
class Created:
    """A new subscription (or a rotated secret): the secret is in this answer only."""

    subscription: SubscriptionView
    secret: str
