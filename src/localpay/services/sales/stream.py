"""The live budget as an async stream, for the pages' and the API's Server-Sent Events.

live.py stays free of asyncio (its observer runs on the sequencer's thread); this is the
one loop both SSE routes run: woken by the hub, it yields a program's budget whenever it
changed, and None as a keep-alive while nothing did, until the client has gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from localpay.services.sales.live import Budget, LiveBudgets


async def changes(
    hub: LiveBudgets,
    city: str,
    program: str,
    keepalive_s: float,
    gone: Callable[[], Awaitable[bool]],
) -> AsyncIterator[Budget | None]:
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def wake() -> None:  # from the sequencer's thread: never blocks
        loop.call_soon_threadsafe(ready.set)

    watcher = hub.watch(city, program, wake)
    try:
        last: tuple[int, int] | None = None
        fresh = False
        while True:
            budget = hub.current(city, program) if fresh else hub.budget(city, program)
            if budget is not None and (budget.budget, budget.reserved) != last:
                last = (budget.budget, budget.reserved)
                yield budget
            fresh = False
            try:
                await asyncio.wait_for(ready.wait(), keepalive_s)
            except TimeoutError:
                if await gone():
                    return
                yield None
                fresh = True  # no wake for a while: look at the state itself
            ready.clear()
    finally:
        hub.unwatch(watcher)
