"""Waking the voice workers from zero: the pure decision and its result types.

Target tracking cannot scale an ECS service up from zero tasks, and SQS metrics lag after
idleness, so the front door wakes a worker itself: when it has enqueued a job and no worker
heartbeat vouches for now, it sets the service's desired count to max(current, 1). The
queue-depth alarm in infra/worker.yml is only the backstop.

The interactions Lambda does the I/O with its own lean clients (interactions/wake.py, no
botocore on its cold start); this module holds what it decides with, and imports nothing heavy.
Settings (see docs/deploy.md): WORKER_CLUSTER and WORKER_SERVICE (names or ARNs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

# A heartbeat's expiry is the worker's clock plus its lease TTL (seconds). One further ahead
# than this comes from a broken clock: trusting it could keep the service at zero for days
# after that worker died, so it does not count.
MAX_HEARTBEAT_AHEAD_S = 3600.0


class WakeReason(StrEnum):
    """Why the decision came out as it did (a stable value for logs)."""

    WORKER_ALIVE = "worker_alive"
    NO_ALIVE_WORKER = "no_alive_worker"


@dataclass(frozen=True)
class WakeDecision:
    """Whether to wake workers, why, and until when a live worker vouches for itself."""

    wake: bool
    reason: WakeReason
    alive_until: float | None = None  # epoch seconds; set when a worker is alive


def decide_wake(
    *,
    heartbeat_expiries: Iterable[float],
    now: float,
    max_ahead_s: float = MAX_HEARTBEAT_AHEAD_S,
) -> WakeDecision:
    """After a job was enqueued: wake unless a heartbeat (its expiry, epoch seconds) is live."""
    live = [expiry for expiry in heartbeat_expiries if now < expiry <= now + max_ahead_s]
    if live:
        return WakeDecision(False, WakeReason.WORKER_ALIVE, alive_until=max(live))
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
