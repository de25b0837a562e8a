"""The webhooks' refusals, each one plain sentence (the API maps the kinds to problems)."""

from __future__ import annotations

from localpay.domain.errors import Conflict, NotFound, Refused


class BadEndpoint(Refused):
    """The endpoint URL is not https (nor a localhost URL for development), or malformed."""

    code = "webhook_url_invalid"


class UnknownEventType(Refused):
    """An event type in the filter that no webhook ever sends."""

    code = "webhook_event_type_unknown"


class TooManySubscriptions(Refused):
    """A merchant has as many endpoints as it may have."""

    code = "webhook_limit_reached"


class NoSuchSubscription(NotFound):
    """No such endpoint of this merchant (another merchant's is not this one's to see)."""

    code = "webhook_not_found"


class NoSuchEvent(NotFound):
    """No event of that id concerns this merchant."""

    code = "webhook_event_not_found"


class AlreadyRotated(Conflict):
    """This idempotency key already rotated the secret; the new one was shown once."""

    code = "webhook_secret_rotated"


class AlreadyCreated(Conflict):
    """This idempotency key already made an endpoint; its secret was shown once."""

    code = "webhook_exists"
