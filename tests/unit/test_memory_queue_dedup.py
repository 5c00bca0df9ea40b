"""The in-process queue's dedup window behaves like SQS FIFO's: per job id, for a bounded time."""

from __future__ import annotations

from shared.jobs import PlayJob, Requester
from shared.queue.memory import InMemoryJobQueue


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _job(job_id: str) -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id="1187000000000000002",
        channel_id="1187000000000000003",
        application_id="1187000000000000004",
        interaction_token="aW50ZXJhY3Rpb246c2VjcmV0",
        requester=Requester(user_id="1187000000000000005"),
        query="q",
    )


async def test_duplicate_inside_the_window_is_dropped_and_accepted_after_it() -> None:
    clock = _Clock()
    queue = InMemoryJobQueue(dedup_window_s=300.0, clock=clock)
    await queue.send(_job("1187000000000000010"))
    clock.now += 299.0
    await queue.send(_job("1187000000000000010"))
    assert queue.depth() == 1
    clock.now += 2.0  # the first send is now 301 s old: SQS would accept the id again
    await queue.send(_job("1187000000000000010"))
    assert queue.depth() == 2


async def test_expired_ids_are_pruned_but_live_ones_kept() -> None:
    clock = _Clock()
    queue = InMemoryJobQueue(dedup_window_s=10.0, clock=clock)
    for n in range(5):
        await queue.send(_job(f"11870000000000001{n:02d}"))
        clock.now += 3.0
    # ids sent at +0 and +3 have expired at +15; those at +6, +9, +12 are still live
    await queue.send(_job("1187000000000000106"))
    for n in (2, 3, 4):
        await queue.send(_job(f"11870000000000001{n:02d}"))
    for n in (0, 1):
        await queue.send(_job(f"11870000000000001{n:02d}"))
    assert queue.depth() == 5 + 1 + 2
