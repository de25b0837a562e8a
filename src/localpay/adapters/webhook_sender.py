"""POSTs a signed webhook over HTTP (services/webhooks/ports.Sender), with timeouts.

Never follows a redirect (the endpoint is the URL the merchant registered, nothing else),
never reads more of the answer than its status, and turns every failure into a `Sent`
without a 2xx: the deliverer retries, nothing raises into it."""

from __future__ import annotations

import time
from typing import Final

import httpx

from localpay.services.webhooks.ports import Sent

CONNECT_S: Final = 3.0
#: The whole exchange: a slow endpoint holds up the worker only this long.
TOTAL_S: Final = 10.0
USER_AGENT: Final = "localpay-webhooks/1"


class HttpSender:
    def __init__(self, connect_s: float = CONNECT_S, total_s: float = TOTAL_S) -> None:
        timeout = httpx.Timeout(total_s, connect=connect_s)
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        started = time.perf_counter()
        try:
            answer = self.client.post(
                url, content=body, headers={**headers, "user-agent": USER_AGENT}
            )
        except httpx.TimeoutException:
            return Sent(None, "timed out", _ms(started))
        except httpx.HTTPError as exc:
            return Sent(None, f"{type(exc).__name__}: {exc}"[:200], _ms(started))
        return Sent(answer.status_code, "", _ms(started))

    def close(self) -> None:
        self.client.close()


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
