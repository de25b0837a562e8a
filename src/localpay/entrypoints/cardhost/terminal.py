"""A terminal's side of the link, for the benchmark and the tests: builds requests the
way a POS terminal or a VAN sends them, frames them, and matches answers by STAN (so
several can be in flight on one connection, as the host allows).
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import iso8583

from localpay.entrypoints.cardhost.codec import SPEC
from localpay.entrypoints.cardhost.framing import HEADER_SIZE, frame


def purchase(
    stan: int,
    *,
    pan: str,
    amount: int,
    terminal: str,
    acceptor: str,
    mti: str = "0100",
    rrn: str = "",
    pin_block: str = "",
    processing: str = "000000",
) -> dict[str, str]:
    """A 0100 (or 0200) with every field the host needs; RRN from the STAN unless given."""
    now = datetime.now(UTC)
    fields = {
        "t": mti,
        "2": pan,
        "3": processing,
        "4": f"{amount:012d}",
        "7": now.strftime("%m%d%H%M%S"),
        "11": f"{stan:06d}",
        "12": now.strftime("%H%M%S"),
        "13": now.strftime("%m%d"),
        "22": "051",
        "37": rrn or f"{stan:012d}",
        "41": terminal,
        "42": acceptor,
        "49": "410",
    }
    if pin_block:
        fields["52"] = pin_block
    return fields


def echo(stan: int) -> dict[str, str]:
    return {
        "t": "0800",
        "7": datetime.now(UTC).strftime("%m%d%H%M%S"),
        "11": f"{stan:06d}",
        "70": "301",
    }


def encode(fields: dict[str, str]) -> bytes:
    encoded, _ = iso8583.encode(dict(fields), SPEC)
    return bytes(encoded)


def decode(data: bytes) -> dict[str, str]:
    fields, _ = iso8583.decode(bytearray(data), SPEC)
    return dict(fields)


class Terminal:
    """An asyncio connection with requests matched to answers by STAN."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._receiver: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int) -> Terminal:
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._receiver = asyncio.create_task(self._receive())
        return self

    async def request(self, fields: dict[str, str], timeout: float = 30.0) -> dict[str, str]:
        assert self._writer is not None
        answer = asyncio.get_running_loop().create_future()
        self._pending[fields["11"]] = answer
        self._writer.write(frame(encode(fields)))
        await self._writer.drain()
        return await asyncio.wait_for(answer, timeout)

    async def _receive(self) -> None:
        assert self._reader is not None
        try:
            while True:
                size = int.from_bytes(await self._reader.readexactly(HEADER_SIZE), "big")
                fields = decode(await self._reader.readexactly(size))
                waiting = self._pending.pop(fields.get("11", ""), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(fields)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            for waiting in self._pending.values():
                if not waiting.done():
                    waiting.set_exception(ConnectionError(f"host closed: {exc}"))

    async def close(self) -> None:
        if self._receiver is not None:
            self._receiver.cancel()
        if self._writer is not None:
            self._writer.close()


class BlockingTerminal:
    """A plain socket, for tests that send raw bytes and read one answer at a time."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, fields: dict[str, str]) -> None:
        self.sock.sendall(frame(encode(fields)))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> dict[str, str] | None:
        """The next answer, or None when the host closed the connection."""
        head = self._exactly(HEADER_SIZE)
        if head is None:
            return None
        body = self._exactly(int.from_bytes(head, "big"))
        return None if body is None else decode(body)

    def ask(self, fields: dict[str, str]) -> dict[str, str] | None:
        self.send(fields)
        return self.read()

    def _exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def closed_by_host(self) -> bool:
        """True if the host closed (EOF or reset) rather than answered."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
