"""Fleet signals against a fake ECS agent: protection follows the sessions, lines follow both."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from shared.settings import Settings
from tests.fake_ecs_agent import FakeAgent, serve_fake_agent
from tests.unit.test_fleet_signals import metrics_of, parse_emf
from voice_worker.fleet_signals import ACTIVE_SESSIONS, FleetSignals
from voice_worker.task_protection import ScaleInProtection, TaskProtectionClient

NAMESPACE = "MusicBot/ci"


@pytest.fixture
async def agent() -> AsyncIterator[FakeAgent]:
    async with serve_fake_agent() as fake:
        yield fake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for a background loop to get somewhere (a bound, not a timed assertion)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polls state another task changes
            await asyncio.sleep(0.01)


async def test_protection_follows_the_session_count_and_is_renewed(agent: FakeAgent) -> None:
    clock = Clock()
    lines: list[str] = []
    signals = FleetSignals(
        protection=ScaleInProtection(
            TaskProtectionClient(agent.base_url, timeout_s=2.0),
            expires_in_minutes=30,
            renew_before_s=600,
            clock=clock,
        ),
        namespace=NAMESPACE,
        counters=dict,
        write=lines.append,
        clock=clock,
    )
    # GIVEN no session THEN the agent is left alone, yet a zero is published
    await signals.tick()
    assert agent.requests == []
    # WHEN the first session starts THEN the task is protected for 30 minutes
    signals.sessions_changed(1)
    await signals.tick()
    assert agent.protected()
    assert agent.puts == [{"ProtectionEnabled": True, "ExpiresInMinutes": 30}]
    # WHEN sessions keep playing past the renewal point THEN the periodic round renews it
    for _ in range(21):
        clock.now += 60
        await signals.tick()
    assert agent.puts == [{"ProtectionEnabled": True, "ExpiresInMinutes": 30}] * 2
    # WHEN the last session ends THEN protection is turned off
    signals.sessions_changed(0)
    await signals.tick()
    assert not agent.protected()
    assert agent.puts[-1] == {"ProtectionEnabled": False}
    await signals.stop()
    assert len(agent.puts) == 3  # stop() at zero sessions asks nothing more
    sessions = [metrics_of(parse_emf(line))[ACTIVE_SESSIONS] for line in lines]
    assert sessions[0] == 0 and sessions[1] == 1 and sessions[-1] == 0
    assert set(sessions[1:-2]) == {1}


async def test_agent_failure_does_not_stop_the_metrics(agent: FakeAgent) -> None:
    lines: list[str] = []
    signals = FleetSignals(
        protection=ScaleInProtection(TaskProtectionClient(agent.base_url, timeout_s=2.0)),
        namespace=NAMESPACE,
        counters=dict,
        write=lines.append,
    )
    agent.mode = "denied"
    signals.sessions_changed(2)
    await signals.tick()
    assert not agent.protected()
    assert metrics_of(parse_emf(lines[-1]))[ACTIVE_SESSIONS] == 2
    await signals.stop()


async def test_background_loop_reacts_to_polled_changes_and_stops_cleanly(
    agent: FakeAgent,
) -> None:
    # GIVEN a worker on ECS (agent URI set) whose session count is polled
    active = [0]
    counters = {"jobs_received": 0, "jobs_failed": 0, "jobs_dead_lettered": 0}
    lines: list[str] = []
    settings = Settings(metrics_namespace=NAMESPACE, worker_id="w-9")
    signals = FleetSignals.from_settings(
        settings,
        counters=lambda: counters,
        sessions=lambda: active[0],
        environ={"ECS_AGENT_URI": agent.base_url},
        poll_s=0.01,
        write=lines.append,
    )
    signals.start()
    await eventually(lambda: len(lines) == 1)
    # WHEN a session opens and a job is received THEN protection goes on and a line says so
    counters["jobs_received"] = 1
    active[0] = 1
    await eventually(agent.protected)
    await eventually(lambda: metrics_of(parse_emf(lines[-1]))[ACTIVE_SESSIONS] == 1)
    # WHEN the worker stops with a session still open (SIGTERM hand-over) THEN protection is
    # released and a final line is written
    counters["jobs_failed"] = 1
    await signals.stop()
    assert not agent.protected()
    assert agent.puts[-1] == {"ProtectionEnabled": False}
    documents = [parse_emf(line) for line in lines]
    assert {d["worker_id"] for d in documents} == {"w-9"}
    assert sum(metrics_of(d)["JobsReceived"] for d in documents) == 1
    assert sum(metrics_of(d)["JobsFailed"] for d in documents) == 1
    # Stopping twice is harmless and writes nothing more.
    written = len(lines)
    await signals.stop()
    assert len(lines) == written


async def test_not_on_ecs_means_no_protection_calls(agent: FakeAgent) -> None:
    lines: list[str] = []
    signals = FleetSignals.from_settings(
        Settings(metrics_namespace=NAMESPACE), counters=dict, environ={}, write=lines.append
    )
    signals.sessions_changed(3)
    await signals.tick()
    await signals.stop()
    assert agent.requests == []
    assert json.loads(lines[0])[ACTIVE_SESSIONS] == 3
