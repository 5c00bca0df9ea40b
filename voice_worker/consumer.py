"""The consumer loop: receive jobs, run each guild's jobs in order, settle every delivery.

Guilds run concurrently (one lane task per guild with work), jobs of one guild strictly one
after another. The job boundary in ``_process`` is the only place a broad ``except`` sorts a
failure into retry / answer / dead-letter (see ``failures.classify``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from shared.jobs import AnyJob, decode_envelope
from shared.queue import Delivery, JobQueue, QueueUnavailable
from shared.state import JobClaim, StoreUnavailable
from voice_worker.failures import (
    GAVE_UP,
    GENERIC_FAILURE,
    Disposition,
    Verdict,
    classify,
    retry_delay_s,
)
from voice_worker.holding import HeldQueue
from voice_worker.idempotency import HandledJobs
from voice_worker.metrics import WorkerCounters
from voice_worker.receiving import receive_unless_stopped
from voice_worker.reporting import Reply, Reporter

log = structlog.get_logger(__name__)

# The answer to a job of a kind (or schema) only a newer version knows: during a rolling
# deploy the next worker to get it will, once this one is replaced.
UPDATING = "This player is being updated, try again in a minute."


# Decides whether this worker handles a delivery; False means it settled the delivery itself
# (forwarded it to the guild's owner, or made it visible again for another worker).
Admit = Callable[[JobQueue, Delivery, AnyJob], Awaitable[bool]]


class JobHandler(Protocol):
    """Carries out one job and says what to tell the requester."""

    async def handle(self, job: AnyJob) -> Reply:
        """Do the job; raise to report a failure (sorted by failures.classify)."""


class Consumer:
    """Pulls deliveries from a JobQueue and hands them to a JobHandler, guild by guild."""

    def __init__(
        self,
        queue: JobQueue,
        handler: JobHandler,
        reporter: Reporter,
        handled: HandledJobs,
        counters: WorkerCounters,
        *,
        max_attempts: int = 4,
        receive_wait_s: float = 20.0,
        max_in_flight: int = 50,
        retry_delay: Callable[[int], float] = retry_delay_s,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        admit: Admit | None = None,
        hold_s: float | None = None,
    ) -> None:
        # hold_s: receive with that short visibility and keep extending it while a delivery
        # is unsettled, so a worker that dies leaves nothing in flight for long (holding.py).
        self._held = HeldQueue(queue, hold_s=hold_s) if hold_s is not None else None
        self._queue: JobQueue = self._held if self._held is not None else queue
        self._keeping: asyncio.Task[None] | None = None
        self._admit = admit
        self._handler = handler
        self._reporter = reporter
        self._handled = handled
        self._counters = counters
        self._max_attempts = max_attempts
        self._receive_wait_s = receive_wait_s
        self._max_in_flight = max_in_flight
        self._retry_delay = retry_delay
        self._sleep = sleep
        self._pending: dict[str, deque[Delivery]] = {}
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def in_flight(self) -> int:
        """Deliveries received and not yet settled."""
        return sum(len(q) for q in self._pending.values())

    def stop(self) -> None:
        """Stop receiving; lanes finish what they hold (see ``drain``)."""
        self._stopping.set()

    async def run(self) -> None:
        """Receive until ``stop()``; queue outages are waited out with backoff."""
        failures = 0
        if self._held is not None and self._keeping is None:
            self._keeping = asyncio.create_task(self._held.keep_alive(), name="keep-alive")
            self._keeping.add_done_callback(self._lane_done)  # logs a crash, if any
        while not self._stopping.is_set():
            await self._room.wait()
            try:
                deliveries = await self._receive()
            except QueueUnavailable:
                failures += 1
                delay = retry_delay_s(failures, base_s=1.0, cap_s=30.0)
                log.warning("consumer.queue_unavailable", attempt=failures, retry_in_s=delay)
                await self._sleep(delay)
                continue
            failures = 0
            for delivery in deliveries:
                self._dispatch(delivery)

    async def _receive(self) -> list[Delivery]:
        receive = self._queue.receive(max_messages=10, wait_s=self._receive_wait_s)
        return await receive_unless_stopped(receive, self._stopping)

    def _dispatch(self, delivery: Delivery) -> None:
        group = delivery.group_id or "ungrouped"
        self._pending.setdefault(group, deque()).append(delivery)
        if group not in self._lanes:
            lane = asyncio.create_task(self._lane(group), name=f"lane-{group}")
            lane.add_done_callback(self._lane_done)
            self._lanes[group] = lane
        if self.in_flight >= self._max_in_flight:
            self._room.clear()

    async def _lane(self, group: str) -> None:
        pending = self._pending[group]
        try:
            while pending:
                delivery = pending[0]
                try:
                    await self._process(delivery)
                finally:
                    pending.popleft()
                    if self._held is not None:
                        self._held.forget(delivery)
        finally:
            if not pending:
                self._pending.pop(group, None)
            self._lanes.pop(group, None)
            if self.in_flight < self._max_in_flight:
                self._room.set()

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # A bug outside the job boundary (settling, reporting): log it; the guild's remaining
        # deliveries come back after their visibility timeout.
        log.error("consumer.lane_crashed", lane=task.get_name(), exc_info=task.exception())

    async def drain(self, timeout_s: float) -> None:
        """Wait up to timeout_s for lanes to finish, then hand the rest back to the queue."""
        lanes = list(self._lanes.values())
        if lanes:
            _, still_running = await asyncio.wait(lanes, timeout=timeout_s)
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)
        # Jobs received but never started: make them visible again for another worker now.
        for group, pending in list(self._pending.items()):
            while pending:
                await self._release(pending.popleft())
            self._pending.pop(group, None)
        if self._keeping is not None:
            self._keeping.cancel()
            await asyncio.gather(self._keeping, return_exceptions=True)
            self._keeping = None

    async def _release(self, delivery: Delivery) -> None:
        try:
            await self._queue.retry_later(delivery, delay_s=0)
        except QueueUnavailable:
            log.warning("consumer.release_failed", message_id=delivery.message_id)

    async def _unclaim(self, job: AnyJob) -> None:
        try:
            await self._handled.release(job.job_id)
        except StoreUnavailable:
            log.warning("job.unclaim_failed")  # the claim expires on its own

    async def _hand_back(self, delivery: Delivery, job: AnyJob) -> None:
        await self._unclaim(job)
        await self._release(delivery)

    async def _process(self, delivery: Delivery) -> None:
        self._counters.jobs_received += 1
        job = delivery.job
        if job is None:
            self._counters.malformed += 1
            await asyncio.shield(self._settle_malformed(delivery))
            return
        with structlog.contextvars.bound_contextvars(
            **job.log_fields(), receive_count=delivery.receive_count
        ):
            try:
                if self._admit is not None and not await self._admit(self._queue, delivery, job):
                    return  # routed elsewhere (another worker's inbox) or put back for later
                claim = await self._handled.claim(job.job_id, guild_id=job.guild_id)
            except (StoreUnavailable, QueueUnavailable) as exc:
                log.warning("job.admission_failed", error=type(exc).__name__)
                delay = self._retry_delay(delivery.receive_count)
                await asyncio.shield(self._settle(self._queue.retry_later(delivery, delay_s=delay)))
                return
            if claim is JobClaim.DONE:
                self._counters.jobs_duplicate += 1
                log.info("job.duplicate")
                await asyncio.shield(self._settle(self._queue.ack(delivery)))
                return
            if claim is JobClaim.IN_PROGRESS:
                # Another handler holds a live claim (a redelivery while it still runs).
                log.info("job.in_progress_elsewhere")
                await asyncio.shield(self._settle(self._queue.retry_later(delivery, delay_s=5)))
                return
            if delivery.receive_count > self._max_attempts:
                await asyncio.shield(self._give_up(delivery, job, "too_many_attempts"))
                return
            log.info("job.started")
            try:
                reply = await self._handler.handle(job)
            except asyncio.CancelledError:
                # Shutdown mid-job: hand the job back so another worker can run it now.
                await asyncio.shield(self._hand_back(delivery, job))
                raise
            except Exception as exc:
                verdict = classify(exc)
                log.warning(
                    "job.failed",
                    disposition=verdict.disposition.value,
                    reason=verdict.reason,
                    exc_info=verdict.disposition is Disposition.DEAD_LETTER,
                )
                await asyncio.shield(self._settle_failure(delivery, job, verdict))
            else:
                await asyncio.shield(self._settle_success(delivery, job, reply))

    async def _settle_success(self, delivery: Delivery, job: AnyJob, reply: Reply) -> None:
        # Remember the job before reporting: a lost ack must not replay its effect.
        await self._handled.mark_handled(job.job_id)
        self._counters.jobs_succeeded += 1
        log.info("job.succeeded")
        await self._reporter.complete(job, reply)
        await self._settle(self._queue.ack(delivery))

    async def _settle_failure(self, delivery: Delivery, job: AnyJob, verdict: Verdict) -> None:
        if verdict.disposition is Disposition.RETRY:
            if delivery.receive_count >= self._max_attempts:
                await self._give_up(delivery, job, verdict.reason)
                return
            delay = self._retry_delay(delivery.receive_count)
            self._counters.jobs_retried += 1
            log.info("job.retry_later", delay_s=delay)
            await self._unclaim(job)
            await self._settle(self._queue.retry_later(delivery, delay_s=delay))
            return
        await self._handled.mark_handled(job.job_id)
        self._counters.jobs_failed += 1
        if verdict.user_message:
            await self._reporter.complete(job, Reply(verdict.user_message, ephemeral=True))
        if verdict.disposition is Disposition.DEAD_LETTER:
            await self._dead_letter(delivery, verdict.reason)
        else:
            await self._settle(self._queue.ack(delivery))

    async def _settle_malformed(self, delivery: Delivery) -> None:
        """Dead-letter a body this version can't decode; first answer its user when its
        envelope says who (a newer kind in a rolling deploy must not leave "thinking…")."""
        envelope = decode_envelope(delivery.body)
        if envelope is not None:
            newer = envelope.from_newer_version
            log.warning(
                "job.undecodable",
                **envelope.log_fields(),
                newer_version=newer,
                message_id=delivery.message_id,
                error=delivery.error,
            )
            text = UPDATING if newer else GENERIC_FAILURE
            await self._reporter.complete(envelope, Reply(text, ephemeral=True))
        await self._dead_letter(delivery, f"malformed: {delivery.error}")

    async def _give_up(self, delivery: Delivery, job: AnyJob, reason: str) -> None:
        # Marked first, so that a redelivery after a failed dead-letter stays silent.
        await self._handled.mark_handled(job.job_id)
        self._counters.jobs_failed += 1
        log.warning("job.gave_up", reason=reason)
        await self._reporter.complete(job, Reply(GAVE_UP, ephemeral=True))
        await self._dead_letter(delivery, f"gave up after {delivery.receive_count}: {reason}")

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        self._counters.jobs_dead_lettered += 1
        log.warning("job.dead_lettered", message_id=delivery.message_id, reason=reason)
        await self._settle(self._queue.dead_letter(delivery, reason=reason))

    async def _settle(self, operation: Awaitable[None]) -> None:
        try:
            await operation
        except QueueUnavailable:
            # The message will come back after its visibility timeout; the handled-jobs
            # memory makes that redelivery harmless.
            log.warning("job.settle_failed")
