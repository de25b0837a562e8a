"""Standard Webhooks signatures (https://www.standardwebhooks.com/), with the
`standardwebhooks` package: `webhook-signature` is `v1,<base64 HMAC-SHA256>` of
`<webhook-id>.<webhook-timestamp>.<body>` under the subscription's secret.

A secret is `whsec_` + base64 of 32 random bytes. After a rotation the old secret keeps
signing beside the new one for ROTATION_OVERLAP_MS (the header then holds both
signatures, space-separated, as the spec allows), so a receiver can switch without
refusing a delivery."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Final

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the spec's prefix, not a secret)
SECRET_BYTES: Final = 32
ROTATION_OVERLAP_MS: Final = 24 * 3_600_000


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(event_id: str, body: bytes, keys: Sequence[str], now_ms: int) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt at `now_ms` (the timestamp is
    the attempt's, so a receiver's 5-minute tolerance holds for retries too)."""
    moment = dt.datetime.fromtimestamp(now_ms // 1000, tz=dt.UTC)
    text = body.decode()
    signatures = [Webhook(key).sign(event_id, moment, text) for key in keys]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(now_ms // 1000),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
