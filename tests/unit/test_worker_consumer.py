"""The consumer loop over the in-process queue: settle every delivery the right way.

GIVEN a queue with SQS FIFO semantics and a scripted handler, WHEN the consumer runs, THEN each
job is acked, retried, answered or dead-lettered, in order per guild, at most once in effect.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from shared.jobs import AnyJob, JobEnvelope, PlayJob, Requester
from shared.queue import Delivery, InMemoryJobQueue, QueueUnavailable
from voice_worker.consumer import UPDATING, Consumer
from voice_worker.errors import NotInVoice
from voice_worker.failures import GAVE_UP, GENERIC_FAILURE
from voice_worker.idempotency import RecentJobs
from voice_worker.metrics import WorkerCounters
from voice_worker.reporting import Reply

Behaviour = Callable[[AnyJob, int], Reply]


async def until(predicate: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Poll ``predicate`` until it is true (state changes here have no event to wait on)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


def job(job_id: str, guild: str = "100", query: str = "q") -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id=guild,
        channel_id="200",
        application_id="300",
        interaction_token="aW50ZXJhY3Rpb246tok",
        requester=Requester(user_id="400"),
        query=query,
    )


@dataclass
class RecordingReporter:
    """Our Reporter interface, recording instead of calling Discord."""

    completed: list[tuple[str, Reply]] = field(default_factory=list)

    async def complete(self, job: AnyJob | JobEnvelope, reply: Reply) -> None:
        self.completed.append((job.job_id, reply))

    async def notify(self, channel_id: str, text: str) -> None:
        raise AssertionError("the consumer never posts channel notices")


@dataclass
class ScriptedHandler:
    """Runs a behaviour per job id; counts attempts and records the order of handling."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    order: list[str] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)

    async def handle(self, job: AnyJob) -> Reply:
        self.attempts[job.job_id] += 1
        await asyncio.sleep(self.delays.get(job.job_id, 0))
        self.order.append(job.job_id)
        behaviour = self.behaviours.get(job.job_id)
        if behaviour is None:
            return Reply(f"done {job.job_id}")
        return behaviour(job, self.attempts[job.job_id])


@dataclass
class Harness:
    queue: InMemoryJobQueue
    handler: ScriptedHandler
    reporter: RecordingReporter
    counters: WorkerCounters
    consumer: Consumer

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Wait until the queue is empty and nothing is in flight."""
        await until(lambda: not self.queue.depth() and not self.consumer.in_flight, timeout_s)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    queue = InMemoryJobQueue(max_receives=10)
    handler = ScriptedHandler()
    reporter = RecordingReporter()
    counters = WorkerCounters()
    consumer = Consumer(
        queue,
        handler,
        reporter,
        RecentJobs(),
        counters,
        max_attempts=3,
        receive_wait_s=0.05,
        retry_delay=lambda n: 0.0,
    )
    task = asyncio.create_task(consumer.run())
    yield Harness(queue, handler, reporter, counters, consumer)
    consumer.stop()
    await task
    await consumer.drain(1.0)


async def test_success_is_reported_then_acked(harness: Harness) -> None:
    await harness.queue.send(job("1"))
    await harness.settle()
    assert harness.reporter.completed == [("1", Reply("done 1"))]
    assert harness.counters.jobs_succeeded == 1
    assert harness.queue.depth() == 0


async def test_user_facing_error_is_answered_ephemerally_and_acked(harness: Harness) -> None:
    def not_in_voice(job: AnyJob, attempt: int) -> Reply:
        raise NotInVoice("not_in_voice")

    harness.handler.behaviours["1"] = not_in_voice
    await harness.queue.send(job("1"))
    await harness.settle()
    assert harness.reporter.completed == [("1", Reply("Join a voice channel first.", True))]
    assert harness.handler.attempts["1"] == 1
    assert harness.counters.jobs_failed == 1
    assert harness.queue.dead_letters == []


async def test_transient_error_is_retried_until_it_works(harness: Harness) -> None:
    def flaky(job: AnyJob, attempt: int) -> Reply:
        if attempt < 3:
            raise QueueUnavailable("not now")
        return Reply("third time lucky")

    harness.handler.behaviours["1"] = flaky
    await harness.queue.send(job("1"))
    await harness.settle()
    assert harness.handler.attempts["1"] == 3
    assert harness.counters.jobs_retried == 2
    # The user heard nothing about the retries, only the outcome.
    assert harness.reporter.completed == [("1", Reply("third time lucky"))]


async def test_too_many_attempts_dead_letters_and_tells_once(harness: Harness) -> None:
    def always_down(job: AnyJob, attempt: int) -> Reply:
        raise QueueUnavailable("down")

    harness.handler.behaviours["1"] = always_down
    await harness.queue.send(job("1"))
    await harness.settle()
    assert harness.handler.attempts["1"] == 3
    assert harness.reporter.completed == [("1", Reply(GAVE_UP, True))]
    assert [reason for _, reason in harness.queue.dead_letters] == [
        "gave up after 3: QueueUnavailable"
    ]
    assert harness.counters.jobs_dead_lettered == 1


async def test_bug_is_dead_lettered_with_a_generic_answer(harness: Harness) -> None:
    def bug(job: AnyJob, attempt: int) -> Reply:
        raise KeyError("secret detail")

    harness.handler.behaviours["1"] = bug
    await harness.queue.send(job("1"))
    await harness.queue.send(job("2"))
    await harness.settle()
    assert harness.reporter.completed[0] == ("1", Reply(GENERIC_FAILURE, True))
    assert [reason for _, reason in harness.queue.dead_letters] == ["unexpected:KeyError"]
    # The guild's next job still ran.
    assert harness.reporter.completed[1] == ("2", Reply("done 2"))


async def test_guilds_run_concurrently_and_each_in_order(harness: Harness) -> None:
    harness.handler.delays["11"] = 0.3
    await harness.queue.send(job("11", guild="1"))
    await harness.queue.send(job("12", guild="1"))
    await harness.queue.send(job("21", guild="2"))
    await harness.settle()
    assert harness.handler.order == ["21", "11", "12"]


class PoisonedQueue(InMemoryJobQueue):
    """The in-process queue plus one undecodable message at the head of the first receive."""

    def __init__(self) -> None:
        super().__init__()
        self.poison: Delivery | None = Delivery.decode(
            message_id="m-1", receipt="r-1", body="{not json", group_id="100", receive_count=1
        )
        self.poison_dead: list[str] = []

    async def receive(
        self, *, max_messages: int = 10, wait_s: float = 20.0, visibility_s: float | None = None
    ) -> list[Delivery]:
        poison, self.poison = self.poison, None
        if poison is not None:
            return [poison]
        return await super().receive(
            max_messages=max_messages, wait_s=wait_s, visibility_s=visibility_s
        )

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        if delivery.message_id == "m-1":
            self.poison_dead.append(reason)
            return
        await super().dead_letter(delivery, reason=reason)


async def test_malformed_message_is_dead_lettered_and_the_loop_goes_on() -> None:
    queue = PoisonedQueue()
    reporter, counters = RecordingReporter(), WorkerCounters()
    consumer = Consumer(
        queue, ScriptedHandler(), reporter, RecentJobs(), counters, receive_wait_s=0.05
    )
    task = asyncio.create_task(consumer.run())
    await queue.send(job("2"))
    await until(lambda: counters.jobs_succeeded >= 1)
    consumer.stop()
    await task
    assert queue.poison_dead and queue.poison_dead[0].startswith("malformed:")
    assert counters.malformed == 1
    assert reporter.completed == [("2", Reply("done 2"))]


class UndecodableQueue(PoisonedQueue):
    """A poisoned queue whose poison is a job's body with some fields changed."""

    def __init__(self, **changes: object) -> None:
        super().__init__()
        body = json.dumps({**json.loads(job("9").model_dump_json()), **changes})
        self.poison = Delivery.decode(
            message_id="m-1", receipt="r-1", body=body, group_id="100", receive_count=1
        )


