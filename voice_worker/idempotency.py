"""Handled job ids, so a redelivered job has no second effect.

``LedgerJobs`` keeps them in the StateStore's JobLedger, shared by every worker (a job
redelivered to another worker, or after a restart, is still recognised); ``RecentJobs`` is
the in-memory fallback for tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from shared.state import GuildStates, JobClaim, JobLedger


class HandledJobs(Protocol):
    """Remembers job ids that were handled, and who is handling one now."""

    async def claim(self, job_id: str, *, guild_id: str | None = None) -> JobClaim:
        """CLAIMED: handle it; IN_PROGRESS: someone else is, come back later; DONE: ack it."""

    async def release(self, job_id: str) -> None:
        """Give a claim back: the handling failed and will be retried."""

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

    async def claim(self, job_id: str, *, guild_id: str | None = None) -> JobClaim:
        """DONE if handled within the TTL, else CLAIMED (one process: nobody else handles)."""
        return JobClaim.DONE if await self.was_handled(job_id) else JobClaim.CLAIMED

    async def release(self, job_id: str) -> None:
        """Nothing to give back in memory."""

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


class LedgerJobs:
    """HandledJobs over the StateStore's JobLedger: claims expire, so a dead handler's job runs.

    The claim lasts about as long as the job's SQS visibility timeout: when the message comes
    back after its handler died, the claim is free again.
    """

    def __init__(
        self,
        ledger: JobLedger,
        *,
        owner: str,
        states: GuildStates | None = None,
        claim_ttl_s: float = 90.0,
    ) -> None:
        self._ledger = ledger
        self._owner = owner
        self._states = states
        self._claim_ttl_s = claim_ttl_s

    async def claim(self, job_id: str, *, guild_id: str | None = None) -> JobClaim:
        """Claim the job for this worker; DONE too when the guild's state already holds it.

        A handler that saved the job's effect but died before finish_job left an expired
        claim: the guild state's applied job ids still recognise the job (docs/state.md).
        """
        claim = await self._ledger.claim_job(job_id, owner=self._owner, ttl_s=self._claim_ttl_s)
        if claim is JobClaim.CLAIMED and guild_id is not None and self._states is not None:
            state = await self._states.get_guild(guild_id)
            if state is not None and state.applied(job_id):
                await self._ledger.finish_job(job_id)
                return JobClaim.DONE
        return claim

    async def release(self, job_id: str) -> None:
        """Drop our claim so the retry can claim it."""
        await self._ledger.release_job(job_id, owner=self._owner)

    async def mark_handled(self, job_id: str) -> None:
        """Record the job as done."""
        await self._ledger.finish_job(job_id)
