"""The worker's gateway session against the fake: resume, paced re-identify, fatal closes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fake_discord.pointing import pointed_at
from shared.queue import InMemoryJobQueue
from tests.integration.test_worker_process import _NoSources
from tests.unit.test_worker_consumer import until
from voice_worker.demo import demo_settings
from voice_worker.worker import EXIT_CONFIG, Worker


@pytest.fixture
async def running(fake_discord: Any) -> AsyncIterator[tuple[Any, Worker, asyncio.Task[int]]]:
    with pointed_at(fake_discord.rest_base_url, fake_discord.gateway_url):
        worker = Worker(
            demo_settings(fake_discord),
            queue=InMemoryJobQueue(),
            sources=_NoSources(),
            health_port=0,
        )
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.ready.wait(), 15)
        yield fake_discord, worker, task
        worker.request_stop()
        await asyncio.wait_for(task, 15)


async def test_a_dropped_connection_comes_back_and_serves(running: Any) -> None:
    fake, worker, _ = running
    fake.gateway.drop_connections(4000)
    client = worker.client
    assert client is not None
    await until(lambda: fake.gateway.live_sessions() and client.is_ready(), timeout_s=20)
    assert worker.health_report()[0]
    assert not [f for f in fake.failures if "identif" in f.reason]


async def test_an_invalid_session_re_identifies_at_a_paced_rate(running: Any) -> None:
    fake, _, _ = running
    started = time.monotonic()
    fake.gateway.invalidate(resumable=False)
    await until(lambda: len(fake.core.identify_times) == 2, timeout_s=20)
    # The gate waited out the 5 s identify interval instead of identifying at once.
    assert time.monotonic() - started >= 4.5
    assert not [f for f in fake.failures if "identif" in f.reason]


@pytest.mark.parametrize(
    ("code", "reason"),
    [(4004, "token_rejected"), (4017, "dave_required"), (4014, "disallowed_intents")],
)
async def test_unfixable_closes_are_fatal_with_a_clear_hint(
    running: Any, code: int, reason: str
) -> None:
    fake, worker, task = running
    fake.gateway.drop_connections(code)
    assert await asyncio.wait_for(task, 15) == EXIT_CONFIG
    assert worker.fatal is not None and worker.fatal.reason == reason
    healthy, body = worker.health_report()
    assert not healthy and body["fatal"]["reason"] == reason
    assert len(fake.core.identify_times) == 1  # not retried
