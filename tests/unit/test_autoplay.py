"""Autoplay's choice of a related track: which query, which hit, what counts as played."""

from __future__ import annotations

import pytest

from voice_worker.autoplay import (
    RelatedTracks,
    mix_url,
    pick,
    search_words,
    track_key,
    youtube_id,
)
from voice_worker.sources.errors import SourceUnavailable
from voice_worker.sources.models import Lookup, Track, TrackRef

VIDEO = "dQw4w9WgXcQ"


def ref(url: str, title: str = "t", uploader: str | None = None) -> TrackRef:
    return TrackRef(title=title, webpage_url=url, uploader=uploader)


def watch(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


class ListedSources:
    """A TrackSource answering lookups and searches from tables, recording what was asked."""

    def __init__(
        self,
        lookups: dict[str, tuple[TrackRef, ...]],
        searches: tuple[TrackRef, ...] = (),
        *,
        failing: frozenset[str] = frozenset(),
    ) -> None:
        self.lookups, self.searches, self.failing = lookups, searches, failing
        self.asked: list[str] = []

    async def lookup(self, query: str) -> Lookup:
        self.asked.append(query)
        if query in self.failing:
            raise SourceUnavailable("blocked")
        return Lookup(query, self.lookups[query])

    async def search(self, words: str, *, limit: int) -> tuple[TrackRef, ...]:
        self.asked.append(f"search:{words}")
        return self.searches[:limit]

    async def stream(self, ref: TrackRef) -> Track:
        raise AssertionError("autoplay never streams")

    def prefetch(self, ref: TrackRef) -> None:
        raise AssertionError("autoplay never prefetches")

    async def warm_up(self) -> None:
        return None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (watch(VIDEO), VIDEO),
        (f"https://music.youtube.com/watch?v={VIDEO}&list=x", VIDEO),
        (f"https://youtu.be/{VIDEO}?t=3", VIDEO),
        (f"https://m.youtube.com/shorts/{VIDEO}", VIDEO),
        ("https://www.youtube.com/watch?v=short", None),
        (f"https://evil.example/watch?v={VIDEO}", None),
        ("https://soundcloud.com/a/b", None),
        ("not a url", None),
    ],
)
def test_youtube_ids_come_only_from_youtube_links(url: str, expected: str | None) -> None:
    assert youtube_id(url) == expected


def test_keys_words_and_picks() -> None:
    assert mix_url(VIDEO) == f"https://www.youtube.com/watch?v={VIDEO}&list=RD{VIDEO}"
    assert track_key(ref(f"https://youtu.be/{VIDEO}")) == track_key(ref(watch(VIDEO))) == VIDEO
    assert track_key(ref("https://a.example/x")) == "https://a.example/x"
    assert search_words(ref("u", title="Song  Name", uploader="Band")) == "Band Song Name"
    assert search_words(ref("u", title="")) == ""
    assert len(search_words(ref("u", title="x" * 500))) == 200
    candidates = [ref("https://a.example/1"), ref("https://a.example/2")]
    assert pick(candidates, {"https://a.example/1"}) == candidates[1]
    assert pick(candidates, {"https://a.example/1", "https://a.example/2"}) is None


async def test_a_youtube_track_plays_on_from_its_mix_skipping_what_was_played() -> None:
    played = [ref(watch("aaaaaaaaaaa"))]
    mix = (ref(watch(VIDEO)), ref(watch("aaaaaaaaaaa")), ref(watch("bbbbbbbbbbb")))
    sources = ListedSources({mix_url(VIDEO): mix})
    found = await RelatedTracks(sources).find(ref(watch(VIDEO)), played)
    assert found == mix[2]
    assert sources.asked == [mix_url(VIDEO)]


async def test_another_site_searches_then_uses_the_mix_of_the_same_song_on_youtube() -> None:
    last = ref("https://soundcloud.com/band/song", title="Song", uploader="Band")
    same_on_youtube = ref(watch(VIDEO), title="Band - Song")
    related = ref(watch("ccccccccccc"))
    sources = ListedSources(
        {mix_url(VIDEO): (same_on_youtube, related)}, searches=(same_on_youtube,)
    )
    assert await RelatedTracks(sources).find(last, []) == related
    assert sources.asked == ["search:Band Song", mix_url(VIDEO)]


async def test_without_a_mix_the_other_search_hits_are_the_candidates() -> None:
    last = ref("https://a.example/440", title="440")
    hits = (ref(watch(VIDEO)), ref("https://a.example/440"), ref("https://a.example/660"))
    sources = ListedSources({}, searches=hits, failing=frozenset({mix_url(VIDEO)}))
    # The top hit (the same song elsewhere) and the track itself are left out
    assert await RelatedTracks(sources).find(last, []) == hits[2]


async def test_nothing_to_search_or_nothing_new_finds_nothing() -> None:
    sources = ListedSources({}, searches=(ref("https://a.example/1"),))
    assert await RelatedTracks(sources).find(ref("https://a.example/x", title=""), []) is None
    assert sources.asked == []
    last = ref("https://a.example/1", title="one")
    assert await RelatedTracks(sources).find(last, []) is None


async def test_a_related_track_longer_than_the_guild_allows_is_passed_over() -> None:
    # GIVEN a mix whose first fresh entry lasts 10 min, the next 3 min, and one of unknown length
    long = TrackRef(title="long", webpage_url=watch("aaaaaaaaaaa"), duration_s=600)
    short = TrackRef(title="short", webpage_url=watch("bbbbbbbbbbb"), duration_s=180)
    unknown = TrackRef(title="live", webpage_url=watch("ccccccccccc"))
    sources = ListedSources({mix_url(VIDEO): (ref(watch(VIDEO)), long, short)})
    related = RelatedTracks(sources)
    # WHEN the guild allows 5 min, THEN the 3 min one is chosen; without a limit, the first
    assert await related.find(ref(watch(VIDEO)), [], max_length_s=300) == short
    assert await related.find(ref(watch(VIDEO)), []) == long
    # AND a track whose length is unknown can't be checked, so it is let through
    assert pick([long, unknown], set(), max_length_s=300) == unknown
