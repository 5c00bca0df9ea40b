"""Pure conversion of yt-dlp info dicts into our models (no yt-dlp import, no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict
from urllib.parse import parse_qs, urlsplit

from voice_worker.sources.errors import UnsupportedLink
from voice_worker.sources.models import Track, TrackRef

# googlevideo signs ``expire=<unix time>`` into the query (or ``/expire/<t>/`` in manifests).
_EXPIRE_IN_PATH = re.compile(r"/expire/(\d{9,11})(?:/|$)")
_MAX_TTL_S = 7 * 24 * 3600.0


class RawInfo(TypedDict, total=False):
    """The fields of a yt-dlp info dict (after format selection) that we read."""

    _type: str | None
    id: str
    title: str
    url: str
    webpage_url: str
    original_url: str
    duration: float | int | None
    uploader: str | None
    channel: str | None
    thumbnail: str | None
    is_live: bool | None
    acodec: str | None
    vcodec: str | None
    ext: str | None
    protocol: str | None
    http_headers: dict[str, str]
    extractor: str
    extractor_key: str
    entries: list[Any]
    playlist_count: int | None


def is_playlist(info: RawInfo) -> bool:
    """True when yt-dlp returned a playlist (or a search result list)."""
    return info.get("_type") in {"playlist", "multi_video"} or "entries" in info


def is_full_entry(entry: RawInfo) -> bool:
    """True for a fully extracted entry (a format was selected), False for a flat one."""
    return entry.get("_type") in (None, "video") and bool(entry.get("url")) and "format_id" in entry


def ref_from_entry(entry: RawInfo, *, parent_url: str | None = None) -> TrackRef | None:
    """A queueable ref from a playlist entry; ``None`` when it has no http(s) URL.

    A fully extracted entry that shares its page with the playlist (several ``<audio>`` on one
    page) is referred to by its media URL, or re-resolving it would give the page's first track.
    """
    url = entry.get("webpage_url") or entry.get("url")
    if is_full_entry(entry) and (url is None or url == parent_url):
        url = entry.get("url")
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return None
    return TrackRef(
        title=_title(entry, url),
        webpage_url=url,
        duration_s=_float_or_none(entry.get("duration")),
        uploader=_str_or_none(entry.get("uploader") or entry.get("channel")),
        thumbnail=_str_or_none(entry.get("thumbnail")),
        is_live=bool(entry.get("is_live")),
    )


def track_from_info(info: RawInfo, *, now: datetime, default_ttl_s: float) -> Track:
    """A :class:`Track` from a fully extracted info dict; raises when it has no audio URL."""
    stream_url = info.get("url")
    if not isinstance(stream_url, str) or not stream_url:
        raise UnsupportedLink("no_stream", "No playable audio was found at that link.")
    if info.get("acodec") == "none":
        raise UnsupportedLink("no_audio", "No playable audio was found at that link.")
    webpage_url = info.get("webpage_url") or info.get("original_url") or stream_url
    headers = info.get("http_headers") or {}
    return Track(
        title=_title(info, str(webpage_url)),
        webpage_url=str(webpage_url),
        duration_s=_float_or_none(info.get("duration")),
        uploader=_str_or_none(info.get("uploader") or info.get("channel")),
        thumbnail=_str_or_none(info.get("thumbnail")),
        is_live=bool(info.get("is_live")),
        stream_url=stream_url,
        codec=_str_or_none(info.get("acodec")),
        container=_str_or_none(info.get("ext")),
        protocol=str(info.get("protocol") or urlsplit(stream_url).scheme or "https"),
        http_headers={str(k): str(v) for k, v in dict(headers).items()},
        expires_at=parse_expiry(stream_url, now=now, default_ttl_s=default_ttl_s),
        extractor=str(info.get("extractor_key") or info.get("extractor") or "generic").lower(),
    )


def parse_expiry(stream_url: str, *, now: datetime, default_ttl_s: float) -> datetime:
    """When a stream URL stops working: its signed ``expire=`` if any, else ``now + ttl``."""
    split = urlsplit(stream_url)
    values = parse_qs(split.query).get("expire", [])
    path_match = _EXPIRE_IN_PATH.search(split.path)
    raw = values[0] if values else (path_match.group(1) if path_match else None)
    if raw is not None and raw.isdigit():
        expires = datetime.fromtimestamp(int(raw), tz=UTC)
        # A bogus value (past, or years ahead) would poison the cache: fall back to the TTL.
        if now < expires <= now + timedelta(seconds=_MAX_TTL_S):
            return expires
    return now + timedelta(seconds=default_ttl_s)


def _title(info: RawInfo, url: str) -> str:
    title = info.get("title") or info.get("id")
    return str(title) if title else url_basename(url)


def url_basename(url: str) -> str:
    """The last path segment of ``url`` (a fallback title)."""
    path = urlsplit(url).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or url


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
