"""A bare pyiso8583 echo host: the benchmark's anchor (bench/card.py).

Same framing as the real host, but no field checks, no service, no logging: it decodes a
frame, answers its type + 10 with the request's fields and 39 = 00 at once, one request
at a time per connection. What it costs is what TCP, asyncio and pyiso8583 cost; the
real host's rate against it says what our checks and the card service add.
"""

from __future__ import annotations

import asyncio
import contextlib

import iso8583

from localpay.entrypoints.cardhost.codec import SPEC
from localpay.entrypoints.cardhost.framing import FrameError, Limits, frame, read_frame


class EchoHost:
    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.limits = Limits()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(FrameError, iso8583.DecodeError, ConnectionError, OSError):
            while (data := await read_frame(reader, self.limits)) is not None:
                fields, _ = iso8583.decode(bytearray(data), SPEC)
                fields.pop("p", None)
                fields.pop("1", None)
                fields["t"] = f"{int(fields['t']) + 10:04d}"
                fields["39"] = "00"
                encoded, _ = iso8583.encode(fields, SPEC)
                writer.write(frame(bytes(encoded)))
                await writer.drain()
        writer.close()
