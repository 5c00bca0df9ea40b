"""CachedTracks.lookup: a link played before is not resolved again while its stream is fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voice_worker.sources.cache import StreamCache
from voice_worker.sources.models import Lookup, Track, TrackRef
from voice_worker.tracks import CachedTracks

URL = "https://media.example.com/song.webm"


def track(url: str, ttl_s: float) -> Track:
    return Track(
        title="song",
        webpage_url=url,
        stream_url=url + "?sig=1",
        codec="opus",
        container="webm",
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
    )


class CountingResolver:
    """Stands in for Resolver: records each lookup (yt-dlp runs) and answers one track."""

    def __init__(self, ttl_s: float = 3600) -> None:
        self.lookups: list[str] = []
        self.ttl_s = ttl_s

    async def lookup(self, query: str) -> Lookup:
        self.lookups.append(query)
        if query.startswith("https://"):
            return Lookup(query=query, entries=(track(query, self.ttl_s),))
        return Lookup(query=query, entries=(track(URL, self.ttl_s),))

    async def resolve(self, ref: TrackRef) -> Track:
        return track(ref.webpage_url, self.ttl_s)

    async def aclose(self) -> None:
        return None


def tracks_over(resolver: CountingResolver) -> CachedTracks:
    return CachedTracks(resolver, StreamCache(resolver))  # type: ignore[arg-type]


async def test_a_link_played_before_is_answered_from_the_cache() -> None:
    resolver = CountingResolver()
    tracks = tracks_over(resolver)
    # GIVEN a link looked up once
    first = await tracks.lookup(URL)
    # WHEN the same link is played again (spaces around it don't matter)
    again = await tracks.lookup(f"  {URL} ")
    # THEN yt-dlp ran once, and the same resolved track comes back
    assert resolver.lookups == [URL]
    assert again.first_track == first.first_track


async def test_searches_are_always_resolved() -> None:
    resolver = CountingResolver()
    tracks = tracks_over(resolver)
    await tracks.lookup("some song")
    await tracks.lookup("some song")
    assert resolver.lookups == ["some song", "some song"]


async def test_a_stale_stream_is_resolved_again() -> None:
    # GIVEN a stream URL that expires within the cache's refresh margin (300 s)
    resolver = CountingResolver(ttl_s=60)
    tracks = tracks_over(resolver)
    await tracks.lookup(URL)
    await tracks.lookup(URL)
    assert resolver.lookups == [URL, URL]
