"""Waking the voice workers from zero: a pure decision and an ECS adapter.

Target tracking cannot scale an ECS service up from zero tasks, and SQS metrics lag after
idleness, so the front door wakes a worker itself: when it has enqueued a job and no worker
heartbeat is fresh, it sets the service's desired count to max(current, 1). The queue-depth
alarm in infra/worker.yml is only the backstop.

The interactions Lambda does this with its own lean client (interactions/wake.py, no botocore
on its cold start) and this module's WakeResult/WakeFailed; EcsServiceWaker is the aiobotocore
adapter for processes that have botocore loaded anyway.

Settings the caller passes in (see docs/deploy.md): WORKER_CLUSTER and WORKER_SERVICE (names
or ARNs), AWS_REGION and AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# A worker heartbeats every ~30 s: three missed beats mean it is gone (or not yet up).
DEFAULT_HEARTBEAT_TTL_S = 90.0
# Clocks of the Lambda and the workers disagree a little; a beat "from the future" within
# this margin still counts, one further ahead is a broken clock and does not.
_CLOCK_SKEW_S = 5.0


class WakeReason(StrEnum):
    """Why the decision came out as it did (a stable value for logs)."""

    NO_JOB = "no_job"
    WORKER_ALIVE = "worker_alive"
    NO_ALIVE_WORKER = "no_alive_worker"


@dataclass(frozen=True)
class WakeDecision:
    """Whether to wake workers, and why."""

    wake: bool
    reason: WakeReason


def decide_wake(
    *,
    job_enqueued: bool,
    heartbeat_times: Iterable[float],
    now: float,
    heartbeat_ttl_s: float = DEFAULT_HEARTBEAT_TTL_S,
) -> WakeDecision:
    """Wake only when a job was enqueued and no worker heartbeat (epoch seconds) is fresh."""
    if not job_enqueued:
        return WakeDecision(False, WakeReason.NO_JOB)
    for beat in heartbeat_times:
        if now - heartbeat_ttl_s <= beat <= now + _CLOCK_SKEW_S:
            return WakeDecision(False, WakeReason.WORKER_ALIVE)
    return WakeDecision(True, WakeReason.NO_ALIVE_WORKER)


class WakeFailed(Exception):
    """ECS did not confirm the wake-up; the queue-depth alarm will start a worker later."""


@dataclass(frozen=True)
class WakeResult:
    """The service's desired count before and after (equal when it was already awake)."""

    desired_before: int
    desired_after: int

    @property
    def changed(self) -> bool:
        """Whether this call raised the desired count."""
        return self.desired_after != self.desired_before


class EcsServiceWaker:
    """Raises an ECS service's desired count to at least 1 through aiobotocore.

    The client is created on first use and kept (a warm Lambda reuses it); timeouts are short
    because this runs on the interaction's 3 s path.
    """

    def __init__(
        self,
        *,
        cluster: str,
        service: str,
        region: str,
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        if not cluster or not service:
            raise ValueError("cluster and service are required (WORKER_CLUSTER, WORKER_SERVICE)")
        self._cluster = cluster
        self._service = service
        self._region = region
        self._endpoint_url = endpoint_url or None
        self._client = client
        self._exit_stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _ecs(self) -> Any:
        # Imported here: the interactions Lambda imports this module for its types and must
        # not pay for aiobotocore on its cold start (it wakes workers with its own client).
        from aiobotocore.session import get_session  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        if self._client is None:
            async with self._lock:
                if self._client is None:
                    config = Config(
                        connect_timeout=1.0,
                        read_timeout=2.0,
                        retries={"max_attempts": 2, "mode": "standard"},
                    )
                    creator = get_session().create_client(
                        "ecs",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=config,
                    )
                    self._client = await self._exit_stack.enter_async_context(creator)
        return self._client

    async def desired_count(self) -> int:
        """The service's current desired count."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            ecs = await self._ecs()
            response = await ecs.describe_services(cluster=self._cluster, services=[self._service])
        except (BotoCoreError, ClientError) as exc:
            raise WakeFailed(f"DescribeServices failed: {type(exc).__name__}") from exc
        services = response.get("services") or []
        if not services:
            reasons = [failure.get("reason", "") for failure in response.get("failures") or []]
            raise WakeFailed(f"service not found: {', '.join(reasons) or 'no answer'}")
        return int(services[0].get("desiredCount", 0))

    async def wake(self) -> WakeResult:
        """Set desiredCount to max(current, 1); never lowers it, never adds to it."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        before = await self.desired_count()
        if before >= 1:
            return WakeResult(before, before)
        try:
            ecs = await self._ecs()
            response = await ecs.update_service(
                cluster=self._cluster, service=self._service, desiredCount=1
            )
        except (BotoCoreError, ClientError) as exc:
            raise WakeFailed(f"UpdateService failed: {type(exc).__name__}") from exc
        after = int(response.get("service", {}).get("desiredCount", 1))
        log.info("workers.woken", desired_before=before, desired_after=after)
        return WakeResult(before, after)

    async def aclose(self) -> None:
        """Close the client."""
        await self._exit_stack.aclose()
        self._client = None
