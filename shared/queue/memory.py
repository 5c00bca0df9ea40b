"""An in-process JobQueue with SQS FIFO semantics, for the embedded mode and tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from shared.jobs import AnyJob, encode_job
from shared.queue.base import Delivery


@dataclass(slots=True)  # no __dict__: one object fewer per queued job for the collector
class _Message:
    message_id: str
    job: AnyJob  # frozen: its JSON cannot change between send and first receive
    group_id: str
    receive_count: int = 0
    visible_at: float = 0.0
    receipt: str = ""
    _body: str | None = None

    @property
    def body(self) -> str:
        """The job as SQS would carry it, encoded on first receive rather than in send: the
        front door answers Discord after send, and the worker decodes this text as it would
        an SQS body, so the job still crosses the same contract."""
        if self._body is None:
            self._body = encode_job(self.job)
        return self._body


class InMemoryJobQueue:
    """FIFO per guild, one in-flight job per guild, dedup by job id, redrive after max receives.

    Behaves like an SQS FIFO queue so the worker's logic is exercised the same way in both modes.
    """

    # send() never awaits (no I/O), so it cannot hang: the front door skips the enqueue
    # timeout it puts around a network send (interactions/commands/enqueue.py).
    send_never_waits: ClassVar[bool] = True

    def __init__(
        self,
        *,
        visibility_timeout_s: float = 120.0,
        max_receives: int = 5,
        dedup_window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._visibility_timeout_s = visibility_timeout_s
        self._max_receives = max_receives
        self._dedup_window_s = dedup_window_s
        self._clock = clock
        self._groups: dict[str, deque[_Message]] = {}
        self._seen: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self.dead_letters: list[tuple[str, str]] = []

    async def send(self, job: AnyJob) -> None:
        """Enqueue unless the same job id was sent within the dedup window."""
        now = self._clock()
        # Insertion order is send order: expired ids are all at the front, so pruning stops at
        # the first live one instead of rebuilding the dict on every send.
        while self._seen:
            oldest_id, sent_at = next(iter(self._seen.items()))
            if now - sent_at < self._dedup_window_s:
                break
            del self._seen[oldest_id]
        if job.job_id in self._seen:
            return
        self._seen[job.job_id] = now
        message = _Message(str(next(self._ids)), job, job.guild_id)
        self._groups.setdefault(job.guild_id, deque()).append(message)
        self._changed.set()

    def depth(self) -> int:
        """Messages waiting or in flight."""
        return sum(len(group) for group in self._groups.values())

    def _take_ready(self, max_messages: int, visibility_s: float | None = None) -> list[Delivery]:
        now = self._clock()
        ready: list[Delivery] = []
        for group_id, group in list(self._groups.items()):
            if len(ready) >= max_messages:
                break
            head = group[0]
            if head.visible_at > now:
                continue  # in flight: the rest of this guild waits, as in SQS FIFO
            if head.receive_count >= self._max_receives:
                group.popleft()
                self.dead_letters.append((head.body, "max receives exceeded"))
                if not group:
                    del self._groups[group_id]
                continue
            head.receive_count += 1
            head.visible_at = now + (
                self._visibility_timeout_s if visibility_s is None else visibility_s
            )
            head.receipt = f"{head.message_id}:{head.receive_count}"
            ready.append(
                Delivery.decode(
                    message_id=head.message_id,
                    receipt=head.receipt,
                    body=head.body,
                    group_id=group_id,
                    receive_count=head.receive_count,
                )
            )
        return ready

    async def receive(
        self, *, max_messages: int = 10, wait_s: float = 20.0, visibility_s: float | None = None
    ) -> list[Delivery]:
        """Wait up to wait_s for visible jobs at the head of their guild's line."""
        deadline = self._clock() + wait_s
        while True:
            self._changed.clear()
            ready = self._take_ready(max_messages, visibility_s)
            remaining = deadline - self._clock()
            if ready or remaining <= 0:
                return ready
            # Wake on a send/settle, or soon enough to notice a visibility timeout expiring.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))

    def _find(self, delivery: Delivery) -> tuple[deque[_Message], _Message] | None:
        group = self._groups.get(delivery.group_id)
        if group and group[0].receipt == delivery.receipt:
            return group, group[0]
        return None  # stale receipt: the message was redelivered or already settled

    async def ack(self, delivery: Delivery) -> None:
        """Remove the job for good."""
        found = self._find(delivery)
        if found:
            group, _ = found
            group.popleft()
            if not group:
                del self._groups[delivery.group_id]
            self._changed.set()

    async def retry_later(self, delivery: Delivery, *, delay_s: float) -> None:
        """Make the job visible again after delay_s."""
        found = self._find(delivery)
        if found:
            found[1].visible_at = self._clock() + delay_s
            self._changed.set()

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Move the job aside; the guild's next job becomes available."""
        if self._find(delivery):
            self.dead_letters.append((delivery.body, reason))
            await self.ack(delivery)

    async def aclose(self) -> None:
        """Nothing to release."""
