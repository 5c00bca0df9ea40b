"""Track models: what the queue stores (``TrackRef``) and what the player streams (``Track``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from voice_worker.sources.logsafe import url_host

# Containers ffmpeg can copy an Opus stream out of into Ogg without re-encoding.
OPUS_CONTAINERS = frozenset({"webm", "weba", "ogg", "opus", "mka", "mkv"})
MANIFEST_PROTOCOLS = frozenset({"m3u8", "m3u8_native", "http_dash_segments", "dash"})


class TrackRef(BaseModel):
    """A track as queued and persisted: enough to show it and to resolve it again later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    webpage_url: str
    duration_s: float | None = None
    uploader: str | None = None
    thumbnail: str | None = None
    is_live: bool = False

    def as_ref(self) -> TrackRef:
        """This track without stream details (what to persist)."""
        return TrackRef(
            title=self.title,
            webpage_url=self.webpage_url,
            duration_s=self.duration_s,
            uploader=self.uploader,
            thumbnail=self.thumbnail,
            is_live=self.is_live,
        )


class Track(TrackRef):
    """A resolved track: a stream URL ffmpeg may open until ``expires_at``."""

    stream_url: str
    codec: str | None  # yt-dlp's acodec, or ffprobe's codec_name when yt-dlp didn't know
    container: str | None  # yt-dlp's ext (webm, m4a, mp3, ...)
    protocol: str = "https"
    http_headers: dict[str, str] = {}
    expires_at: AwareDatetime
    extractor: str = "generic"

    @property
    def is_manifest(self) -> bool:
        """True for HLS/DASH manifests (ffmpeg fetches segments itself)."""
        return self.protocol in MANIFEST_PROTOCOLS

    @property
    def is_opus_passthrough(self) -> bool:
        """Opus in WebM/Ogg over plain HTTP: ffmpeg can copy it without re-encoding."""
        return (
            self.codec == "opus"
            and self.container in OPUS_CONTAINERS
            and self.protocol in {"http", "https"}
        )

    @property
    def stream_host(self) -> str:
        """The stream's host, safe to log (the full URL carries signed tokens)."""
        return url_host(self.stream_url)

    def seconds_left(self, now: datetime) -> float:
        """Seconds until the stream URL expires (negative when already expired)."""
        return (self.expires_at - now).total_seconds()


@dataclass(frozen=True)
class Lookup:
    """What a query turned into: one or more entries; resolved entries are :class:`Track`."""

    query: str
    entries: tuple[TrackRef, ...]
    playlist_title: str | None = None
    truncated: bool = False  # the playlist had more items than the configured cap

    @property
    def first_track(self) -> Track | None:
        """The first entry if it is already resolved."""
        first = self.entries[0] if self.entries else None
        return first if isinstance(first, Track) else None
