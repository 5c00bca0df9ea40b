"""Waking the voice workers from zero after a /play is enqueued (lean: no botocore).

Target tracking cannot scale the ECS service up from zero, so when a play job is on the queue
and no worker heartbeat is alive, the front door raises the service's desired count to
max(current, 1) itself. It reads the heartbeat items of the state table (the layout of
shared.state.dynamodb_items: partition WORKERS, TTL attribute expires_at), decides with
shared.scaling.decide_wake and calls ECS with the same signed JSON client as the SQS sender.
Waking never fails a command: errors are logged and the queue-depth alarm in infra/ is the
backstop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import structlog

from interactions.aws_http import AwsJsonClient
from shared.scaling import WakeFailed, WakeResult, decide_wake

log = structlog.get_logger(__name__)

# shared.state.dynamodb_items' layout (a test holds them together: importing shared.state
# here would import aiobotocore).
WORKERS_PK = "WORKERS"
TTL_ATTRIBUTE = "expires_at"
# After a wake-up, a Fargate task takes ~60 s to start and heartbeat: don't ask ECS again
# for every /play meanwhile.
RECENT_WAKE_S = 120.0
_MAX_PAGES = 5


class WakeOutcome(StrEnum):
    """What waking did for one /play (a stable value for logs and for the reply)."""

    WORKER_ALIVE = "worker_alive"
    WOKEN = "woken"
    STARTING = "starting"  # no heartbeat yet, but the service already wants a task
    FAILED = "failed"

    @property
    def player_starting(self) -> bool:
        """Whether the user should be told the player is only starting."""
        return self in (WakeOutcome.WOKEN, WakeOutcome.STARTING)


class HeartbeatReader:
    """Reads the workers' heartbeat expiries from the state table."""

    def __init__(
        self, client: AwsJsonClient, table: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    async def expiries(self) -> list[float]:
        """The expiries (epoch seconds) of the heartbeats not yet expired."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "FilterExpression": "#ttl > :now",
            "ProjectionExpression": "#ttl",
            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {
                ":pk": {"S": WORKERS_PK},
                ":now": {"N": repr(self._clock())},
            },
            "ConsistentRead": True,
        }
        expiries: list[float] = []
        for _ in range(_MAX_PAGES):
            answer = await self._client.call("Query", params)
            expiries += [
                float(item[TTL_ATTRIBUTE]["N"])
                for item in answer.get("Items", [])
                if TTL_ATTRIBUTE in item
            ]
            last = answer.get("LastEvaluatedKey")
            if not last:
                break
            params["ExclusiveStartKey"] = last
        return expiries

    async def aclose(self) -> None:
        """Close the connection."""
        await self._client.aclose()


class EcsScaler:
    """DescribeServices / UpdateService for one ECS service: desired = max(current, 1)."""

    def __init__(self, client: AwsJsonClient, *, cluster: str, service: str) -> None:
        if not cluster or not service:
            raise ValueError("cluster and service are required (WORKER_CLUSTER, WORKER_SERVICE)")
        self._client = client
        self._cluster = cluster
        self._service = service

    async def desired_count(self) -> int:
        """The service's desired count; WakeFailed when ECS does not know it."""
        answer = await self._client.call(
            "DescribeServices", {"cluster": self._cluster, "services": [self._service]}
        )
        services = answer.get("services") or []
        if not services:
            reasons = [f.get("reason", "") for f in answer.get("failures") or []]
            raise WakeFailed(f"service not found: {', '.join(reasons) or 'no answer'}")
        return int(services[0].get("desiredCount", 0))

    async def wake(self) -> WakeResult:
        """Raise the desired count to 1 when it is 0; never lowers it, never adds to it."""
        before = await self.desired_count()
        if before >= 1:
            return WakeResult(before, before)
        answer = await self._client.call(
            "UpdateService",
            {"cluster": self._cluster, "service": self._service, "desiredCount": 1},
        )
        after = int((answer.get("service") or {}).get("desiredCount", 1))
        return WakeResult(before, after)

    async def aclose(self) -> None:
        """Close the connection."""
        await self._client.aclose()


class WorkerWaker:
    """Decides and wakes; remembers what it saw (per process) to skip calls on warm paths."""

    def __init__(
        self,
        heartbeats: HeartbeatReader,
        scaler: EcsScaler,
        *,
        clock: Callable[[], float] = time.time,
        recent_wake_s: float = RECENT_WAKE_S,
    ) -> None:
        self._heartbeats = heartbeats
        self._scaler = scaler
        self._clock = clock
        self._recent_wake_s = recent_wake_s
        self._alive_until = 0.0
        self._woken_at: float | None = None

    async def after_enqueue(self, *, guild_id: str, timeout_s: float) -> WakeOutcome:
        """Called once a play job is on the queue; never raises (bar cancellation)."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._wake_if_idle()
        except Exception as exc:  # noqa: BLE001 - the wake boundary: the job is queued already
            # Expected: AwsError, AwsUnavailable, CredentialsUnavailable, WakeFailed, TimeoutError;
            # anything else (an odd answer) must not turn a queued /play into an error either.
            log.warning("workers.wake_failed", error=type(exc).__name__, guild_id=guild_id)
            return WakeOutcome.FAILED

    async def _wake_if_idle(self) -> WakeOutcome:
        now = self._clock()
        if now < self._alive_until:
            return WakeOutcome.WORKER_ALIVE
        decision = decide_wake(heartbeat_expiries=await self._heartbeats.expiries(), now=now)
        if not decision.wake:
            self._alive_until = decision.alive_until or now
            self._woken_at = None
            return WakeOutcome.WORKER_ALIVE
        if self._woken_at is not None and now - self._woken_at < self._recent_wake_s:
            return WakeOutcome.STARTING
        result = await self._scaler.wake()
        self._woken_at = now
        if result.changed:
            log.info(
                "workers.woken",
                desired_before=result.desired_before,
                desired_after=result.desired_after,
            )
            return WakeOutcome.WOKEN
        return WakeOutcome.STARTING

    async def aclose(self) -> None:
        """Close both clients' connections."""
        await self._heartbeats.aclose()
        await self._scaler.aclose()
