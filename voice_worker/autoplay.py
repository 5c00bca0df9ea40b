"""Autoplay: when the queue runs out, find a track related to the last one.

Everything goes through the sources (the same resolver, SSRF guard and time budget as /play):
- a YouTube video: its YouTube mix (``watch?v=ID&list=RDID``), the site's own "related" list;
- anything else: a search on the last track's artist and title. Its top hit is usually the
  same song on YouTube, so that hit is skipped and its mix used instead; when the hits are
  not YouTube videos (or the mix can't be read), the other hits are the candidates.
The first candidate not played recently is chosen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import parse_qs, urlsplit

import structlog

from voice_worker.sources.errors import SourceError
from voice_worker.sources.models import TrackRef
from voice_worker.track_limits import too_long
from voice_worker.tracks import TrackSource

log = structlog.get_logger(__name__)

SEARCH_RESULTS: Final = 5
MAX_SEARCH_WORDS: Final = 200
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_HOSTS: Final = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
)


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube watch, shorts or youtu.be link, else None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif host in _YOUTUBE_HOSTS:
        if parts.path == "/watch":
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        elif parts.path.startswith("/shorts/"):
            candidate = parts.path.removeprefix("/shorts/").split("/")[0]
    return candidate if candidate and _VIDEO_ID.match(candidate) else None


def mix_url(video_id: str) -> str:
    """The YouTube mix ("radio") playlist seeded by a video."""
    return f"https://www.youtube.com/watch?v={video_id}&list=RD{video_id}"


def track_key(ref: TrackRef) -> str:
    """What makes two refs the same song for "played recently" (a video id, else the page)."""
    return youtube_id(ref.webpage_url) or ref.webpage_url


def search_words(ref: TrackRef) -> str:
    """The artist and title of a track as search words ("" when it has neither)."""
    words = " ".join(part for part in (ref.uploader, ref.title) if part)
    return " ".join(words.split())[:MAX_SEARCH_WORDS]


def pick(
    candidates: Iterable[TrackRef], exclude: set[str], max_length_s: int | None = None
) -> TrackRef | None:
    """The first candidate whose key is not excluded (nor longer than max_length_s)."""
    return next(
        (
            ref
            for ref in candidates
            if track_key(ref) not in exclude and not too_long(ref, max_length_s)
        ),
        None,
    )


class RelatedTracks:
    """Finds a track related to the last one through the sources."""

    def __init__(self, sources: TrackSource) -> None:
        self._sources = sources

    async def find(
        self, last: TrackRef, played: Sequence[TrackRef], *, max_length_s: int | None = None
    ) -> TrackRef | None:
        """A related track not in ``played`` (nor ``last``) and not longer than the guild's
        max track length, or None; raises SourceError when the sources fail (blocked, timed
        out)."""
        exclude = {track_key(ref) for ref in (*played, last)}
        video = youtube_id(last.webpage_url)
        if video is not None:
            return pick((await self._sources.lookup(mix_url(video))).entries, exclude, max_length_s)
        words = search_words(last)
        if not words:
            return None
        hits = await self._sources.search(words, limit=SEARCH_RESULTS)
        top = youtube_id(hits[0].webpage_url) if hits else None
        if top is not None:
            exclude.add(top)  # the same song, found elsewhere: not "related"
            try:
                mix = (await self._sources.lookup(mix_url(top))).entries
            except SourceError as exc:
                log.info("autoplay.mix_failed", reason=exc.reason)
            else:
                found = pick(mix, exclude, max_length_s)
                if found is not None:
                    return found
        return pick(hits, exclude, max_length_s)