@pytest.mark.parametrize(
    ("changes", "answer"),
    [
        ({"kind": "dance", "tempo": 120}, UPDATING),  # a kind from a newer front door
        ({"schema_version": 2}, UPDATING),  # a schema from a newer front door
        ({"query": ""}, GENERIC_FAILURE),  # a kind this version knows, with a bad field
    ],
)
async def test_an_undecodable_job_with_an_envelope_is_answered_then_dead_lettered(
    changes: dict[str, object], answer: str
) -> None:
    # GIVEN a message the worker can't decode, but whose envelope names the interaction
    queue = UndecodableQueue(**changes)
    assert queue.poison is not None and queue.poison.job is None
    reporter, counters = RecordingReporter(), WorkerCounters()
    handler = ScriptedHandler()
    consumer = Consumer(queue, handler, reporter, RecentJobs(), counters, receive_wait_s=0.05)
    task = asyncio.create_task(consumer.run())
    await queue.send(job("2"))
    await until(lambda: counters.jobs_succeeded >= 1)
    consumer.stop()
    await task
    # THEN the user's deferred reply is completed (privately) instead of left "thinking"
    assert reporter.completed[0] == ("9", Reply(answer, ephemeral=True))
    # AND, as before, it is not processed and ends in the DLQ as malformed; the loop goes on
    assert "9" not in handler.order
    assert queue.poison_dead and queue.poison_dead[0].startswith("malformed:")
    assert counters.malformed == 1
    assert reporter.completed[1:] == [("2", Reply("done 2"))]


async def test_redelivered_job_has_no_second_effect() -> None:
    # dedup_window_s=0: the queue lets the same job id in twice, as a lost ack would.
    queue = InMemoryJobQueue(dedup_window_s=0)
    handler, reporter, counters = ScriptedHandler(), RecordingReporter(), WorkerCounters()
    consumer = Consumer(queue, handler, reporter, RecentJobs(), counters, receive_wait_s=0.05)
    task = asyncio.create_task(consumer.run())
    await queue.send(job("1"))
    await queue.send(job("1"))
    await until(lambda: not queue.depth() and not consumer.in_flight)
    consumer.stop()
    await task
    assert handler.attempts["1"] == 1
    assert counters.jobs_duplicate == 1
    assert len(reporter.completed) == 1


async def test_drain_hands_unfinished_jobs_back_to_the_queue() -> None:
    queue = InMemoryJobQueue()
    handler = ScriptedHandler(delays={"99": 30.0})
    consumer = Consumer(
        queue, handler, RecordingReporter(), RecentJobs(), WorkerCounters(), receive_wait_s=0.05
    )
    task = asyncio.create_task(consumer.run())
    await queue.send(job("99"))
    await until(lambda: handler.attempts)
    consumer.stop()
    await task
    await consumer.drain(0.1)
    # Visible again at once, for another worker: a second receive gets it.
    again = await queue.receive(wait_s=0.1)
    assert [d.job.job_id for d in again if d.job] == ["99"]
    assert again[0].receive_count == 2
