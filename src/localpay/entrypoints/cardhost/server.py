"""The authorization host: asyncio, one task per terminal connection.

Each connection's reader decodes frames as they come; a request for the card service is
answered in its own task (the service is blocking, so it runs in a bounded thread pool),
so several requests in flight on one connection are answered concurrently, each written
as soon as it is ready (the terminal matches them by STAN). Writes are serialized per
connection so two answers never interleave. 0800 network management is answered by the
host itself. Logs carry the type, STAN, terminal and code, never the card number (masked
to its first 6 and last 4) nor the PIN block.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import structlog

from localpay.entrypoints.cardhost import codec
from localpay.entrypoints.cardhost.framing import FrameError, Limits, frame, read_frame
from localpay.services.payments.card.messages import (
    APPROVED,
    SYSTEM_MALFUNCTION,
    CardAnswer,
    CardAuthority,
    CardRequest,
)

log = structlog.get_logger("localpay.cardhost")

#: Worker threads for the card service's blocking calls: enough for the sequencer's group
#: commit to batch 50 terminals' requests, few enough for a 2-core machine.
WORKERS: Final = 32
#: On stop, answers already being computed get this long to be written.
DRAIN_S: Final = 5.0


def masked(pan: str) -> str:
    """A card number as logs may show it: first 6 and last 4 (PCI DSS's masking)."""
    return f"{pan[:6]}{'*' * max(0, len(pan) - 10)}{pan[-4:]}" if len(pan) > 10 else "*" * len(pan)


class _Connection:
    """One terminal's connection: its write lock, its in-flight bound and tasks."""

    def __init__(self, writer: asyncio.StreamWriter, limits: Limits) -> None:
        self.writer = writer
        self.lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(limits.max_in_flight)
        self.tasks: set[asyncio.Task[None]] = set()
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    async def send(self, message: bytes) -> None:
        async with self.lock:
            if self.writer.is_closing():
                return  # the peer left before its answer was ready
            self.writer.write(frame(message))
            await self.writer.drain()


class CardHost:
    """Serves terminals for a CardAuthority (the card service)."""

    def __init__(
        self, authority: CardAuthority, limits: Limits | None = None, workers: int = WORKERS
    ) -> None:
        self.authority = authority
        self.limits = limits or Limits()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="cardhost")
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 8583) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._server = await asyncio.start_server(self._accept, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("card host listening", host=host, port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._handlers) >= self.limits.max_connections:
            log.warning("card host refused a connection: too many", open=len(self._handlers))
            writer.close()
            return
        self._handlers.add(task)
        conn = _Connection(writer, self.limits)
        try:
            await self._serve(reader, conn)
        except (ConnectionError, OSError) as exc:
            log.info("terminal connection lost", peer=conn.peer, reason=type(exc).__name__)
        except asyncio.CancelledError:
            # The host stopping. This task is the connection's top: ending it normally
            # keeps asyncio's stream callback from logging the cancellation as an error.
            pass
        finally:
            self._handlers.discard(task)
            await self._finish(conn)

    async def _serve(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        while True:
            try:
                data = await read_frame(reader, self.limits)
            except FrameError as exc:
                log.warning("terminal connection closed", peer=conn.peer, reason=str(exc))
                return
            if data is None:
                return
            try:
                request = codec.decode(data)
            except codec.FormatError as exc:
                if not exc.answerable:
                    log.warning(
                        "undecodable frame, connection closed", peer=conn.peer, reason=str(exc)
                    )
                    return
                await self._format_error(conn, exc)
                continue
            if request.mti == "0800":
                await conn.send(codec.encode_answer(request, _network(request)))
                continue
            await conn.slots.acquire()  # back-pressure: stop reading at the in-flight limit
            task = asyncio.create_task(self._answer(conn, request))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)

    async def _format_error(self, conn: _Connection, exc: codec.FormatError) -> None:
        log.warning(
            "card request malformed", mti=exc.mti, stan=exc.echo.get("11"),
            terminal=exc.echo.get("41"), code="30", reason=exc.reason,
        )  # fmt: skip
        await conn.send(codec.encode_format_error(exc))

    async def _answer(self, conn: _Connection, request: CardRequest) -> None:
        try:
            loop = asyncio.get_running_loop()
            try:
                answer = await loop.run_in_executor(self._pool, self.authority.answer, request)
            except Exception:  # the service's promise is broken: the terminal gets a 96
                log.exception("card service failed", mti=request.mti, stan=request.stan)
                answer = CardAnswer(SYSTEM_MALFUNCTION)
            log.info(
                "card request answered", mti=request.mti, stan=request.stan,
                terminal=request.terminal, card=masked(request.pan), amount=request.amount,
                code=answer.code,
            )  # fmt: skip
            await conn.send(codec.encode_answer(request, answer))
        except (ConnectionError, OSError):
            pass  # the terminal left; its reversal logic covers an unanswered request
        finally:
            conn.slots.release()

    async def _finish(self, conn: _Connection) -> None:
        """Answers in flight are written (a peer that half-closed still reads), then close."""
        if conn.tasks:
            await asyncio.wait(conn.tasks, timeout=DRAIN_S)
        conn.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await conn.writer.wait_closed()


def _network(request: CardRequest) -> CardAnswer:
    """0800 echo, sign-on and sign-off: the host itself says it is here."""
    log.info(
        "network management", stan=request.stan, action=codec.NETWORK_CODES[request.network_code]
    )
    return CardAnswer(APPROVED)


class HostThread:
    """The host in a thread of its own (with its own event loop), for `localpay serve`,
    whose main thread runs uvicorn."""

    def __init__(self, host: CardHost, address: str, port: int) -> None:
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(address, port), name="cardhost", daemon=True
        )

    def start(self) -> HostThread:
        """Starts and waits until it listens; raises OSError if it cannot."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure
        return self

    def _run(self, address: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.host.start(address, port))
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.host.stop())
        self._loop.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(DRAIN_S + 5)
