"""Inbox deliveries are held only while their worker lives (voice_worker/holding.py), on moto.

A receive by a worker that is then SIGKILLed leaves its message in flight, and the FIFO group
behind it, until the visibility timeout: that timeout must be short, and extended only by a
live holder, or a dead owner's inbox blocks its guild's jobs for the successor.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path

from shared.jobs import PlayJob, Requester
from shared.queue import SqsJobQueue
from tests.fixtures_aws import MotoServer
from voice_worker.holding import HOLD_S, HeldQueue

ROOT = Path(__file__).resolve().parents[2]
REQUESTER = Requester(user_id="42", display_name="ann")

# Receives like a worker's consumer, says so, then waits to be killed.
_DYING_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from shared.queue import SqsJobQueue
    from voice_worker.holding import HeldQueue

    async def main() -> None:
        url, region, endpoint = sys.argv[1:4]
        inbox = HeldQueue(SqsJobQueue(url, region=region, endpoint_url=endpoint))
        got = await inbox.receive(max_messages=1, wait_s=5)
        print(len(got), flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


def play(job_id: str) -> PlayJob:
    return PlayJob(
        job_id=job_id,
        guild_id="100",
        channel_id="200",
        application_id="300",
        interaction_token="tok",
        requester=REQUESTER,
        query="song",
    )


async def _ids_within(queue: SqsJobQueue, timeout_s: float) -> list[str]:
    """Receive (as the inbox collector's router does) until something shows; its job ids."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if got := await queue.receive(max_messages=10, wait_s=1, visibility_s=10):
            for delivery in got:
                await queue.ack(delivery)
            return [d.job.job_id for d in got if d.job is not None]
    return []


async def test_a_worker_killed_after_receiving_blocks_its_inbox_only_briefly(
    moto_server: MotoServer,
) -> None:
    # GIVEN a worker's inbox with two jobs of one guild
    queue_url, _ = moto_server.create_fifo_queue()
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        inbox_url = await jobs.create_inbox("dying")
        inbox = jobs.at(inbox_url)
        for job_id in ("1", "2"):
            await inbox.send(play(job_id))

        # WHEN the worker receives the first one and is SIGKILLed before settling it
        dying = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _DYING_WORKER,
            inbox_url,
            moto_server.region,
            moto_server.endpoint_url,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
        )
        assert dying.stdout is not None
        assert await asyncio.wait_for(dying.stdout.readline(), 30) == b"1\n"
        dying.kill()
        await dying.wait()
        killed_at = time.monotonic()

        # THEN the guild's jobs are held back (FIFO) while the dead receive lasts...
        assert await inbox.receive(max_messages=10, wait_s=0) == []
        # ...which is HOLD_S, not the inbox's default: both come back, in order, once each
        assert await _ids_within(inbox, HOLD_S + 4) == ["1", "2"]
        assert time.monotonic() - killed_at < HOLD_S + 4
        assert await jobs.inbox_empty(inbox_url)
    finally:
        await jobs.aclose()


async def test_a_live_holder_keeps_a_delivery_in_flight_until_it_settles(
    moto_server: MotoServer,
) -> None:
    # GIVEN a job received through a short hold that a live worker keeps extending
    queue_url, _ = moto_server.create_fifo_queue()
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    try:
        inbox = jobs.at(await jobs.create_inbox("alive"))
        held = HeldQueue(inbox, hold_s=2)
        await inbox.send(play("1"))
        (delivery,) = await held.receive(wait_s=0)
        keeping = asyncio.create_task(held.keep_alive(every_s=0.5))
        try:
            # WHEN it is handled for longer than the hold
            await asyncio.sleep(4)
            # THEN nobody else sees it meanwhile
            assert await inbox.receive(wait_s=0) == []
            assert held.held == 1

            # WHEN it is put back for now, THEN no extension undoes that
            await held.retry_later(delivery, delay_s=0)
            assert held.held == 0
            (again,) = await held.receive(wait_s=1)
            assert again.receive_count == 2

            # WHEN its lane ends without settling it, THEN it shows again after the hold
            held.forget(again)
            await asyncio.sleep(0.5)
            assert await inbox.receive(wait_s=0) == []
            assert await _ids_within(inbox, 2 + 3) == ["1"]
        finally:
            keeping.cancel()
            await asyncio.gather(keeping, return_exceptions=True)
    finally:
        await jobs.aclose()
