"""Inbox deliveries stay invisible only while this process is alive to hold them.

A receive made by a worker that then dies (SIGKILL, a lost task; even a long poll still
pending at SQS when the process went) leaves its messages in flight until their visibility
timeout, and a FIFO group with a message in flight delivers nothing else: the guild's jobs
wait for it. So inbox receives ask for a short visibility (HOLD_S) and a keep-alive extends
it (ChangeMessageVisibility) for every delivery not yet settled. A dead worker's messages
are back within HOLD_S for the worker that takes its guilds over (keeper.InboxCollector).
"""

from __future__ import annotations

import asyncio

import structlog

from shared.jobs import AnyJob
from shared.queue import Delivery, JobQueue, QueueUnavailable

log = structlog.get_logger(__name__)

# How long a delivery whose holder stopped extending it stays invisible.
HOLD_S = 6.0
# Extend this often: two extensions may fail or be late before a held message shows again.
EXTEND_EVERY_S = HOLD_S / 3


class HeldQueue:
    """A JobQueue whose received deliveries are kept invisible until settled or forgotten."""

    def __init__(self, queue: JobQueue, *, hold_s: float = HOLD_S) -> None:
        self._queue = queue
        self._hold_s = hold_s
        self._held: dict[str, Delivery] = {}
        # An extension in flight must not land after the settle that follows it (it would
        # undo a retry_later's delay): settling waits for it, and no extension starts after.
        self._lock = asyncio.Lock()

    @property
    def held(self) -> int:
        """Deliveries received and neither settled nor forgotten."""
        return len(self._held)

    async def send(self, job: AnyJob) -> None:
        """Enqueue on the underlying queue."""
        await self._queue.send(job)

    async def receive(
        self, *, max_messages: int = 10, wait_s: float = 20.0, visibility_s: float | None = None
    ) -> list[Delivery]:
        """Receive with a short visibility; the deliveries are held from now on."""
        deliveries = await self._queue.receive(
            max_messages=max_messages,
            wait_s=wait_s,
            visibility_s=self._hold_s if visibility_s is None else visibility_s,
        )
        for delivery in deliveries:
            self._held[delivery.receipt] = delivery
        return deliveries

    async def ack(self, delivery: Delivery) -> None:
        """Stop holding, then delete."""
        await self._let_go(delivery)
        await self._queue.ack(delivery)

    async def retry_later(self, delivery: Delivery, *, delay_s: float) -> None:
        """Stop holding, then make it visible after delay_s."""
        await self._let_go(delivery)
        await self._queue.retry_later(delivery, delay_s=delay_s)

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Stop holding, then move it aside."""
        await self._let_go(delivery)
        await self._queue.dead_letter(delivery, reason=reason)

    async def aclose(self) -> None:
        """Close the underlying queue."""
        await self._queue.aclose()

    def forget(self, delivery: Delivery) -> None:
        """No longer extend it (its lane ended without settling): it shows again soon."""
        self._held.pop(delivery.receipt, None)

    async def extend(self) -> None:
        """One round: push the visibility of every held delivery HOLD_S ahead."""
        for receipt, delivery in list(self._held.items()):
            async with self._lock:
                if receipt not in self._held:
                    continue  # settled meanwhile
                try:
                    # ChangeMessageVisibility, the call retry_later makes.
                    await self._queue.retry_later(delivery, delay_s=self._hold_s)
                except QueueUnavailable:
                    # A lapsed receipt or an outage: the message may show again; the job
                    # ledger makes a second handling harmless.
                    log.warning("job.hold_failed", message_id=delivery.message_id)

    async def keep_alive(self, every_s: float = EXTEND_EVERY_S) -> None:
        """Extend every every_s until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            await self.extend()

    async def _let_go(self, delivery: Delivery) -> None:
        async with self._lock:
            self._held.pop(delivery.receipt, None)
