"""The sources package as the sessions use it: look queries up, stream refs via the cache."""

from __future__ import annotations

import asyncio
from typing import Protocol

from voice_worker.sources import Lookup, Resolver, StreamCache, Track, TrackRef
from voice_worker.sources.ytdl import has_dedicated_extractor


class TrackSource(Protocol):
    """The sources package as the session uses it (CachedTracks implements it)."""

    async def lookup(self, query: str) -> Lookup:
        """Resolve what a user typed."""

    async def stream(self, ref: TrackRef) -> Track:
        """A track whose stream URL is fresh enough to start now."""

    async def search(self, words: str, *, limit: int) -> tuple[TrackRef, ...]:
        """The top results for search words (/search), not resolved for playing."""

    def prefetch(self, ref: TrackRef) -> None:
        """Start resolving a track that will play soon."""

    async def warm_up(self) -> None:
        """Load what the first lookup would otherwise load (called once at start)."""


class CachedTracks:
    """Resolver for what users type, StreamCache for playing and prefetching queued tracks."""

    def __init__(self, resolver: Resolver, cache: StreamCache | None = None) -> None:
        self._resolver = resolver
        self._cache = cache or StreamCache(resolver)

    async def warm_up(self) -> None:
        """Load yt-dlp's extractor table now (~2-3 s once) rather than on the first /play."""
        await asyncio.to_thread(has_dedicated_extractor, "https://example.com/")

    async def lookup(self, query: str) -> Lookup:
        """Resolve a query; the resolved first track is cached for when it plays."""
        # A link played before (and still fresh) needs no second yt-dlp run: that is most of
        # the time to first audio (bench/ttfa.py). Only links: a search must be run again.
        cached = self._cache.peek(query.strip())
        if cached is not None:
            return Lookup(query=query, entries=(cached,))
        lookup = await self._resolver.lookup(query)
        if lookup.first_track is not None:
            self._cache.put(lookup.first_track)
        return lookup

    async def stream(self, ref: TrackRef) -> Track:
        """A Track whose stream URL is fresh enough to start now."""
        return await self._cache.get(ref)

    async def search(self, words: str, *, limit: int) -> tuple[TrackRef, ...]:
        """The top results for search words: always asked afresh (results change)."""
        return await self._resolver.search(words, limit=limit)

    def prefetch(self, ref: TrackRef) -> None:
        """Resolve the next track in the background."""
        self._cache.prefetch(ref)

    async def aclose(self) -> None:
        """Stop background resolutions and release the resolver."""
        await self._cache.aclose()
        await self._resolver.aclose()
