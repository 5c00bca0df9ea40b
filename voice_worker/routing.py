"""Getting every job of a guild to the worker that owns it, in order (docs/architecture.md).

The shared jobs queue is only routed, never handled: a worker receiving a job there forwards
it, unchanged, to the inbox of the guild's lease holder (its own inbox when it holds the
lease, or just took it because the guild was free and it had room), then acks. Jobs are
handled from inboxes only, so a guild's jobs pass through one FIFO queue in order even while
ownership is being settled. A job no worker can take now (the guild is free and this worker
is full) is made visible again after a short delay, for a worker with room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from shared.jobs import AnyJob
from shared.queue import Delivery, Inboxes, JobQueue, QueueUnavailable
from shared.state import StoreUnavailable
from voice_worker.ownership import Ownership
from voice_worker.receiving import receive_unless_stopped

log = structlog.get_logger(__name__)

# How soon a job nobody could take is offered again (another worker may have room).
BOUNCE_DELAY_S = 2.0

# A routed message is held for milliseconds; if its router dies mid-receive it is back soon.
ROUTE_VISIBILITY_S = 10.0

Claimed = Callable[[str], Awaitable[None]]


class Routing:
    """Where a guild's job goes: handled here, forwarded to its owner, or offered again."""

    def __init__(
        self,
        ownership: Ownership,
        *,
        inboxes: Inboxes | None = None,
        claimed: Claimed | None = None,
        ready: Claimed | None = None,
    ) -> None:
        self._ownership = ownership
        self._inboxes = inboxes
        self._claimed = claimed
        self._ready = ready

    async def _owner_of(self, guild_id: str) -> str | None:
        """Our id if the guild is (now) ours, the holder's id if someone else's, else None."""
        had = self._ownership.holds(guild_id)
        lease = await self._ownership.claim(guild_id)
        if lease is not None:
            if not had and self._claimed is not None:
                await self._claimed(guild_id)
            return self._ownership.worker_id
        current = await self._ownership.current_owner(guild_id)
        return None if current is None else current.owner

    async def admit(self, queue: JobQueue, delivery: Delivery, job: AnyJob) -> bool:
        """For the consumer of an inbox (or the embedded queue): True means handle it here."""
        owner = await self._owner_of(job.guild_id)
        if owner == self._ownership.worker_id:
            if self._ready is not None:
                await self._ready(job.guild_id)  # a takeover in progress resumes first
            return True
        if owner is None or self._inboxes is None:
            log.info("job.bounced", owner=owner)
            await queue.retry_later(delivery, delay_s=BOUNCE_DELAY_S)
            return False
        await self._inboxes.forward(delivery, self._inboxes.inbox_url(owner), attempted=True)
        log.info("job.forwarded", to_worker=owner)
        await queue.ack(delivery)
        return False

    async def route(self, queue: JobQueue, delivery: Delivery, *, attempted: bool = False) -> bool:
        """Forward to the owner's inbox and ack; False if offered again.

        attempted: the queue is a (dead worker's) inbox, whose receives were attempts.
        """
        assert self._inboxes is not None
        job = delivery.job
        if job is None:
            log.warning("job.dead_lettered", message_id=delivery.message_id, reason="malformed")
            await queue.dead_letter(delivery, reason=f"malformed: {delivery.error}")
            return True
        owner = await self._owner_of(job.guild_id)
        if owner is None:
            log.info("job.bounced", guild_id=job.guild_id, reason="no_capacity")
            await queue.retry_later(delivery, delay_s=BOUNCE_DELAY_S)
            return False
        try:
            await self._inboxes.forward(
                delivery, self._inboxes.inbox_url(owner), attempted=attempted
            )
        except QueueUnavailable:
            # e.g. the owner's inbox is gone: its lease runs out soon and the guild is free.
            log.warning("job.forward_failed", guild_id=job.guild_id, to_worker=owner)
            await queue.retry_later(delivery, delay_s=BOUNCE_DELAY_S)
            return False
        log.info("job.routed", guild_id=job.guild_id, job_id=job.job_id, to_worker=owner)
        await queue.ack(delivery)
        return True


class Router:
    """Receives from one queue (the shared jobs queue, or a dead worker's inbox) and routes."""

    def __init__(
        self,
        queue: JobQueue,
        routing: Routing,
        *,
        receive_wait_s: float = 20.0,
        inbox: bool = False,
    ) -> None:
        self._inbox = inbox
        self._queue = queue
        self._routing = routing
        self._receive_wait_s = receive_wait_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stopping.set()

    async def run(self) -> None:
        """Route until stopped; outages are waited out."""
        while not self._stopping.is_set():
            try:
                deliveries = await self._receive(self._receive_wait_s)
                await self.route_batch(deliveries)
            except (QueueUnavailable, StoreUnavailable) as exc:
                log.warning("router.unavailable", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def drain(self) -> int:
        """Route whatever is visible now; return how many deliveries were routed on."""
        routed = 0
        while deliveries := await self._receive(0):
            routed += await self.route_batch(deliveries)
        return routed

    async def route_batch(self, deliveries: list[Delivery]) -> int:
        """Route in order; once a guild's job is offered again, its later ones are too.

        Returns how many were routed (not offered again).
        """
        held_back: set[str] = set()
        count = 0
        for delivery in deliveries:
            if delivery.group_id in held_back:
                await self._queue.retry_later(delivery, delay_s=BOUNCE_DELAY_S)
                continue
            try:
                routed = await self._routing.route(self._queue, delivery, attempted=self._inbox)
            except (QueueUnavailable, StoreUnavailable) as exc:
                # The message returns after its visibility timeout; keep the guild's order.
                log.warning("router.route_failed", error=type(exc).__name__)
                routed = False
            if routed:
                count += 1
            else:
                held_back.add(delivery.group_id)
        return count

    async def _receive(self, wait_s: float) -> list[Delivery]:
        receive = self._queue.receive(
            max_messages=10, wait_s=wait_s, visibility_s=ROUTE_VISIBILITY_S
        )
        return await receive_unless_stopped(receive, self._stopping)
