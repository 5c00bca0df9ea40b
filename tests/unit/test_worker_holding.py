"""HeldQueue over the in-process queue with a manual clock: held while alive, back when not.

GIVEN deliveries received through a short hold, WHEN the holder extends, settles or forgets
them, THEN they stay invisible exactly while held, and a settle is never undone.
"""

from __future__ import annotations

from shared.jobs import PlayJob, Requester
from shared.queue import InMemoryJobQueue
from voice_worker.holding import HeldQueue


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def play(job_id: str, guild: str = "100") -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id=guild,
        channel_id="200",
        application_id="300",
        interaction_token="tok",
        requester=Requester(user_id="42", display_name="ann"),
        query="q",
    )


def setup() -> tuple[Clock, InMemoryJobQueue, HeldQueue]:
    clock = Clock()
    queue = InMemoryJobQueue(visibility_timeout_s=600, clock=clock)
    return clock, queue, HeldQueue(queue, hold_s=6)


async def test_receive_uses_the_short_hold_not_the_queue_default() -> None:
    clock, queue, held = setup()
    await queue.send(play("1"))
    await held.receive(wait_s=0)
    assert held.held == 1
    clock.now = 5.9
    assert await queue.receive(wait_s=0) == []
    clock.now = 6.1  # nobody extended it (its holder died): back long before 600 s
    assert [d.job.job_id for d in await queue.receive(wait_s=0) if d.job] == ["1"]


async def test_extending_keeps_a_delivery_hidden_past_the_hold() -> None:
    clock, queue, held = setup()
    await queue.send(play("1"))
    await held.receive(wait_s=0)
    for now in (4.0, 8.0, 12.0):
        clock.now = now
        await held.extend()
    clock.now = 17.0
    assert await queue.receive(wait_s=0) == []
    clock.now = 18.1
    assert len(await queue.receive(wait_s=0)) == 1


async def test_settled_deliveries_are_no_longer_extended() -> None:
    _, queue, held = setup()
    await queue.send(play("1"))
    await queue.send(play("2", guild="101"))
    first, second = await held.receive(wait_s=0)
    await held.ack(first)
    await held.retry_later(second, delay_s=0)
    assert held.held == 0
    await held.extend()  # must not hide the job put back
    assert [d.job.job_id for d in await queue.receive(wait_s=0) if d.job] == ["2"]


async def test_a_forgotten_delivery_shows_again_after_the_hold() -> None:
    clock, queue, held = setup()
    await queue.send(play("1"))
    (delivery,) = await held.receive(wait_s=0)
    held.forget(delivery)
    clock.now = 4.0
    await held.extend()
    clock.now = 6.1
    assert len(await queue.receive(wait_s=0)) == 1
