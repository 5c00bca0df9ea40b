"""ECS task scale-in protection through the container agent's endpoint.

While a worker holds voice sessions, scaling the service in (or a deployment) must not stop
it: the ECS agent's `$ECS_AGENT_URI/task-protection/v1/state` marks the task as protected for
a bounded time. The agent calls ECS UpdateTaskProtection with the TASK ROLE's credentials, so
the role needs `ecs:UpdateTaskProtection` / `ecs:GetTaskProtection` on this cluster's tasks
(infra/worker.yml grants exactly that).

Outside ECS (embedded mode, tests) ECS_AGENT_URI is unset and ScaleInProtection is a no-op.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)

AGENT_URI_ENV = "ECS_AGENT_URI"
_STATE_PATH = "/task-protection/v1/state"
# The agent's (and ECS's) accepted range for ExpiresInMinutes.
MIN_EXPIRES_MINUTES = 1
MAX_EXPIRES_MINUTES = 2880


class TaskProtectionError(Exception):
    """The agent did not set or report protection; `code` says why (AWS code or reason)."""

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ProtectionState:
    """What the agent reports for this task."""

    enabled: bool
    expires_at: datetime | None
    task_arn: str


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_response(status: int, body: object) -> ProtectionState:
    """Turn an agent answer into a state, or raise TaskProtectionError.

    The agent answers `{"protection": {...}}` on success, `{"failure": {"Arn", "Reason",
    "Detail"}}` (HTTP 200) when ECS refused this task, and `{"error": {"Code", "Message"},
    "requestID"}` with a 4xx/5xx status otherwise.
    """
    if not isinstance(body, dict):
        raise TaskProtectionError(
            f"the agent answered HTTP {status} with no JSON object",
            code="BadResponse",
            status=status,
        )
    protection = body.get("protection")
    if status == 200 and isinstance(protection, dict):
        return ProtectionState(
            enabled=bool(protection.get("ProtectionEnabled", False)),
            expires_at=_parse_time(protection.get("ExpirationDate")),
            task_arn=str(protection.get("TaskArn", "")),
        )
    failure = body.get("failure")
    if isinstance(failure, dict):
        reason = str(failure.get("Reason") or "Failure")
        raise TaskProtectionError(
            f"ECS refused task protection: {reason}", code=reason, status=status
        )
    error = body.get("error")
    if isinstance(error, dict):
        code = str(error.get("Code") or "Error")
        message = str(error.get("Message") or "")
        raise TaskProtectionError(f"{code}: {message}", code=code, status=status)
    raise TaskProtectionError(
        f"unexpected agent answer (HTTP {status})", code="BadResponse", status=status
    )


class TaskProtectionClient:
    """Reads and sets this task's protection through the ECS agent (one per process)."""

    def __init__(
        self,
        agent_uri: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = agent_uri.rstrip("/") + _STATE_PATH
        # The agent calls the ECS API on our behalf, so allow it more than a local round trip.
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def get(self) -> ProtectionState:
        """The current protection state."""
        return await self._request("GET", None)

    async def set(self, enabled: bool, *, expires_in_minutes: int | None = None) -> ProtectionState:
        """Turn protection on (for expires_in_minutes, default 120 by ECS) or off."""
        payload: dict[str, Any] = {"ProtectionEnabled": enabled}
        if enabled and expires_in_minutes is not None:
            if not MIN_EXPIRES_MINUTES <= expires_in_minutes <= MAX_EXPIRES_MINUTES:
                raise ValueError("expires_in_minutes must be within 1..2880")
            payload["ExpiresInMinutes"] = expires_in_minutes
        return await self._request("PUT", payload)

    async def _request(self, method: str, payload: dict[str, Any] | None) -> ProtectionState:
        try:
            response = await self._http.request(method, self._url, json=payload)
        except httpx.HTTPError as exc:
            raise TaskProtectionError(
                f"the ECS agent could not be reached: {type(exc).__name__}", code="Unreachable"
            ) from None
        try:
            body: object = response.json()
        except ValueError:
            body = None
        return parse_response(response.status_code, body)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


class ScaleInProtection:
    """Keeps the task protected while it has voice sessions, and only then.

    Call `update(active_sessions)` whenever the count changes AND periodically (the worker's
    heartbeat does): protection is renewed when less than `renew_before_s` is left, so the
    period must be shorter than that. Agent failures are logged and retried on a later call,
    never raised: protection is a guard for playback, not a reason to stop it.
    """

    def __init__(
        self,
        client: TaskProtectionClient | None,
        *,
        expires_in_minutes: int = 30,
        renew_before_s: float = 600.0,
        retry_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not MIN_EXPIRES_MINUTES <= expires_in_minutes <= MAX_EXPIRES_MINUTES:
            raise ValueError("expires_in_minutes must be within 1..2880")
        if not 0 <= renew_before_s < expires_in_minutes * 60:
            raise ValueError("renew_before_s must be shorter than the protection period")
        self._client = client
        self._expires_in_minutes = expires_in_minutes
        self._renew_before_s = renew_before_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = asyncio.Lock()
        # What we last got the agent to accept: protected, and until when (monotonic clock).
        self._protected = False
        self._protected_until = 0.0
        self._failed_at: float | None = None

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, **options: Any
    ) -> ScaleInProtection:
        """A helper bound to the agent of this task, or a no-op one outside ECS."""
        agent_uri = (os.environ if environ is None else environ).get(AGENT_URI_ENV, "")
        client = TaskProtectionClient(agent_uri) if agent_uri else None
        return cls(client, **options)

    @property
    def active(self) -> bool:
        """Whether there is an agent to talk to (False in embedded mode)."""
        return self._client is not None

    @property
    def protected(self) -> bool:
        """Whether protection is believed to be on now."""
        return self._protected and self._clock() < self._protected_until

    async def update(self, active_sessions: int) -> bool:
        """Bring protection in line with the session count; True when it is."""
        client = self._client
        if client is None:
            return True
        async with self._lock:
            now = self._clock()
            if active_sessions > 0:
                if self._protected and now < self._protected_until - self._renew_before_s:
                    return True
                return await self._apply(client, True, now)
            if not self._protected:
                return True
            return await self._apply(client, False, now)

    async def release(self) -> bool:
        """Turn protection off (SIGTERM: the sessions are being handed over)."""
        return await self.update(0)

    async def _apply(self, client: TaskProtectionClient, enabled: bool, now: float) -> bool:
        if self._failed_at is not None and now - self._failed_at < self._retry_after_s:
            return False
        try:
            state = await client.set(
                enabled, expires_in_minutes=self._expires_in_minutes if enabled else None
            )
        except TaskProtectionError as exc:
            self._failed_at = now
            log.warning(
                "task_protection.failed",
                enabled=enabled,
                code=exc.code,
                status=exc.status,
                error=str(exc),
            )
            return False
        self._failed_at = None
        self._protected = state.enabled
        # Counted from before the request: errs towards renewing early, never late.
        self._protected_until = now + self._expires_in_minutes * 60 if state.enabled else 0.0
        log.info(
            "task_protection.set",
            enabled=state.enabled,
            expires_at=state.expires_at.isoformat() if state.expires_at else None,
        )
        return state.enabled == enabled

    async def aclose(self) -> None:
        """Close the client (protection itself is left as is: ECS expires it)."""
        if self._client is not None:
            await self._client.aclose()
