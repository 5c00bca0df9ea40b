"""Receiving from a queue in a loop that can be told to stop while a long poll is waiting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from shared.queue import Delivery, QueueUnavailable


async def receive_unless_stopped(
    receive: Awaitable[list[Delivery]], stopping: asyncio.Event
) -> list[Delivery]:
    """The deliveries ``receive`` returns; none if ``stopping`` is set first (it is cancelled)."""
    receiving = asyncio.ensure_future(receive)
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({receiving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if receiving.done():
        return receiving.result()
    receiving.cancel()
    with contextlib.suppress(asyncio.CancelledError, QueueUnavailable):
        await receiving
    return []
