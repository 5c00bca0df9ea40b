"""The queue (SQS) and the state store (DynamoDB) unavailable for a while: moto's server is
stopped and started again. Workers wait the outage out and lose no job; the store says
"unavailable" (never a wrong answer) and keeps what it had."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from shared.jobs import AnyJob, JobEnvelope, PlayJob, Requester
from shared.queue import SqsJobQueue
from shared.state import JobClaim, StoreUnavailable
from shared.state.dynamodb import DynamoDbStateStore
from tests.fixtures_aws import REGION, MotoProcess
from voice_worker.consumer import Consumer
from voice_worker.idempotency import LedgerJobs
from voice_worker.metrics import WorkerCounters
from voice_worker.reporting import Reply

OUTAGE_S = 8.0


def play(job_id: str, guild_id: str) -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id=guild_id,
        channel_id="200",
        application_id="300",
        interaction_token="aW50ZXJhY3Rpb246outage",
        requester=Requester(user_id="42"),
        query=f"song {job_id}",
    )


class Recorder:
    """Handler and reporter: counts every run of every job; replies are collected."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.replies: list[str] = []

    async def handle(self, job: AnyJob) -> Reply:
        self.runs[job.job_id] += 1
        return Reply(f"ok {job.job_id}")

    async def complete(self, job: AnyJob | JobEnvelope, reply: Reply) -> None:
        self.replies.append(job.job_id)

    async def notify(self, channel_id: str, text: str) -> None:
        raise AssertionError("not used")


async def until(predicate: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def moto() -> AsyncIterator[MotoProcess]:
    """A moto server of this test's own: the session's must stay up for everyone else."""
    process = MotoProcess()
    process.start()
    yield process
    process.stop()


async def test_queue_and_store_down_for_a_while_lose_no_job_and_run_none_twice(
    moto: MotoProcess,
) -> None:
    # GIVEN a worker's consumer on SQS, with its job ledger in DynamoDB, and jobs queued
    queue_url, dlq_url = moto.server.create_fifo_queue(visibility_timeout_s=3, max_receives=10)
    store = DynamoDbStateStore(
        moto.server.create_state_table(), region=REGION, endpoint_url=moto.server.endpoint_url
    )
    queue = SqsJobQueue(
        queue_url, region=REGION, endpoint_url=moto.server.endpoint_url, dead_letter_url=dlq_url
    )
    before = [play(str(n), guild_id=str(100 + n % 3)) for n in range(1, 7)]
    for job in before:
        await queue.send(job)
    recorder, counters = Recorder(), WorkerCounters()
    consumer = Consumer(
        queue,
        recorder,
        recorder,
        LedgerJobs(store, owner="worker-1", claim_ttl_s=30),
        counters,
        receive_wait_s=1,
        retry_delay=lambda n: 0.5,
    )
    task = asyncio.create_task(consumer.run())
    try:
        with capture_logs(processors=[merge_contextvars]) as logs:
            await until(lambda: len(recorder.replies) == len(before), timeout_s=30)
            # WHEN both services go away for a while, and jobs arrive as soon as they are back
            moto.stop()
            await asyncio.sleep(OUTAGE_S)
            assert not task.done()  # the worker waits the outage out, it does not crash
            moto.start()
            after = [play(str(n), guild_id=str(100 + n % 3)) for n in range(7, 13)]
            for job in after:
                await queue.send(job)
            await until(lambda: len(recorder.replies) == len(before) + len(after), timeout_s=60)
    finally:
        consumer.stop()
        await task
        await queue.aclose()
        await store.aclose()
    # THEN every job ran exactly once, in each guild's order, and none was dead-lettered
    assert recorder.runs == Counter({job.job_id: 1 for job in before + after})
    for guild in ("100", "101", "102"):
        ids = [i for i in recorder.replies if str(100 + int(i) % 3) == guild]
        assert ids == sorted(ids, key=int)
    assert counters.jobs_dead_lettered == 0
    assert moto.server.client("sqs").receive_message(QueueUrl=dlq_url).get("Messages") is None
    # The operator saw the outage: one warning per failed poll, with the attempt and backoff.
    outage = [line for line in logs if line["event"] == "consumer.queue_unavailable"]
    assert outage and all("retry_in_s" in line for line in outage), {line["event"] for line in logs}


async def test_the_store_answers_unavailable_during_an_outage_and_keeps_its_data(
    moto: MotoProcess,
) -> None:
    store = DynamoDbStateStore(
        moto.server.create_state_table(), region=REGION, endpoint_url=moto.server.endpoint_url
    )
    try:
        # GIVEN a claimed job and a finished one
        assert await store.claim_job("1", owner="w1", ttl_s=60) is JobClaim.CLAIMED
        assert await store.claim_job("2", owner="w1", ttl_s=60) is JobClaim.CLAIMED
        await store.finish_job("2")
        # WHEN the store is down
        moto.stop()
        started = time.monotonic()
        # THEN each call fails fast with StoreUnavailable: never "claimed" or "not found"
        with pytest.raises(StoreUnavailable):
            await store.claim_job("3", owner="w1", ttl_s=60)
        with pytest.raises(StoreUnavailable):
            await store.finish_job("1")
        assert time.monotonic() - started < 20  # bounded by connect timeout x retries
        # WHEN it is back THEN what it held is intact
        moto.start()
        assert await store.claim_job("1", owner="w2", ttl_s=60) is JobClaim.IN_PROGRESS
        assert await store.claim_job("2", owner="w2", ttl_s=60) is JobClaim.DONE
        assert await store.claim_job("3", owner="w2", ttl_s=60) is JobClaim.CLAIMED
    finally:
        await store.aclose()
