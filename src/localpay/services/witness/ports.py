"""What a witness needs from outside: its own records, the server's feed, its peers, a clock.

The witness's services never open a socket or write SQL: the composition root
(bootstrap.new_witness) hands them an implementation of each port below
(adapters/sql/witness.py, adapters/feed_client.py). Transports answer with
`(status, body)` rather than raising their own exceptions, so that the services need
not know any HTTP library's: status 0 means the other side could not be reached and the
body then says why, in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from localpay.domain.witness import RaisedAlarm

#: The witness's clock, in epoch milliseconds (adapters/clock.now_ms in production).
Clock = Callable[[], int]

#: (HTTP status, body); status 0 when the other side could not be reached.
Reply = tuple[int, bytes]


class WitnessRecords(Protocol):
    """The witness's own records beside its copy of the chain (witness_signed,
    witness_alarms): what it cosigned, and the alarm that stops it."""

    def signed_checkpoints(self, city: str) -> dict[int, str]:
        """Every checkpoint cosigned for the city: size -> root (hex)."""
        ...

    def signed_root(self, city: str, size: int) -> str | None:
        """The root (hex) cosigned for `size`, if one was."""
        ...

    def newest_signed_size(self, city: str) -> int | None:
        """The largest size cosigned for the city, None before the first."""
        ...

    def record_signed(self, city: str, size: int, root: str, signed_ms: int) -> None:
        """Remember a cosigned checkpoint (never a second root for one size)."""
        ...

    def alarm(self, city: str) -> RaisedAlarm | None:
        """The city's standing alarm, if any."""
        ...

    def replace_alarm(self, city: str, alarm: RaisedAlarm) -> None:
        """Record `alarm` as the city's one alarm, in one transaction."""
        ...

    def clear_alarm(self, city: str) -> None:
        """Forget the city's alarm (the operator's intervention)."""
        ...


class FeedTransport(Protocol):
    """The server's chain feed and cosignature endpoint, for one city."""

    def get_page(self, from_height: int, limit: int, headers: Mapping[str, str]) -> Reply:
        """GET the feed page from `from_height`, at most `limit` blocks, with the signed
        request headers (services/witness/protocol.sign_feed_request)."""
        ...

    def post_cosignature(self, size: int, line: str) -> Reply:
        """POST one cosignature line for the checkpoint of `size`."""
        ...

    def close(self) -> None: ...


class PeerTransport(Protocol):
    """Other witnesses' health servers, asked for their newest cosigned checkpoint."""

    def newest_checkpoint(self, peer: str) -> Reply:
        """GET <peer>/checkpoint: a JSON object whose "note" is the cosigned note."""
        ...

    def close(self) -> None: ...
