"""The SQS backend against moto's server: FIFO group and dedup ids, order, redrive."""

from __future__ import annotations

import pytest

from shared.jobs import ControlJob, PlayJob, Requester
from shared.queue import Delivery, InMemoryJobQueue, JobQueue, SqsJobQueue
from tests.fixtures_aws import MotoServer

REQUESTER = Requester(user_id="42", display_name="ann")


def play(job_id: str, guild_id: str = "100", query: str = "song") -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id=guild_id,
        channel_id="200",
        application_id="300",
        interaction_token="tok",
        requester=REQUESTER,
        query=query,
    )


def control(job_id: str, kind: str, guild_id: str = "100") -> ControlJob:
    return ControlJob(
        job_id=job_id,
        guild_id=guild_id,
        channel_id="200",
        application_id="300",
        interaction_token="tok",
        requester=REQUESTER,
        kind=kind,
    )


@pytest.fixture(params=["sqs", "memory"])
async def queue_and_dlq(request: pytest.FixtureRequest, moto_server: MotoServer):  # type: ignore[no-untyped-def]
    """Both backends behind one contract."""
    if request.param == "memory":
        memory = InMemoryJobQueue(visibility_timeout_s=30, max_receives=2)
        yield memory, None
        return
    queue_url, dlq_url = moto_server.create_fifo_queue(max_receives=2)
    sqs = SqsJobQueue(
        queue_url,
        region=moto_server.region,
        endpoint_url=moto_server.endpoint_url,
        dead_letter_url=dlq_url,
    )
    yield sqs, (queue_url, dlq_url)
    await sqs.aclose()


async def drain(queue: JobQueue) -> list[str]:
    """Receive and ack everything, returning job ids in delivery order."""
    seen: list[str] = []
    while batch := await queue.receive(max_messages=10, wait_s=0):
        for delivery in batch:
            assert delivery.job is not None
            seen.append(delivery.job.job_id)
            await queue.ack(delivery)
    return seen


async def test_sqs_message_carries_guild_group_and_interaction_dedup_id(
    moto_server: MotoServer,
) -> None:
    # GIVEN a FIFO queue on the moto server
    queue_url, _ = moto_server.create_fifo_queue()
    queue = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    # WHEN a play job is sent
    await queue.send(play("1111", guild_id="777"))
    await queue.aclose()
    # THEN the raw SQS message has the guild as group and the interaction id as dedup id
    raw = moto_server.client("sqs").receive_message(
        QueueUrl=queue_url,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )["Messages"]
    assert len(raw) == 1
    assert raw[0]["Attributes"]["MessageGroupId"] == "777"
    assert raw[0]["Attributes"]["MessageDeduplicationId"] == "1111"
    assert raw[0]["MessageAttributes"]["kind"]["StringValue"] == "play"


async def test_same_interaction_twice_is_enqueued_once(queue_and_dlq) -> None:  # type: ignore[no-untyped-def]
    queue, _ = queue_and_dlq
    await queue.send(play("2001"))
    await queue.send(play("2001"))
    assert await drain(queue) == ["2001"]


async def test_jobs_of_one_guild_arrive_in_order(queue_and_dlq) -> None:  # type: ignore[no-untyped-def]
    queue, _ = queue_and_dlq
    ids = [str(3000 + i) for i in range(6)]
    for job_id in ids:
        await queue.send(control(job_id, "skip"))
    assert await drain(queue) == ids


async def test_malformed_body_becomes_an_error_not_an_exception(moto_server: MotoServer) -> None:
    queue_url, dlq_url = moto_server.create_fifo_queue()
    moto_server.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody='{"kind": "explode"}',
        MessageGroupId="g",
        MessageDeduplicationId="d1",
    )
    queue = SqsJobQueue(
        queue_url,
        region=moto_server.region,
        endpoint_url=moto_server.endpoint_url,
        dead_letter_url=dlq_url,
    )
    [delivery] = await queue.receive(wait_s=0)
    assert delivery.job is None and delivery.error
    await queue.dead_letter(delivery, reason="malformed")
    assert await queue.receive(wait_s=0) == []
    await queue.aclose()
    dead = moto_server.client("sqs").receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"]
    )["Messages"]
    assert dead[0]["Body"] == '{"kind": "explode"}'
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"] == "malformed"


async def test_retry_later_redelivers_with_higher_receive_count(queue_and_dlq) -> None:  # type: ignore[no-untyped-def]
    queue, _ = queue_and_dlq
    await queue.send(play("4001"))
    [first] = await queue.receive(wait_s=0)
    await queue.retry_later(first, delay_s=0)
    [second] = await queue.receive(wait_s=1)
    assert second.job is not None and second.job.job_id == "4001"
    assert second.receive_count == first.receive_count + 1


async def test_in_flight_job_holds_back_its_guild_but_not_others(queue_and_dlq) -> None:  # type: ignore[no-untyped-def]
    queue, _ = queue_and_dlq
    await queue.send(play("5001", guild_id="1"))
    await queue.send(play("5002", guild_id="1"))
    await queue.send(play("5003", guild_id="2"))
    first = await queue.receive(max_messages=10, wait_s=0)
    got = sorted(d.job.job_id for d in first if d.job)
    # SQS may hand out several of a group in one batch, in order; never 5002 before 5001.
    assert "5001" in got and "5003" in got
    if "5002" not in got:
        assert await queue.receive(wait_s=0) == []  # guild 1 waits behind its in-flight job


