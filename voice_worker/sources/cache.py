"""A bounded LRU of resolved stream URLs, refreshed before they expire, with prefetch.

One instance per worker (no globals). Concurrent requests for the same track share a single
resolution; a failure is remembered briefly so a dead link isn't re-resolved (and re-timed-out)
by the player right after its prefetch failed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import structlog

from voice_worker.sources.errors import SourceError
from voice_worker.sources.logsafe import url_host
from voice_worker.sources.models import Track, TrackRef

log = structlog.get_logger(__name__)


class TrackResolver(Protocol):
    """Anything that turns a ref into a fresh Track (the :class:`Resolver`)."""

    async def resolve(self, ref: TrackRef) -> Track:
        """Resolve ``ref``."""
        ...


class StreamCache:
    """Resolved tracks keyed by ``webpage_url`` (plus optional aliases such as the query)."""

    def __init__(
        self,
        resolver: TrackResolver,
        *,
        max_entries: int = 256,
        refresh_margin_s: float = 300.0,
        failure_ttl_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._resolver = resolver
        self._max_entries = max_entries
        self._margin_s = refresh_margin_s
        self._failure_ttl_s = failure_ttl_s
        self._clock = clock
        self._monotonic = monotonic
        self._entries: OrderedDict[str, Track] = OrderedDict()
        self._failures: dict[str, tuple[SourceError, float]] = {}
        self._inflight: dict[str, asyncio.Task[Track]] = {}
        self._background: set[asyncio.Task[Track | None]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> Track | None:
        """The cached track for ``key`` if it is still fresh enough to start playing."""
        track = self._entries.get(key)
        if track is None:
            return None
        if track.seconds_left(self._clock()) <= self._margin_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return track

    def put(self, track: Track, *aliases: str) -> None:
        """Remember ``track`` under its webpage URL and any ``aliases``."""
        for key in (track.webpage_url, *aliases):
            self._entries[key] = track
            self._entries.move_to_end(key)
            self._failures.pop(key, None)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key: str) -> None:
        """Forget ``key`` (e.g. ffmpeg got 403 from a stream URL before its expiry)."""
        self._entries.pop(key, None)
        self._failures.pop(key, None)

    async def get(self, ref: TrackRef) -> Track:
        """A fresh Track for ``ref``: cached, joined to an in-flight resolution, or resolved."""
        key = ref.webpage_url
        if isinstance(ref, Track) and ref.seconds_left(self._clock()) > self._margin_s:
            self.put(ref)
            return ref
        cached = self.peek(key)
        if cached is not None:
            return cached
        failure = self._failures.get(key)
        if failure is not None:
            exc, until = failure
            if self._monotonic() < until:
                raise type(exc)(exc.reason, exc.user_message)
            del self._failures[key]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fill(key, ref), name=f"resolve:{url_host(key)}")
            self._inflight[key] = task
            task.add_done_callback(_consume_exception)
        # shield: a caller giving up (skip, cancel) must not cancel a resolution others await.
        return await asyncio.shield(task)

    def prefetch(self, ref: TrackRef) -> asyncio.Task[Track | None]:
        """Start resolving ``ref`` in the background (the next track); errors are logged only."""
        task = asyncio.create_task(
            self._prefetch(ref), name=f"prefetch:{url_host(ref.webpage_url)}"
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def aclose(self) -> None:
        """Cancel prefetches and in-flight resolutions (worker shutdown)."""
        tasks = [*self._background, *self._inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _fill(self, key: str, ref: TrackRef) -> Track:
        try:
            track = await self._resolver.resolve(ref)
        except SourceError as exc:
            self._failures[key] = (exc, self._monotonic() + self._failure_ttl_s)
            raise
        finally:
            self._inflight.pop(key, None)
        self.put(track, key)  # also under the ref's URL when yt-dlp canonicalised it
        return track

    async def _prefetch(self, ref: TrackRef) -> Track | None:
        try:
            return await self.get(ref)
        except SourceError as exc:
            log.info(
                "source.prefetch.failed",
                host=url_host(ref.webpage_url),
                error=type(exc).__name__,
                reason=exc.reason,
            )
            return None


def _consume_exception(task: asyncio.Task[Track]) -> None:
    # Every waiter may have gone (cancelled); mark the exception retrieved to avoid loop noise.
    if not task.cancelled():
        task.exception()
