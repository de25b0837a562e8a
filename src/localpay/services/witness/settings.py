"""How a witness follows a city: what it is told on its command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from localpay.ledger.replay import Pins

#: Blocks asked for per feed page (the server also caps a page's transactions).
PAGE_BLOCKS: Final = 200
#: Wait between polls once the witness has reached the server's head.
POLL_S: Final = 0.25
#: Wait between two pages of the rolling audit of the history already verified.
AUDIT_INTERVAL_S: Final = 2.0


@dataclass
class WitnessSettings:
    city: str
    follow: str
    name: str | None = None
    page_blocks: int = PAGE_BLOCKS
    poll_s: float = POLL_S
    audit_interval_s: float = AUDIT_INTERVAL_S
    timeout_s: float = 30.0
    # Other witnesses' health addresses (http://host:port): their newest co-signed
    # checkpoints are compared with this witness's own copy (gossip; see _gossip_loop).
    peers: tuple[str, ...] = ()
    # The chain this witness vouches for, learned from the city out of band (docs/
    # operations.md): another genesis or operator key stops it before anything is written.
    pins: Pins = field(default_factory=Pins)
