"""Scale-in protection against a fake ECS agent speaking the task-protection endpoint's shapes.

The fake follows the agent's handler (amazon-ecs-agent, tmds/handlers/taskprotection/v1):
PUT validates the body strictly (unknown fields and a missing ProtectionEnabled are 400
InvalidParameterException), success is 200 `{"protection": {...}}`, an ECS refusal is 200
`{"failure": {...}}`, and API errors carry their status with `{"error": {...}, "requestID"}`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from voice_worker.task_protection import (
    ProtectionState,
    ScaleInProtection,
    TaskProtectionClient,
    TaskProtectionError,
)

TASK_ARN = "arn:aws:ecs:us-east-1:111122223333:task/musicbot-ci/0123456789abcdef0"
CONTAINER_PATH = "/api/0123456789abcdef0-1234567890"


@dataclass
class FakeAgent:
    """State and knobs of the fake agent endpoint."""

    base_url: str = ""
    enabled: bool = False
    expires_at: datetime | None = None
    # None: behave; else one of "failure", "denied", "server", "garbage".
    mode: str | None = None
    requests: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    def protected(self) -> bool:
        # A method, not the attribute: type checkers would narrow the attribute across awaits.
        return self.enabled

    @property
    def puts(self) -> list[dict[str, Any] | None]:
        return [body for method, body in self.requests if method == "PUT"]

    def _protection(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ProtectionEnabled": self.enabled, "TaskArn": TASK_ARN}
        if self.expires_at is not None:
            body["ExpirationDate"] = self.expires_at.isoformat().replace("+00:00", "Z")
        return {"protection": body}

    def _misbehave(self) -> web.Response | None:
        if self.mode == "failure":
            return web.json_response(
                {"failure": {"Arn": TASK_ARN, "Reason": "TASK_NOT_VALID", "Detail": None}}
            )
        if self.mode == "denied":
            return web.json_response(
                {
                    "error": {
                        "Arn": TASK_ARN,
                        "Code": "AccessDeniedException",
                        "Message": "not authorized to perform: ecs:UpdateTaskProtection",
                    },
                    "requestID": "req-1",
                },
                status=403,
            )
        if self.mode == "server":
            return web.json_response(
                {"error": {"Code": "ServerException", "Message": "Unexpected error occurred"}},
                status=500,
            )
        if self.mode == "garbage":
            return web.Response(text="<html>oops</html>", status=502)
        return None

    async def handle_get(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", None))
        return self._misbehave() or web.json_response(self._protection())

    async def handle_put(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(("PUT", body))
        if (
            request.content_type != "application/json"
            or not isinstance(body, dict)
            or set(body) - {"ProtectionEnabled", "ExpiresInMinutes"}
        ):
            return _invalid("UpdateTaskProtection: failed to decode request")
        if "ProtectionEnabled" not in body:
            return _invalid("Invalid request: does not contain 'ProtectionEnabled' field")
        minutes = body.get("ExpiresInMinutes", 120)
        if not isinstance(minutes, int) or not 1 <= minutes <= 2880:
            return _invalid("expiresInMinutes must be between 1 and 2880", status=400)
        misbehaviour = self._misbehave()
        if misbehaviour is not None:
            return misbehaviour
        self.enabled = bool(body["ProtectionEnabled"])
        self.expires_at = datetime.now(UTC) + timedelta(minutes=minutes) if self.enabled else None
        return web.json_response(self._protection())


def _invalid(message: str, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": {"Code": "InvalidParameterException", "Message": message}}, status=status
    )


@pytest.fixture
async def agent() -> AsyncIterator[FakeAgent]:
    """The fake agent on 127.0.0.1, at a container-specific base path like the real one."""
    fake = FakeAgent()
    app = web.Application()
    app.router.add_get(f"{CONTAINER_PATH}/task-protection/v1/state", fake.handle_get)
    app.router.add_put(f"{CONTAINER_PATH}/task-protection/v1/state", fake.handle_put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}{CONTAINER_PATH}"
    try:
        yield fake
    finally:
        await runner.cleanup()


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
