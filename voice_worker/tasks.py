"""A guild session's own tasks and timer: kept, contained, cancellable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class BackgroundTasks:
    """Runs coroutines as tasks; a failure is logged, never lost and never spread."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Start ``coro``; keep a reference until it is done (asyncio keeps only weak ones)."""
        task = asyncio.create_task(self._contained(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _contained(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception:  # noqa: BLE001 - a task boundary: one guild's bug must not spread
            self._log.exception("session.task_failed")

    async def wait(self) -> None:
        """Wait for the running tasks (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class IdleTimer:
    """Calls ``on_expire`` once ``delay_s`` after ``arm()``, unless disarmed first."""

    def __init__(self, delay_s: float, on_expire: Callable[[], None]) -> None:
        self._delay_s = delay_s
        self._on_expire = on_expire
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0

    @property
    def delay_s(self) -> float:
        """How long after arm() the timer fires."""
        return self._delay_s

    def set_delay(self, delay_s: float) -> None:
        """Use another delay; a running count keeps its start and ends at the new deadline."""
        if delay_s == self._delay_s:
            return
        self._delay_s = delay_s
        if self._handle is not None:
            self._handle.cancel()
            loop = asyncio.get_running_loop()
            self._handle = loop.call_at(self._armed_at + delay_s, self._expired)

    def arm(self) -> None:
        """Start counting (no-op when already counting)."""
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._armed_at = loop.time()
            self._handle = loop.call_later(self._delay_s, self._expired)

    def disarm(self) -> None:
        """Stop counting."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expired(self) -> None:
        self._handle = None
        self._on_expire()
