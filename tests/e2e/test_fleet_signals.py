"""A playing worker is scale-in protected and says so in its metric lines; idle, it is not.

The whole stack against the fake Discord, with a fake ECS agent behind ECS_AGENT_URI and the
metric namespace set: the worker's stdout is read back as CloudWatch would extract it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

from fake_discord.pointing import point_discord_py
from fake_discord.server import FakeDiscord
from interactions.bootstrap import bootstrap
from shared.queue import InMemoryJobQueue
from tests.e2e.conftest import RESOLVE_TIMEOUT_S, STEP_TIMEOUT_S, Bot
from tests.fake_ecs_agent import FakeAgent, serve_fake_agent
from tests.fixtures_audio import ToneServer
from tests.unit.test_fleet_signals import metrics_of, parse_emf
from tests.unit.test_worker_consumer import until
from voice_worker.demo import demo_settings
from voice_worker.demo_support import FrontDoorServer
from voice_worker.fleet_signals import ACTIVE_SESSIONS
from voice_worker.sources import Resolver, ResolverConfig
from voice_worker.tracks import CachedTracks
from voice_worker.worker import Worker

pytestmark = pytest.mark.e2e

NAMESPACE = "MusicBot/e2e"


@pytest.fixture
async def agent() -> AsyncIterator[FakeAgent]:
    async with serve_fake_agent() as fake:
        yield fake


@pytest.fixture
async def bot_on_ecs(
    agent: FakeAgent, monkeypatch: pytest.MonkeyPatch, started_fakes: list[FakeDiscord]
) -> AsyncIterator[tuple[Bot, asyncio.Task[int]]]:
    """The stack of tests/e2e/conftest.py, as a worker on ECS would run it."""
    monkeypatch.setenv("ECS_AGENT_URI", agent.base_url)
    fake = FakeDiscord(guilds=1)
    started_fakes.append(fake)
    await fake.start()
    settings = demo_settings(fake).model_copy(
        update={"metrics_namespace": NAMESPACE, "worker_idle_disconnect_s": 1.0}
    )
    queue = InMemoryJobQueue()
    restore = point_discord_py(fake.rest_base_url, fake.gateway_url)
    front_door = bootstrap(settings, queue=queue, configure_logs=False)
    server = FrontDoorServer(front_door.app)
    await server.start()
    fake.interactions_url = server.url
    sources = CachedTracks(
        Resolver(ResolverConfig(allow_private_addresses=True, timeout_s=RESOLVE_TIMEOUT_S))
    )
    worker = Worker(settings, queue=queue, sources=sources, health_port=0)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), STEP_TIMEOUT_S)
        yield Bot(fake, worker, queue), task
    finally:
        worker.request_stop()
        await asyncio.gather(task, return_exceptions=True)
        await sources.aclose()
        await server.stop()
        await fake.stop()
        restore()


def sessions_reported(out: str) -> list[int]:
    """ActiveSessions of every EMF line in the output (other lines are not EMF)."""
    lines = [line for line in out.splitlines() if '"_aws"' in line]
    return [metrics_of(parse_emf(line))[ACTIVE_SESSIONS] for line in lines]


async def test_playing_worker_is_protected_and_reports_its_session(
    bot_on_ecs: tuple[Bot, asyncio.Task[int]],
    agent: FakeAgent,
    tone_server: ToneServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    bot, task = bot_on_ecs
    # GIVEN an idle worker THEN nothing is asked of the agent
    assert not agent.puts
    # WHEN a track plays THEN the task is protected while it does
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 2))
    await bot.hear(440, 0.5)
    await until(agent.protected, timeout_s=STEP_TIMEOUT_S)
    # WHEN the track ends and the worker leaves voice THEN protection is released
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=STEP_TIMEOUT_S)
    await until(lambda: not agent.protected(), timeout_s=STEP_TIMEOUT_S)
    on, off = {"ProtectionEnabled": True, "ExpiresInMinutes": 30}, {"ProtectionEnabled": False}
    # (A voice connect retried under load may open and close a session once more before.)
    assert agent.puts[0] == on and agent.puts[-1] == off
    assert all(put in (on, off) for put in agent.puts)
    # WHEN the worker stops THEN its last line is written, and it says 0 sessions
    bot.worker.request_stop()
    assert await task == 0
    out, err = capfd.readouterr()
    sys.stdout.write(out)  # handed back for the leak check and for a failure's report
    sys.stderr.write(err)
    reported = sessions_reported(out)
    assert reported[0] == 0 and 1 in reported and reported[-1] == 0, reported


async def test_stopping_while_playing_releases_protection(
    bot_on_ecs: tuple[Bot, asyncio.Task[int]], agent: FakeAgent, tone_server: ToneServer
) -> None:
    bot, task = bot_on_ecs
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 30))
    await bot.hear(440, 0.5)
    await until(agent.protected, timeout_s=STEP_TIMEOUT_S)
    # SIGTERM mid-song: sessions are handed over, then protection goes off.
    bot.worker.request_stop()
    assert await task == 0
    assert not agent.protected()
    assert agent.puts[-1] == {"ProtectionEnabled": False}
