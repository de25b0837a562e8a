"""The card host's messages as the card service sees them: typed, decoded from ISO 8583
by the host (entrypoints/cardhost), never raw frames.

The host decodes a frame with pyiso8583's `default_ascii` spec, checks the fields a message
type needs (a missing or malformed one is answered 30 by the host itself), and hands a
CardRequest to the service's `answer`; the service returns a CardAnswer, which the host
encodes into the response message (request MTI + 10), echoing 11, 37 and 41.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

#: Message types the host answers, and the response type of each.
RESPONSES: Final = {
    "0800": "0810",  # network management: echo, sign-on, sign-off (field 70)
    "0100": "0110",  # authorization: a hold
    "0200": "0210",  # financial: a purchase (or the completion of an earlier 0100)
    "0400": "0410",  # reversal
    "0420": "0430",  # reversal advice
}

# Response codes (field 39), ISO 8583:1987.
APPROVED: Final = "00"
INVALID_CARD: Final = "14"
FORMAT_ERROR: Final = "30"
INSUFFICIENT_FUNDS: Final = "51"
EXPIRED_CARD: Final = "54"
WRONG_PIN: Final = "55"
NOT_PERMITTED_CARDHOLDER: Final = "57"
NOT_PERMITTED_TERMINAL: Final = "58"
OVER_LIMIT: Final = "61"
PIN_TRIES_EXCEEDED: Final = "75"
DUPLICATE: Final = "94"
SYSTEM_MALFUNCTION: Final = "96"


@dataclass(frozen=True)
class CardRequest:
    """One request from a terminal. Text fields are as sent (already checked for their
    ISO 8583 format by the host); absent optional fields are ""."""

    mti: str  # "0100", "0200", "0400", "0420" or "0800"
    stan: str  # 11: six digits
    terminal: str  # 41: the terminal id (8)
    rrn: str = ""  # 37: retrieval reference number (12)
    pan: str = ""  # 2: the card number
    processing: str = ""  # 3: processing code ("000000" purchase, "310000" balance enquiry)
    amount: int = 0  # 4: whole won (KRW has no minor unit)
    transmitted: str = ""  # 7: MMDDhhmmss (UTC)
    local_time: str = ""  # 12: hhmmss
    local_date: str = ""  # 13: MMDD
    expiry: str = ""  # 14: YYMM, when the terminal sends it
    entry_mode: str = ""  # 22
    auth_code: str = ""  # 38: in a completion or reversal, the original's approval code
    acceptor: str = ""  # 42: card acceptor (merchant) id as the terminal knows it
    currency: str = ""  # 49: "410"
    pin_block: str = ""  # 52: ISO 9564 format-0 PIN block, 16 hex digits
    network_code: str = ""  # 70: 0800's network management code ("001" sign-on, "301" echo)


@dataclass(frozen=True)
class CardAnswer:
    """The service's answer: the response code (39), the approval code (38) when approved,
    and the remaining balance for the terminal's receipt (54), in whole won."""

    code: str
    auth_code: str = ""
    balance: int | None = None


class CardAuthority(Protocol):
    """What the host calls for each request; blocking (the host runs it in a worker
    thread), safe to call from several threads at once, and it never raises for a
    business outcome: every outcome is an answer code. The city is the terminal's: the
    service finds it from the terminal id (ids are unique across the platform)."""

    def answer(self, request: CardRequest) -> CardAnswer: ...
