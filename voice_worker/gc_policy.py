"""Garbage collection in a process that must send a packet every 20 ms.

CPython's cyclic collector stops every thread while it runs. A full (generation 2) collection
walks every tracked object, and once discord.py, PyAV and yt-dlp's extractor table are loaded
that took 80-170 ms here (bench/: 200 streams, one 154 ms gap heard by every guild at once,
p99 pacing deviation 16.8 ms). Those start-up objects live as long as the process, so after
the warm-up they are moved out of the collector's sight (``gc.freeze``): later full
collections walk only what playing guilds made (the figures are in docs/architecture.md).

``GcPauses`` measures what the collector still costs, for /health and the benchmarks: how many
collections of each generation ran, the longest, and how many stopped the process for more than
a frame. It never logs from inside the collector's callback (that may run with any lock held).
"""

from __future__ import annotations

import gc
import time
from typing import Any, Final

import structlog

log = structlog.get_logger(__name__)

FRAME_MS: Final = 20.0


def freeze_start_up_heap() -> int:
    """Collect once, then exempt every object alive now from later collections.

    Call it when start-up is over (imports done, extractors loaded) and before audio plays:
    the one full collection here is the last that walks the start-up heap.
    """
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "gc.frozen",
        objects=frozen,
        collect_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return frozen


class GcPauses:
    """Counts collections and their pauses (``gc.callbacks``) while installed."""

    def __init__(self) -> None:
        self._started_at: float | None = None
        self._collections = [0, 0, 0]
        self._max_ms = [0.0, 0.0, 0.0]
        self._total_ms = [0.0, 0.0, 0.0]
        self._over_frame = 0
        self._installed = False

    def install(self) -> None:
        """Start counting (idempotent)."""
        if not self._installed:
            gc.callbacks.append(self._on_gc)
            self._installed = True

    def uninstall(self) -> None:
        """Stop counting."""
        if self._installed:
            gc.callbacks.remove(self._on_gc)
            self._installed = False

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, under the GIL: bookkeeping only, and no lock (a reader
        # allocating under it could set off a collection that calls back here: a deadlock).
        if phase == "start":
            self._started_at = time.perf_counter()
            return
        started, self._started_at = self._started_at, None
        if started is None:
            return
        paused_ms = (time.perf_counter() - started) * 1000
        generation = int(info.get("generation", 0))
        self._collections[generation] += 1
        self._total_ms[generation] += paused_ms
        self._max_ms[generation] = max(self._max_ms[generation], paused_ms)
        if paused_ms > FRAME_MS:
            self._over_frame += 1

    def as_dict(self) -> dict[str, Any]:
        """Figures since install: per generation, and pauses longer than one audio frame."""
        return {
            "collections": list(self._collections),
            "max_pause_ms": [round(ms, 2) for ms in self._max_ms],
            "total_pause_ms": [round(ms, 2) for ms in self._total_ms],
            "pauses_over_frame": self._over_frame,
            "frozen_objects": gc.get_freeze_count(),
        }
