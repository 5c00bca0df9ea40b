"""Routing decisions over a real (SQLite) lease store and the in-process queue: forward to the
owner's inbox, claim a free guild when there is room, offer it again (in order) when not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.jobs import PlayJob, Requester
from shared.queue import Delivery, InMemoryJobQueue, JobQueue
from shared.state import SqliteStateStore
from voice_worker.ownership import Ownership
from voice_worker.routing import Router, Routing


def play(job_id: str, guild_id: str) -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id=guild_id,
        channel_id="200",
        application_id="300",
        interaction_token="tok",
        requester=Requester(user_id="42"),
        query="song",
    )


class RecordingInboxes:
    """Inboxes that remember what was forwarded where (the SQS side is tested on moto)."""

    def __init__(self) -> None:
        self.forwarded: list[tuple[str, str, bool]] = []

    def inbox_url(self, worker_id: str) -> str:
        return f"inbox://{worker_id}"

    async def create_inbox(self, worker_id: str) -> str:
        return self.inbox_url(worker_id)

    async def list_inboxes(self) -> list[str]:
        return []

    async def inbox_empty(self, queue_url: str) -> bool:
        return True

    async def delete_inbox(self, queue_url: str) -> None:
        return None

    async def forward(self, delivery: Delivery, queue_url: str, *, attempted: bool) -> None:
        assert delivery.job is not None
        self.forwarded.append((delivery.job.job_id, queue_url, attempted))

    def at(self, queue_url: str) -> JobQueue:
        raise AssertionError("not used here")


@pytest.fixture
async def store() -> AsyncIterator[SqliteStateStore]:
    opened = SqliteStateStore(":memory:")
    yield opened
    await opened.aclose()


async def test_jobs_go_to_the_owner_and_free_guilds_to_a_worker_with_room(
    store: SqliteStateStore,
) -> None:
    # GIVEN worker "other" owns guild 1, and this worker has room for one guild
    other = Ownership(store, worker_id="other", ttl_s=15, capacity=5)
    assert await other.claim("1") is not None
    me = Ownership(store, worker_id="me", ttl_s=15, capacity=1)
    claimed: list[str] = []

    async def on_claimed(guild_id: str) -> None:
        claimed.append(guild_id)

    inboxes = RecordingInboxes()
    queue = InMemoryJobQueue()
    router = Router(queue, Routing(me, inboxes=inboxes, claimed=on_claimed))
    for job in (
        play("11", "1"),
        play("12", "2"),
        play("13", "2"),
        play("14", "3"),
        play("15", "3"),
    ):
        await queue.send(job)

    # WHEN the shared queue is routed
    assert await router.drain() == 3  # guild 3's second job waits behind its first

    # THEN guild 1's job went to its owner, guild 2 was claimed (room for one) and its jobs
    # came to our own inbox in order, and guild 3 (no room left) was offered again, untouched
    assert inboxes.forwarded == [
        ("11", "inbox://other", False),
        ("12", "inbox://me", False),
        ("13", "inbox://me", False),
    ]
    assert claimed == ["2"] and me.owned == frozenset({"2"})
    assert queue.depth() == 2  # 14 and 15, still in order for another worker
    assert me.full and await me.claim("3") is None


async def test_an_inbox_job_for_a_guild_that_moved_is_forwarded_to_its_new_owner(
    store: SqliteStateStore,
) -> None:
    other = Ownership(store, worker_id="other", ttl_s=15, capacity=5)
    await other.claim("1")
    me = Ownership(store, worker_id="me", ttl_s=15, capacity=5)
    inboxes = RecordingInboxes()
    inbox = InMemoryJobQueue()
    await inbox.send(play("11", "1"))
    await inbox.send(play("12", "2"))
    routing = Routing(me, inboxes=inboxes)

    first, second = await inbox.receive(wait_s=0)
    assert first.job is not None and second.job is not None
    assert not await routing.admit(inbox, first, first.job)  # not ours: passed on
    assert await routing.admit(inbox, second, second.job)  # free: claimed, handle here
    assert inboxes.forwarded == [("11", "inbox://other", True)]
    assert me.holds("2") and not me.holds("1")
