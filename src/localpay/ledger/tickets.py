"""A one-shot result holder, lighter than concurrent.futures.Future.

A Future builds a Condition (an RLock and a waiter list) per command; at ten
thousand commands a second that bookkeeping cost more than a third of the
sequencer's Python time. A Ticket is a bare lock acquired at birth and released
when the answer is set: waiting is acquiring it, which costs nothing until
someone actually waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from localpay.domain.errors import Unavailable

T = TypeVar("T")

# Guards callback lists against a callback added while the ticket completes.
# One lock for all tickets: both sides hold it only for a list operation.
_callbacks_lock = threading.Lock()


class TicketTimeout(Unavailable, TimeoutError):
    pass


class Ticket(Generic[T]):
    __slots__ = ("_callbacks", "_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Ticket[T]], None]] | None = None

    def done(self) -> bool:
        return not self._lock.locked()

    def set_result(self, value: T) -> None:
        self._value = value
        self._complete()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._complete()

    def _complete(self) -> None:
        with _callbacks_lock:
            self._lock.release()
            callbacks, self._callbacks = self._callbacks, None
        for callback in callbacks or ():
            callback(self)

    def add_done_callback(self, callback: Callable[[Ticket[T]], None]) -> None:
        with _callbacks_lock:
            if not self.done():
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self)

    def _wait(self, timeout: float | None) -> None:
        if not self.done():
            if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
                raise TicketTimeout("no answer in time")
            self._lock.release()

    def result(self, timeout: float | None = None) -> T:
        self._wait(timeout)
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return self._error