async def test_memory_queue_redrives_after_max_receives() -> None:
    queue = InMemoryJobQueue(visibility_timeout_s=0, max_receives=2)
    await queue.send(play("6001"))
    for _ in range(2):
        [delivery] = await queue.receive(wait_s=0)
        assert delivery.job is not None
    assert await queue.receive(wait_s=0) == []
    assert len(queue.dead_letters) == 1


async def test_worker_inboxes_are_created_forwarded_to_and_deleted(
    moto_server: MotoServer,
) -> None:
    # GIVEN the shared jobs queue and a worker's inbox next to it
    queue_url, _ = moto_server.create_fifo_queue()
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        inbox_url = await jobs.create_inbox("worker-1")
        assert inbox_url == jobs.inbox_url("worker-1")
        assert await jobs.create_inbox("worker-1") == inbox_url  # idempotent
        assert await jobs.list_inboxes() == [inbox_url]
        inbox = jobs.at(inbox_url)

        # WHEN jobs routed from the shared queue are forwarded (the second twice: deduped)
        for job in (play("1"), play("2"), play("3", guild_id="101")):
            await jobs.send(job)
        routed = await jobs.receive(max_messages=10, wait_s=0, visibility_s=5)
        for delivery in [*routed, routed[1]]:
            await jobs.forward(delivery, inbox_url, attempted=False)
            await jobs.ack(delivery)

        # THEN the inbox holds them once each, in each guild's order
        assert not await jobs.inbox_empty(inbox_url)
        received = await inbox.receive(max_messages=10, wait_s=0)
        by_guild: dict[str, list[str]] = {}
        for delivery in received:
            assert delivery.job is not None and delivery.prior_receives == 0
            by_guild.setdefault(delivery.group_id, []).append(delivery.job.job_id)
        assert by_guild == {"100": ["1", "2"], "101": ["3"]}

        for delivery in received:
            await inbox.ack(delivery)
        assert await jobs.inbox_empty(inbox_url)
        await jobs.delete_inbox(inbox_url)
        await jobs.delete_inbox(inbox_url)  # already gone: fine
        assert await jobs.list_inboxes() == []
    finally:
        await jobs.aclose()


async def test_forwarded_receive_counts_add_up_across_queues(moto_server: MotoServer) -> None:
    queue_url, _ = moto_server.create_fifo_queue()
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        inbox_a = jobs.at(await jobs.create_inbox("a"))
        inbox_b_url = await jobs.create_inbox("b")
        await jobs.forward((await _one(jobs, play("9"))), jobs.inbox_url("a"), attempted=False)
        # Received twice in a's inbox (a handler died once), then forwarded on to b.
        first = (await inbox_a.receive(wait_s=0, visibility_s=0))[0]
        second = (await inbox_a.receive(wait_s=0))[0]
        assert (first.receive_count, second.receive_count) == (1, 2)
        await jobs.forward(second, inbox_b_url, attempted=True)
        arrived = (await jobs.at(inbox_b_url).receive(wait_s=0))[0]
        assert (arrived.prior_receives, arrived.receive_count) == (1, 2)
    finally:
        await jobs.aclose()


async def _one(queue: SqsJobQueue, job: PlayJob) -> Delivery:
    await queue.send(job)
    (delivery,) = await queue.receive(wait_s=0)
    return delivery


async def test_a_job_routed_back_to_an_inbox_it_left_is_not_deduplicated_away(
    moto_server: MotoServer,
) -> None:
    # GIVEN a job forwarded from the shared queue to a's inbox, then on to b's (the guild moved)
    queue_url, _ = moto_server.create_fifo_queue()
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        inbox_a_url = await jobs.create_inbox("a")
        inbox_b_url = await jobs.create_inbox("b")
        routed = await _one(jobs, play("7"))
        first_message_id = routed.message_id
        await jobs.forward(routed, inbox_a_url, attempted=False)
        in_a_dedup = moto_server.client("sqs").receive_message(
            QueueUrl=inbox_a_url,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["MessageDeduplicationId"],
        )["Messages"][0]["Attributes"]["MessageDeduplicationId"]
        in_a = (await jobs.at(inbox_a_url).receive(wait_s=0))[0]
        await jobs.forward(in_a, inbox_b_url, attempted=False)
        await jobs.at(inbox_a_url).ack(in_a)
        # WHEN b dies and its inbox is routed back to a within SQS's 5 minute dedup window
        in_b = (await jobs.at(inbox_b_url).receive(wait_s=0))[0]
        await jobs.forward(in_b, inbox_a_url, attempted=False)
        await jobs.forward(in_b, inbox_a_url, attempted=False)  # the sweeper retried: deduped
        # THEN a's inbox holds the job again, exactly once, under a dedup id of its own: SQS
        # keeps a dedup id for 5 minutes even after the first copy was deleted, so reusing the
        # job id would have dropped it (moto forgets ids on delete, hence the id check)
        sqs = moto_server.client("sqs")
        back = sqs.receive_message(
            QueueUrl=inbox_a_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["MessageDeduplicationId"],
        )["Messages"]
        assert len(back) == 1
        dedup_ids = [in_a_dedup, back[0]["Attributes"]["MessageDeduplicationId"]]
        assert dedup_ids == [f"7-{first_message_id}", f"7-{in_b.message_id}"]
    finally:
        await jobs.aclose()
