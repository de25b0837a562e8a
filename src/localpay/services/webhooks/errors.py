"""The webhooks' refusals, each one plain sentence (the API maps the kinds to problems)."""

from __future__ import annotations

from localpay.domain.errors import Conflict, NotFound, Refused


class BadEndpoint(Refused):
    """The endpoint URL is not https (nor a localhost URL for development), or malformed."""

    code = "validation_failed"


class UnknownEventType(Refused):
    """An event type in the filter that no webhook ever sends."""

    code = "validation_failed"


class TooManySubscriptions(Refused):
    """A merchant has as many endpoints as it may have."""


class NoSuchSubscription(NotFound):
    """No such endpoint of this merchant (another merchant's is not this one's to see)."""


class NoSuchEvent(NotFound):
    """No event of that id concerns this merchant."""


class AlreadyCreated(Conflict):
    """This idempotency key already made an endpoint; its secret was shown once."""
