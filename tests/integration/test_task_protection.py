"""Scale-in protection against a fake ECS agent (tests/fake_ecs_agent.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fake_ecs_agent import TASK_ARN, FakeAgent, serve_fake_agent
from voice_worker.task_protection import (
    ProtectionState,
    ScaleInProtection,
    TaskProtectionClient,
    TaskProtectionError,
)


@pytest.fixture
async def agent() -> AsyncIterator[FakeAgent]:
    async with serve_fake_agent() as fake:
        yield fake


@pytest.fixture
async def client(agent: FakeAgent) -> AsyncIterator[TaskProtectionClient]:
    protection_client = TaskProtectionClient(agent.base_url, timeout_s=2.0)
    try:
        yield protection_client
    finally:
        await protection_client.aclose()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the client --------------------------------------------------------------------------


async def test_set_and_get_round_trip(agent: FakeAgent, client: TaskProtectionClient) -> None:
    # GIVEN an unprotected task WHEN protection is turned on for 60 minutes
    state = await client.set(True, expires_in_minutes=60)
    # THEN the agent got the documented body and the state is parsed
    assert agent.puts == [{"ProtectionEnabled": True, "ExpiresInMinutes": 60}]
    assert state.enabled and state.task_arn == TASK_ARN
    assert state.expires_at is not None
    assert timedelta(minutes=59) < state.expires_at - datetime.now(UTC) <= timedelta(minutes=60)
    assert await client.get() == state


async def test_turning_off_sends_no_expiry(agent: FakeAgent, client: TaskProtectionClient) -> None:
    await client.set(True, expires_in_minutes=5)
    state = await client.set(False, expires_in_minutes=5)
    assert agent.puts[-1] == {"ProtectionEnabled": False}
    assert state == ProtectionState(enabled=False, expires_at=None, task_arn=TASK_ARN)


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [
        ("failure", "TASK_NOT_VALID", 200),
        ("denied", "AccessDeniedException", 403),
        ("server", "ServerException", 500),
        ("garbage", "BadResponse", 502),
    ],
)
async def test_agent_errors_become_task_protection_errors(
    agent: FakeAgent, client: TaskProtectionClient, mode: str, code: str, status: int
) -> None:
    agent.mode = mode
    with pytest.raises(TaskProtectionError) as raised:
        await client.set(True, expires_in_minutes=10)
    assert (raised.value.code, raised.value.status) == (code, status)
    with pytest.raises(TaskProtectionError):
        await client.get()


async def test_out_of_range_expiry_is_refused_locally(
    agent: FakeAgent, client: TaskProtectionClient
) -> None:
    with pytest.raises(ValueError, match=r"1\.\.2880"):
        await client.set(True, expires_in_minutes=2881)
    assert agent.requests == []


async def test_unreachable_agent_is_a_task_protection_error() -> None:
    # A port nobody listens on (bound, then closed).
    client = TaskProtectionClient("http://127.0.0.1:9/api/x", timeout_s=1.0)
    try:
        with pytest.raises(TaskProtectionError) as raised:
            await client.get()
    finally:
        await client.aclose()
    assert raised.value.code == "Unreachable"


# --- the helper --------------------------------------------------------------------------


async def test_protects_while_sessions_exist_and_renews_before_expiry(agent: FakeAgent) -> None:
    clock = FakeClock()
    helper = ScaleInProtection(
        TaskProtectionClient(agent.base_url, timeout_s=2.0),
        expires_in_minutes=30,
        renew_before_s=600,
        clock=clock,
    )
    try:
        # GIVEN no sessions THEN nothing is asked of the agent
        assert await helper.update(0)
        assert agent.requests == []
        # WHEN the first session starts THEN the task is protected
        assert await helper.update(1)
        assert (agent.protected(), helper.protected) == (True, True)
        # WHEN more sessions come and go well before expiry THEN no further calls
        clock.now += 60
        assert await helper.update(3)
        assert await helper.update(2)
        assert len(agent.puts) == 1
        # WHEN less than renew_before_s is left THEN protection is renewed
        clock.now += 30 * 60 - 600 - 60 + 1
        assert await helper.update(2)
        assert agent.puts == [
            {"ProtectionEnabled": True, "ExpiresInMinutes": 30},
            {"ProtectionEnabled": True, "ExpiresInMinutes": 30},
        ]
        # WHEN the last session ends THEN protection is turned off, once
        assert await helper.update(0)
        assert await helper.update(0)
        assert (agent.protected(), helper.protected) == (False, False)
        assert agent.puts[-1] == {"ProtectionEnabled": False}
        assert len(agent.puts) == 3
    finally:
        await helper.aclose()


async def test_agent_failure_is_logged_not_raised_and_retried_later(agent: FakeAgent) -> None:
    clock = FakeClock()
    helper = ScaleInProtection(
        TaskProtectionClient(agent.base_url, timeout_s=2.0), retry_after_s=10.0, clock=clock
    )
    try:
        agent.mode = "denied"
        assert not await helper.update(1)
        # Within the retry delay the agent is left alone.
        clock.now += 5
        assert not await helper.update(1)
        assert len(agent.puts) == 1
        # After it, and once the agent recovers, protection is set.
        agent.mode = None
        clock.now += 6
        assert await helper.update(1)
        assert (agent.protected(), helper.protected) == (True, True)
        assert await helper.release()
        assert not agent.protected()
    finally:
        await helper.aclose()


async def test_no_agent_uri_means_a_silent_no_op(agent: FakeAgent) -> None:
    helper = ScaleInProtection.from_environ({})
    assert not helper.active
    assert await helper.update(2)
    assert await helper.release()
    assert not helper.protected
    await helper.aclose()
    assert agent.requests == []


async def test_from_environ_uses_the_agent_uri(agent: FakeAgent) -> None:
    helper = ScaleInProtection.from_environ({"ECS_AGENT_URI": agent.base_url})
    try:
        assert helper.active
        assert await helper.update(1)
        assert agent.puts == [{"ProtectionEnabled": True, "ExpiresInMinutes": 30}]
    finally:
        await helper.aclose()


def test_renewal_margin_must_fit_in_the_protection_period() -> None:
    with pytest.raises(ValueError, match="shorter"):
        ScaleInProtection(None, expires_in_minutes=5, renew_before_s=300)
