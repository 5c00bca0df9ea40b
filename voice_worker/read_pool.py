"""A small, elastic pool of daemon threads for the pacer's blocking reads.

A reader thread per playing guild means hundreds of threads waking on their own schedules and
taking the GIL in the middle of the pacer's sends. The pacer instead hands refills to this pool
after each tick, so reads happen between ticks, mostly on one thread. Reads can block (a stalled
source waits for its read timeout), so a task that has run longer than ``stall_s`` does not hold
the others up: when every worker is stuck like that and tasks wait, a watching thread starts
another worker (up to ``max_workers``). The most recently idle worker takes the next task; the
others stay asleep and, after ``idle_exit_s`` without work, exit (the last one stays).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final

import structlog

log = structlog.get_logger(__name__)

STALL_S: Final = 0.1
IDLE_EXIT_S: Final = 30.0
MAX_WORKERS: Final = 256


class ReadPool:
    """Runs submitted callables on a few daemon threads; never blocks the submitter."""

    def __init__(
        self,
        *,
        stall_s: float = STALL_S,
        idle_exit_s: float = IDLE_EXIT_S,
        max_workers: int = MAX_WORKERS,
        name: str = "audio-reader",
    ) -> None:
        self._stall_s = stall_s
        self._idle_exit_s = idle_exit_s
        self._max_workers = max_workers
        self._name = name
        self._tasks: deque[Callable[[], object]] = deque()
        self._lock = threading.Lock()
        self._workers = 0
        # Idle workers, each blocked on its own held lock until released: a stack, so the last
        # to go idle is woken first. (A bare lock: an Event's condition costs the pacer more.)
        self._idle: list[threading.Lock] = []
        self._busy_since: dict[int, float] = {}  # worker ident -> when its current task began
        self._watching = False

    @property
    def workers(self) -> int:
        """How many worker threads exist."""
        with self._lock:
            return self._workers

    def submit(self, task: Callable[[], object], *, urgent: bool = False) -> None:
        """Queue ``task`` (it must catch its own errors). ``urgent`` (a track's first read:
        time to first audio) starts a worker now rather than wait behind busy ones; that
        waits for the new thread to start, so the pacing thread never asks for it."""
        self.submit_all([task], urgent=urgent)

    def submit_all(self, tasks: Iterable[Callable[[], object]], *, urgent: bool = False) -> None:
        """Queue ``tasks`` and wake one worker for them all (the pacer's refills of a tick)."""
        with self._lock:
            self._tasks.extend(tasks)
            if self._idle:
                self._idle.pop().release()
            elif urgent or not self._workers:
                self._spawn()

    def _spawn(self) -> None:
        # Caller holds the lock. Thread.start() waits for the thread to run: never called on
        # the pacing thread (a loaded machine made that a missed tick).
        if self._workers < self._max_workers:
            self._workers += 1
            threading.Thread(target=self._work, daemon=True, name=self._name).start()
        if not self._watching:
            self._watching = True
            threading.Thread(target=self._watch, daemon=True, name=f"{self._name}-watch").start()

    def _watch(self) -> None:
        """Start a worker when queued tasks wait and every worker is stuck on a slow read.

        Not when this thread woke late itself: then the whole process was held up (a garbage
        collection), the workers with it, and that is no slow read. Plain CPU contention still
        grows the pool (bench/: 67-256 readers at 300 streams; docs/architecture.md says why
        that is not what limits the worker there).
        """
        period_s = max(self._stall_s, 0.01)
        deadline = time.monotonic()
        while True:
            deadline += period_s
            time.sleep(max(0.0, deadline - time.monotonic()))
            if time.monotonic() - deadline > period_s / 2:
                deadline = time.monotonic()
                continue
            with self._lock:
                if not self._tasks or self._idle:
                    continue
                now = time.monotonic()
                stuck = sum(1 for t in self._busy_since.values() if now - t > self._stall_s)
                # A worker just started (no task yet) is not stuck.
                if stuck == self._workers:
                    self._spawn()

    def _work(self) -> None:
        me = threading.get_ident()
        wake = threading.Lock()
        wake.acquire()
        while True:
            with self._lock:
                if not self._tasks:
                    self._idle.append(wake)
                    task = None
                else:
                    task = self._tasks.popleft()
                    self._busy_since[me] = time.monotonic()
            if task is None:
                if not wake.acquire(timeout=self._idle_exit_s):
                    with self._lock:
                        if wake in self._idle:  # not woken meanwhile (released under this lock)
                            self._idle.remove(wake)
                            if self._workers > 1:  # the last one stays
                                self._workers -= 1
                                return
                        else:
                            wake.acquire()  # released just now: take it back, held again
                continue
            try:
                task()
            except Exception:  # tasks handle their own errors; this is the last line
                log.exception("read_pool.task_failed")
            finally:
                with self._lock:
                    del self._busy_since[me]
