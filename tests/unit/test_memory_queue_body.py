"""The in-process queue encodes a job when it is first received, not when it is sent."""

from __future__ import annotations

from shared.jobs import PlayJob, Requester, decode_job, encode_job
from shared.queue.memory import InMemoryJobQueue


def _job(job_id: str) -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id="1187000000000000002",
        channel_id="1187000000000000003",
        application_id="1187000000000000004",
        interaction_token="aW50ZXJhY3Rpb246c2VjcmV0",
        requester=Requester(user_id="1187000000000000005", role_ids=("1187000000000000006",)),
        query="never gonna give you up",
    )


async def test_received_body_is_the_jobs_json_and_decodes_back_to_it() -> None:
    queue = InMemoryJobQueue()
    job = _job("1187000000000000001")
    await queue.send(job)
    [delivery] = await queue.receive(wait_s=0)
    # The body is what SQS would carry, and the worker decodes it through the job contract.
    assert delivery.body == encode_job(job)
    assert delivery.job == job == decode_job(delivery.body)


async def test_dead_lettered_body_is_the_jobs_json() -> None:
    queue = InMemoryJobQueue(visibility_timeout_s=0, max_receives=1)
    job = _job("1187000000000000001")
    await queue.send(job)
    assert len(await queue.receive(wait_s=0)) == 1
    assert await queue.receive(wait_s=0) == []  # over max receives: moved aside
    assert queue.dead_letters == [(encode_job(job), "max receives exceeded")]
