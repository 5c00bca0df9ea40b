"""Recently handled job ids, so a redelivered job has no second effect."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class HandledJobs(Protocol):
    """Remembers job ids that were handled (async so a durable backend fits later)."""

    async def was_handled(self, job_id: str) -> bool:
        """Whether this job id was handled recently."""

    async def mark_handled(self, job_id: str) -> None:
        """Remember this job id as handled."""


class RecentJobs:
    """An in-memory, bounded, expiring set of job ids.

    SQS FIFO drops duplicate sends for 5 minutes, but a receive whose ack was lost comes back
    after the visibility timeout: the TTL covers that window with room to spare.
    """

    def __init__(
        self,
        *,
        ttl_s: float = 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _expire(self) -> None:
        horizon = self._clock() - self._ttl_s
        while self._seen:
            job_id, at = next(iter(self._seen.items()))
            if at > horizon and len(self._seen) <= self._max_entries:
                break
            del self._seen[job_id]

    async def was_handled(self, job_id: str) -> bool:
        """Whether this job id was handled within the TTL."""
        self._expire()
        return job_id in self._seen

    async def mark_handled(self, job_id: str) -> None:
        """Remember this job id."""
        self._seen[job_id] = self._clock()
        self._seen.move_to_end(job_id)
        self._expire()

    def __len__(self) -> int:
        return len(self._seen)
