"""Frames on the terminal's TCP stream: a 2-byte big-endian length (not counting itself)
before each ISO 8583 message, as Korean VANs and iso8583sim's `--header 2b` send them.

The limits are the host's defence against a broken or hostile peer: a frame longer than
any message we answer, a peer that opens a frame and then trickles bytes (slowloris), or
one that sits idle holding a connection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from localpay.domain.errors import Refused

HEADER_SIZE: Final = 2
#: The largest message we accept. Our longest request (every field we read, at its
#: longest) is under 300 bytes; a VAN's extra private fields stay well below this.
MAX_FRAME: Final = 2048
#: Requests of one connection being answered at once; the reader stops reading (TCP
#: back-pressure) until one is answered.
MAX_IN_FLIGHT: Final = 64
#: A connection with no frame begun for this long is closed (terminals echo every minute
#: or so; a VAN link keeps itself alive with 0800 echoes).
IDLE_TIMEOUT_S: Final = 300.0
#: Once a frame's first byte arrived, the whole frame must arrive within this.
FRAME_TIMEOUT_S: Final = 10.0
#: Connections open at once; more are closed as they arrive.
MAX_CONNECTIONS: Final = 1024


@dataclass(frozen=True)
class Limits:
    max_frame: int = MAX_FRAME
    max_in_flight: int = MAX_IN_FLIGHT
    idle_timeout_s: float = IDLE_TIMEOUT_S
    frame_timeout_s: float = FRAME_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS


class FrameError(Refused):
    """The stream cannot go on: the connection is closed (never answered)."""

    code = "iso8583_frame"


async def read_frame(reader: asyncio.StreamReader, limits: Limits) -> bytes | None:
    """The next frame's message bytes, or None when the peer closed between frames.

    Raises FrameError for a zero or oversize length, a frame cut short by the peer's
    close, an idle peer and a frame that does not arrive in time."""
    try:
        first = await asyncio.wait_for(reader.read(1), limits.idle_timeout_s)
    except TimeoutError:
        raise FrameError(f"idle for {limits.idle_timeout_s:g} s") from None
    if not first:
        return None
    try:
        return await asyncio.wait_for(_rest_of_frame(reader, first, limits), limits.frame_timeout_s)
    except TimeoutError:
        raise FrameError(f"frame not complete within {limits.frame_timeout_s:g} s") from None
    except asyncio.IncompleteReadError as exc:
        raise FrameError(f"connection closed {len(exc.partial)} bytes into a frame") from None


async def _rest_of_frame(reader: asyncio.StreamReader, first: bytes, limits: Limits) -> bytes:
    length = int.from_bytes(first + await reader.readexactly(1), "big")
    if length == 0:
        raise FrameError("zero-length frame")
    if length > limits.max_frame:
        raise FrameError(f"frame of {length} bytes is over the {limits.max_frame} limit")
    return await reader.readexactly(length)


def frame(message: bytes) -> bytes:
    """A message with its length prefix."""
    if not 0 < len(message) < 1 << (8 * HEADER_SIZE):
        raise ValueError(f"a message of {len(message)} bytes cannot be framed")
    return len(message).to_bytes(HEADER_SIZE, "big") + message
