"""Pacing IDENTIFY: Discord allows ~1,000 a day per bot, and a worker that restarts or
re-identifies in a loop can spend them all (then Discord resets the token).

The gate is an interface so the state store issue can share it across workers (a lock with a
lease in DynamoDB); the in-process version paces one process.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

# max_concurrency 1 means one identify per 5 s across all of the bot's sessions.
IDENTIFY_INTERVAL_S = 5.0


@dataclass(frozen=True)
class SessionStartLimit:
    """``session_start_limit`` from ``GET /gateway/bot``."""

    total: int
    remaining: int
    reset_after_s: float
    max_concurrency: int = 1

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SessionStartLimit:
        """Parse Discord's JSON (reset_after is in milliseconds)."""
        return cls(
            total=int(data.get("total", 1000)),
            remaining=int(data.get("remaining", 1000)),
            reset_after_s=float(data.get("reset_after", 0)) / 1000.0,
            max_concurrency=int(data.get("max_concurrency", 1)),
        )


class IdentifyGate(Protocol):
    """Called before every IDENTIFY; returns when this session may identify."""

    async def wait_turn(self, *, initial: bool) -> None:
        """Sleep as long as pacing requires."""


class BackoffIdentifyGate:
    """One identify per interval, doubling the wait while identifies keep repeating.

    The first identify of a process goes at once. Each further identify within ``window_s``
    of the previous ones waits ``interval * 2**(n-1)`` (capped): a session that keeps dying
    backs off to one identify per ``cap_s`` instead of one per 5 s (17,280 a day).
    """

    def __init__(
        self,
        *,
        interval_s: float = IDENTIFY_INTERVAL_S,
        cap_s: float = 600.0,
        window_s: float = 1800.0,
        reserve: int = 20,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval_s = interval_s
        self._cap_s = cap_s
        self._window_s = window_s
        self._reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        self._limit: SessionStartLimit | None = None
        self._lock = asyncio.Lock()

    def set_limit(self, limit: SessionStartLimit) -> None:
        """Record the budget read from ``GET /gateway/bot``."""
        self._limit = limit
        log.info(
            "identify.budget",
            remaining=limit.remaining,
            total=limit.total,
            reset_after_s=round(limit.reset_after_s),
        )

    def budget_wait_s(self) -> float:
        """Seconds to wait for the daily budget to reset, when it is nearly spent."""
        if self._limit is not None and self._limit.remaining <= self._reserve:
            # Keep the last few for operators; waiting out the reset beats a token reset.
            return self._limit.reset_after_s
        return 0.0

    def delay_s(self) -> float:
        """How long the next identify must wait for pacing (pure: no sleeping)."""
        now = self._clock()
        while self._recent and now - self._recent[0] > self._window_s:
            self._recent.popleft()
        if not self._recent:
            return 0.0
        backoff = min(self._cap_s, self._interval_s * 2.0 ** min(30, len(self._recent) - 1))
        return max(0.0, self._recent[-1] + backoff - now)

    async def wait_turn(self, *, initial: bool) -> None:
        """Wait, then count this identify."""
        async with self._lock:
            budget_wait = self.budget_wait_s()
            if budget_wait > 0:
                log.error("identify.budget_low", wait_s=round(budget_wait))
                await self._sleep(budget_wait)
                self._limit = None  # unknown again until the next GET /gateway/bot
            delay = self.delay_s()
            if delay > 0:
                log.warning("identify.waiting", delay_s=round(delay, 1), initial=initial)
                await self._sleep(delay)
            self._recent.append(self._clock())
            if self._limit is not None:
                self._limit = SessionStartLimit(
                    total=self._limit.total,
                    remaining=max(0, self._limit.remaining - 1),
                    reset_after_s=self._limit.reset_after_s,
                    max_concurrency=self._limit.max_concurrency,
                )
