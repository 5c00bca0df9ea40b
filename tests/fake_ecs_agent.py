"""A fake ECS container agent speaking the task-protection endpoint's shapes.

It follows the agent's handler (amazon-ecs-agent, tmds/handlers/taskprotection/v1): PUT
validates the body strictly (unknown fields and a missing ProtectionEnabled are 400
InvalidParameterException), success is 200 `{"protection": {...}}`, an ECS refusal is 200
`{"failure": {...}}`, and API errors carry their status with `{"error": {...}, "requestID"}`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

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


@asynccontextmanager
async def serve_fake_agent() -> AsyncIterator[FakeAgent]:
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
