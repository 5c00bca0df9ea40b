"""The consumer over the SQS backend (moto's server): settle, retry and dead-letter for real."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from shared.jobs import AnyJob, JobEnvelope, PlayJob, Requester
from shared.queue import QueueUnavailable, SqsJobQueue
from tests.fixtures_aws import MotoServer
from tests.unit.test_worker_consumer import until
from voice_worker.consumer import UPDATING, Consumer
from voice_worker.idempotency import RecentJobs
from voice_worker.metrics import WorkerCounters
from voice_worker.reporting import Reply


def play(job_id: str) -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id="100",
        channel_id="200",
        application_id="300",
        interaction_token="aW50ZXJhY3Rpb246tok",
        requester=Requester(user_id="42"),
        query="song",
    )


class Recorder:
    """Reporter and handler in one: records replies, fails job 2 once with a retryable error."""

    def __init__(self) -> None:
        self.replies: list[tuple[str, str]] = []
        self.attempts: dict[str, int] = {}

    async def handle(self, job: AnyJob) -> Reply:
        self.attempts[job.job_id] = self.attempts.get(job.job_id, 0) + 1
        if job.job_id == "2" and self.attempts[job.job_id] == 1:
            raise QueueUnavailable("try again")
        return Reply(f"ok {job.job_id}")

    async def complete(self, job: AnyJob | JobEnvelope, reply: Reply) -> None:
        self.replies.append((job.job_id, reply.text))

    async def notify(self, channel_id: str, text: str) -> None:
        raise AssertionError("not used")


def jobs_queue(moto_server: MotoServer) -> tuple[SqsJobQueue, str, str]:
    """A FIFO jobs queue and its DLQ, as deployed: the worker's client and both URLs."""
    queue_url, dlq_url = moto_server.create_fifo_queue(max_receives=5)
    sqs = SqsJobQueue(
        queue_url,
        region=moto_server.region,
        endpoint_url=moto_server.endpoint_url,
        dead_letter_url=dlq_url,
    )
    return sqs, queue_url, dlq_url


async def consume_until(
    sqs: SqsJobQueue, done: Callable[[WorkerCounters], bool]
) -> tuple[Recorder, WorkerCounters]:
    """Run a consumer over ``sqs`` until ``done(counters)``, then stop it and close the queue."""
    recorder, counters = Recorder(), WorkerCounters()
    consumer = Consumer(
        sqs, recorder, recorder, RecentJobs(), counters, receive_wait_s=1, retry_delay=lambda n: 0
    )
    task = asyncio.create_task(consumer.run())
    try:
        await until(lambda: done(counters), timeout_s=30)
    finally:
        consumer.stop()
        await task
        await sqs.aclose()
    return recorder, counters


def dead_letters(boto: Any, dlq_url: str) -> list[dict[str, Any]]:
    """The messages in the DLQ, with their attributes (``boto``: a boto3 SQS client)."""
    messages: list[dict[str, Any]] = boto.receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"]
    )["Messages"]
    return messages


async def test_consumer_over_sqs_acks_retries_and_dead_letters(moto_server: MotoServer) -> None:
    # GIVEN a body no worker can decode, then job 1 and job 2 (which fails once), on real SQS
    sqs, queue_url, dlq_url = jobs_queue(moto_server)
    boto = moto_server.client("sqs")
    boto.send_message(
        QueueUrl=queue_url,
        MessageBody='{"kind": "dance"}',
        MessageGroupId="100",
        MessageDeduplicationId="poison",
    )
    await sqs.send(play("1"))
    await sqs.send(play("2"))
    # WHEN the worker consumes until both jobs succeeded
    recorder, counters = await consume_until(sqs, lambda c: c.jobs_succeeded >= 2)
    # THEN each job is answered once (job 2 after a retry), the poison is dead-lettered as
    # malformed, and the queue is empty
    assert recorder.replies == [("1", "ok 1"), ("2", "ok 2")]
    assert recorder.attempts == {"1": 1, "2": 2}
    assert counters.malformed == 1 and counters.jobs_retried == 1
    dead = dead_letters(boto, dlq_url)
    assert [m["Body"] for m in dead] == ['{"kind": "dance"}']
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"].startswith("malformed")
    left = boto.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"


async def test_a_job_of_a_newer_kind_is_answered_then_dead_lettered(
    moto_server: MotoServer,
) -> None:
    # GIVEN a job of a kind only a newer front door sends (a rolling deploy), on real SQS
    sqs, queue_url, dlq_url = jobs_queue(moto_server)
    body = json.dumps({**json.loads(play("7").model_dump_json()), "kind": "lyrics"})
    boto = moto_server.client("sqs")
    boto.send_message(
        QueueUrl=queue_url, MessageBody=body, MessageGroupId="100", MessageDeduplicationId="7"
    )
    await sqs.send(play("1"))
    # WHEN the worker consumes until the job it knows has succeeded
    recorder, counters = await consume_until(sqs, lambda c: c.jobs_succeeded >= 1)
    # THEN its user is told, it is never handled, and it ends in the DLQ as malformed
    assert recorder.replies == [("7", UPDATING), ("1", "ok 1")]
    assert "7" not in recorder.attempts
    assert counters.malformed == 1
    dead = dead_letters(boto, dlq_url)
    assert [m["Body"] for m in dead] == [body]
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"].startswith("malformed")
