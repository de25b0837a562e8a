"""What a new intent must be: each field checked, the first bad one named.

Pure functions. The return URL is where the citizen's browser goes back to the shop after
approving: https anywhere, or plain http only to this machine (a mall developing against
`make run`), never with credentials in it or a fragment (the status is added as a query).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from localpay.domain.money import valid_amount
from localpay.services.payments.checkout.errors import IntentInvalid

#: How long an intent waits for approval: by default, and at the longest (seconds).
EXPIRY_DEFAULT_S: Final = 15 * 60
EXPIRY_LONGEST_S: Final = 24 * 60 * 60
EXPIRY_SHORTEST_S: Final = 60
#: Longest return URL and description (characters).
URL_LONGEST: Final = 2000
DESCRIPTION_LONGEST: Final = 200
#: The merchant's order id: printable ASCII, as the chain's hold takes it (ShortRef).
ORDER: Final = re.compile(r"[\x21-\x7e]{1,64}")
#: Hosts plain http may go to (development against a local server).
LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@dataclass(frozen=True)
class NewIntent:
    """A merchant's request for an intent, checked."""

    amount: int
    order: str
    return_url: str
    expires_in_s: int
    description: str


def checked(
    amount: object, order: str, return_url: str, expires_in_s: int | None, description: str
) -> NewIntent:
    """The request if every field is acceptable; IntentInvalid naming the first one not."""
    if not isinstance(amount, int) or not valid_amount(amount):
        raise IntentInvalid("amount", "a whole number of won, more than 0")
    if not ORDER.fullmatch(order):
        raise IntentInvalid("order_id", "1 to 64 printable ASCII characters, no spaces")
    seconds = EXPIRY_DEFAULT_S if expires_in_s is None else expires_in_s
    if type(seconds) is not int or not EXPIRY_SHORTEST_S <= seconds <= EXPIRY_LONGEST_S:
        raise IntentInvalid(
            "expires_in", f"{EXPIRY_SHORTEST_S} to {EXPIRY_LONGEST_S} seconds (24 hours)"
        )
    return NewIntent(amount, order, return_url_checked(return_url), seconds, _text(description))


def return_url_checked(url: str) -> str:
    if len(url) > URL_LONGEST or any(ch.isspace() or ord(ch) < 0x21 for ch in url):
        raise IntentInvalid("return_url", f"at most {URL_LONGEST} characters, no spaces")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        pass
    elif parts.scheme == "http" and host in LOCAL_HOSTS:
        pass  # a developer's own machine
    else:
        raise IntentInvalid("return_url", "https, or http to localhost or 127.0.0.1 only")
    if parts.username is not None or parts.password is not None:
        raise IntentInvalid("return_url", "no user name or password in the URL")
    if parts.fragment:
        raise IntentInvalid("return_url", "no #fragment: the status is added to the query")
    _port(parts)
    return url


def _port(parts: SplitResult) -> None:
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        raise IntentInvalid("return_url", "the port is not a number from 0 to 65535") from None


def _text(description: str) -> str:
    text = unicodedata.normalize("NFC", description.strip())
    if len(text) > DESCRIPTION_LONGEST:
        raise IntentInvalid("description", f"at most {DESCRIPTION_LONGEST} characters")
    if any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise IntentInvalid("description", "printable characters only")
    return text


def back_to_shop(return_url: str, intent: str, status: str) -> str:
    """The return URL with `intent` and `status` added to its own query."""
    parts = urlsplit(return_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if k not in ("intent", "status")]
    query += [("intent", intent), ("status", status)]
    return urlunsplit(parts._replace(query=urlencode(query)))
