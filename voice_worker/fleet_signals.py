"""What a worker tells the fleet: scale-in protection and CloudWatch metrics.

The worker reports its number of voice sessions (``sessions_changed``, or a function polled
every ``poll_s``). From it:

- **Scale-in protection** (voice_worker/task_protection.py): on while the count is above zero,
  renewed while it stays there, off at zero. Outside ECS (no ECS_AGENT_URI) nothing is called.
- **Metrics** as CloudWatch embedded-metric-format (EMF) lines on stdout: ``ActiveSessions``
  and the job counters since the previous line, every ``period_s`` (zeros included: the
  scale-in alarm needs a datapoint each minute) and at once when the count changes. The
  awslogs driver ships stdout to CloudWatch Logs, which extracts the metrics: no API call and
  no IAM permission. An empty ``METRICS_NAMESPACE`` means no lines (embedded mode, tests).

The metric contract with infra/scaling.yml and infra/dashboard.yml: namespace
METRICS_NAMESPACE, no dimensions (one empty dimension set), unit Count.

The EMF document is written here rather than with aws-embedded-metrics: that library adds
LogGroup/ServiceName/ServiceType dimensions unless told otherwise and probes the ECS metadata
endpoint to fill them in, while what we need is one ``json.dumps`` of a fixed shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from shared.settings import Settings
from voice_worker.task_protection import ScaleInProtection

log = structlog.get_logger(__name__)

ACTIVE_SESSIONS = "ActiveSessions"
# Worker counters published as metrics (deltas since the previous line), by counter name.
# Few on purpose: each custom metric is billed for every hour it has data.
COUNTER_METRICS: Mapping[str, str] = {
    "jobs_received": "JobsReceived",
    "jobs_failed": "JobsFailed",
    "jobs_dead_lettered": "JobsDeadLettered",
}
# No dimensions: the alarm reads the namespace-wide metric, whichever worker sent it.
NO_DIMENSIONS: list[list[str]] = [[]]


def emf_line(
    namespace: str,
    values: Mapping[str, int | float],
    *,
    timestamp_ms: int,
    properties: Mapping[str, str] | None = None,
) -> str:
    """One EMF document (a single JSON line): every value a Count metric without dimensions."""
    if not namespace:
        raise ValueError("an EMF line needs a namespace")
    document: dict[str, Any] = dict(properties or {})
    document["_aws"] = {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": NO_DIMENSIONS,
                "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
            }
        ],
    }
    document.update(values)
    return json.dumps(document, separators=(",", ":"))


def _write_stdout(line: str) -> None:
    # stdout holds only these lines (logs go to stderr), so each stays one whole log event.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class FleetSignals:
    """Turns the session count and counters into protection calls and metric lines."""

    def __init__(
        self,
        *,
        protection: ScaleInProtection,
        namespace: str,
        counters: Callable[[], Mapping[str, int]],
        sessions: Callable[[], int] | None = None,
        worker_id: str = "",
        # Twice a minute: every one-minute bucket the alarm reads gets a datapoint, jitter or not.
        period_s: float = 30.0,
        poll_s: float = 1.0,
        write: Callable[[str], None] = _write_stdout,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        if period_s <= 0 or poll_s <= 0:
            raise ValueError("period_s and poll_s must be positive")
        self._protection = protection
        self._namespace = namespace
        self._counters = counters
        self._sessions = sessions
        self._worker_id = worker_id
        self._period_s = period_s
        self._poll_s = poll_s
        self._write = write
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._reported: int | None = None  # a pushed count, preferred over polling
        self._emitted_count: int | None = None
        self._next_emit = 0.0
        self._baseline: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        counters: Callable[[], Mapping[str, int]],
        sessions: Callable[[], int] | None = None,
        worker_id: str | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> FleetSignals:
        """Protection bound to this task's ECS agent (none outside ECS), namespace from settings."""
        return cls(
            protection=ScaleInProtection.from_environ(environ),
            namespace=settings.metrics_namespace,
            counters=counters,
            sessions=sessions,
            worker_id=settings.worker_id if worker_id is None else worker_id,
            **options,
        )

    @property
    def emits_metrics(self) -> bool:
        """Whether metric lines are written (a namespace is set)."""
        return bool(self._namespace)

    def sessions_changed(self, active: int) -> None:
        """Report the new session count (call on the event loop's thread)."""
        self._reported = max(0, active)
        self._wake.set()

    def _count(self) -> int:
        if self._reported is not None:
            return self._reported
        return max(0, self._sessions()) if self._sessions is not None else 0

    async def tick(self) -> None:
        """One round: protection in line with the count; a metric line if due or changed."""
        count = self._count()
        await self._protection.update(count)
        now = self._clock()
        if count != self._emitted_count or now >= self._next_emit:
            self._emit(count)
            self._next_emit = now + self._period_s

    def _emit(self, count: int) -> None:
        self._emitted_count = count
        if not self._namespace:
            return
        current = self._counters()
        values: dict[str, int] = {ACTIVE_SESSIONS: count}
        for counter, metric in COUNTER_METRICS.items():
            value = current.get(counter, 0)
            # A counter that went backwards (a reset) counts from zero again.
            values[metric] = max(0, value - self._baseline.get(counter, 0))
            self._baseline[counter] = value
        properties = {"event": "fleet.metrics"}
        if self._worker_id:
            properties["worker_id"] = self._worker_id
        line = emf_line(
            self._namespace, values, timestamp_ms=self._wall_clock_ms(), properties=properties
        )
        try:
            self._write(line)
        except OSError as exc:  # a closed stdout must not take the worker down
            log.warning("fleet.metrics_write_failed", error=type(exc).__name__)

    def _wait_s(self) -> float:
        until_emit = max(0.0, self._next_emit - self._clock())
        return min(self._poll_s, until_emit) if self._sessions is not None else until_emit

    async def run(self) -> None:
        """Tick on changes, every poll_s (with a poll function) and every period_s, until stop()."""
        while not self._stop_requested():
            # Cleared before the round: a change or stop() during it wakes the wait at once.
            self._wake.clear()
            await self.tick()
            if self._stop_requested():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._wait_s())

    def _stop_requested(self) -> bool:
        return self._stopping

    def start(self) -> None:
        """Run in the background until stop() (on the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="fleet-signals")

    async def stop(self) -> None:
        """Last round: protection off (the process is leaving), a final line, client closed."""
        if self._stopped:
            return
        self._stopped = self._stopping = True
        self._wake.set()
        try:
            if self._task is not None:
                # Let a round in progress finish; it must not fail the shutdown.
                (outcome,) = await asyncio.gather(self._task, return_exceptions=True)
                if isinstance(outcome, Exception):
                    log.error("fleet.signals_failed", exc_info=outcome)
            await self._protection.release()
            self._emit(self._count())
        finally:
            await self._protection.aclose()
