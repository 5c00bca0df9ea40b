"""StreamCache: LRU, refresh before expiry, one resolution per track at a time, prefetch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from voice_worker.sources.cache import StreamCache
from voice_worker.sources.errors import SourceUnavailable
from voice_worker.sources.models import Track, TrackRef

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.mono = 0.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


class CountingResolver:
    """A stand-in for Resolver.resolve: counts calls, can block or fail."""

    def __init__(self, clock: Clock, ttl_s: float = 3600) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def resolve(self, ref: TrackRef) -> Track:
        self.calls.append(ref.webpage_url)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return Track(
            title=ref.title,
            webpage_url=ref.webpage_url,
            stream_url=f"{ref.webpage_url}/stream?n={len(self.calls)}",
            codec="opus",
            container="webm",
            expires_at=self.clock.wall() + timedelta(seconds=self.ttl_s),
        )


def ref(n: int) -> TrackRef:
    return TrackRef(title=f"t{n}", webpage_url=f"https://example.com/{n}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def resolver(clock: Clock) -> CountingResolver:
    return CountingResolver(clock)


def make_cache(resolver: CountingResolver, clock: Clock, **kwargs: float) -> StreamCache:
    return StreamCache(
        resolver,
        refresh_margin_s=300,
        clock=clock.wall,
        monotonic=clock.monotonic,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_cached_until_close_to_expiry(resolver: CountingResolver, clock: Clock) -> None:
    cache = make_cache(resolver, clock)
    first = await cache.get(ref(1))
    assert await cache.get(ref(1)) is first and resolver.calls == ["https://example.com/1"]
    clock.advance(3600 - 299)  # less than the refresh margin left
    refreshed = await cache.get(ref(1))
    assert refreshed.stream_url != first.stream_url and len(resolver.calls) == 2


async def test_lru_is_bounded(resolver: CountingResolver, clock: Clock) -> None:
    cache = make_cache(resolver, clock, max_entries=2)
    for n in (1, 2):
        await cache.get(ref(n))
    await cache.get(ref(1))  # 1 is now most recently used
    await cache.get(ref(3))  # evicts 2
    assert len(cache) == 2
    assert cache.peek("https://example.com/1") is not None
    assert cache.peek("https://example.com/2") is None


async def test_concurrent_gets_share_one_resolution(
    resolver: CountingResolver, clock: Clock
) -> None:
    cache = make_cache(resolver, clock)
    resolver.gate = asyncio.Event()
    waiters = [asyncio.create_task(cache.get(ref(1))) for _ in range(5)]
    await asyncio.sleep(0)
    resolver.gate.set()
    tracks = await asyncio.gather(*waiters)
    assert len({id(t) for t in tracks}) == 1 and len(resolver.calls) == 1


async def test_cancelled_waiter_does_not_cancel_prefetch(
    resolver: CountingResolver, clock: Clock
) -> None:
    cache = make_cache(resolver, clock)
    resolver.gate = asyncio.Event()
    prefetch = cache.prefetch(ref(1))
    impatient = asyncio.create_task(cache.get(ref(1)))
    await asyncio.sleep(0.01)
    impatient.cancel()
    resolver.gate.set()
    assert (await prefetch) is not None
    assert cache.peek("https://example.com/1") is not None and len(resolver.calls) == 1


async def test_prefetch_failure_is_remembered_briefly(
    resolver: CountingResolver, clock: Clock
) -> None:
    cache = make_cache(resolver, clock, failure_ttl_s=30)
    resolver.fail_with = SourceUnavailable("not_found")
    assert await cache.prefetch(ref(1)) is None
    with pytest.raises(SourceUnavailable):
        await cache.get(ref(1))
    assert len(resolver.calls) == 1  # the player didn't wait for a second failure
    clock.advance(31)
    resolver.fail_with = None
    assert (await cache.get(ref(1))).title == "t1" and len(resolver.calls) == 2


async def test_fresh_track_is_used_and_stored_as_is(
    resolver: CountingResolver, clock: Clock
) -> None:
    cache = make_cache(resolver, clock)
    track = await CountingResolver(clock).resolve(ref(9))
    cache.put(track, "some query")
    assert await cache.get(track) is track
    assert cache.peek("some query") is track and resolver.calls == []
    cache.invalidate(track.webpage_url)
    assert cache.peek(track.webpage_url) is None


async def test_aclose_cancels_background_work(resolver: CountingResolver, clock: Clock) -> None:
    cache = make_cache(resolver, clock)
    resolver.gate = asyncio.Event()
    prefetch = cache.prefetch(ref(1))
    await asyncio.sleep(0)
    await cache.aclose()
    assert prefetch.cancelled()
