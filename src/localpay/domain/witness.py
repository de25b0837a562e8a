"""A witness's records, as plain data shared by its service and its repository."""

from __future__ import annotations

import msgspec


class RaisedAlarm(msgspec.Struct, frozen=True):
    """An alarm as the witness records it: from then on it signs nothing for the city.

    `reason` is one of services/witness/alarms.REASONS; `height` the block it was found
    at (-1: not at a block)."""

    reason: str
    detail: str
    height: int
    raised_ms: int
