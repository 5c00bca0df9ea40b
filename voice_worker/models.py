"""A guild's playback state as plain, serialisable models (what a SessionStore persists)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from voice_worker.sources.models import TrackRef


class SessionState(StrEnum):
    """Where a guild session is in its life; the allowed moves are in ``TRANSITIONS``."""

    CONNECTING = "connecting"
    PLAYING = "playing"
    PAUSED = "paused"
    IDLE = "idle"
    LEAVING = "leaving"
    CLOSED = "closed"


TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.CONNECTING: frozenset(
        {SessionState.IDLE, SessionState.PLAYING, SessionState.LEAVING}
    ),
    SessionState.IDLE: frozenset(
        {SessionState.PLAYING, SessionState.LEAVING, SessionState.CONNECTING}
    ),
    # PLAYING -> PLAYING is the next track starting without a pause in between.
    SessionState.PLAYING: frozenset(
        {
            SessionState.PLAYING,
            SessionState.PAUSED,
            SessionState.IDLE,
            SessionState.LEAVING,
            SessionState.CONNECTING,
        }
    ),
    SessionState.PAUSED: frozenset(
        {SessionState.PLAYING, SessionState.IDLE, SessionState.LEAVING, SessionState.CONNECTING}
    ),
    SessionState.LEAVING: frozenset({SessionState.CLOSED}),
    SessionState.CLOSED: frozenset(),
}


class QueuedTrack(BaseModel):
    """One track waiting in (or taken from) a guild's queue, and who asked for it.

    Stream URLs expire, so the queue keeps the sources' ``TrackRef`` (what re-resolves the
    track), never the stream URL itself.
    """

    model_config = ConfigDict(frozen=True)

    ref: TrackRef
    requester_id: str
    requester_name: str = ""
    job_id: str
    # Tells apart two entries of the same song (and a playlist's entries, which share a job).
    entry_id: str = Field(default_factory=lambda: uuid4().hex)

    @property
    def label(self) -> str:
        """How the track is named in messages."""
        return self.ref.title or self.ref.webpage_url


class NowPlaying(BaseModel):
    """The current track and how far into it playback is."""

    model_config = ConfigDict(frozen=True)

    track: QueuedTrack
    position_s: float = Field(default=0.0, ge=0)
    paused: bool = False


class GuildSnapshot(BaseModel):
    """Everything needed to resume a guild elsewhere: saved after every change."""

    model_config = ConfigDict(frozen=True)

    guild_id: str
    state: SessionState
    voice_channel_id: str | None = None
    text_channel_id: str | None = None
    now_playing: NowPlaying | None = None
    queue: tuple[QueuedTrack, ...] = ()
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class QueueFull(Exception):
    """The guild's queue holds its maximum number of tracks."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the queue holds {limit} tracks already")
        self.limit = limit


class TrackQueue:
    """A bounded FIFO of tracks for one guild; ``play_next`` puts a track first."""

    def __init__(self, limit: int, tracks: Iterable[QueuedTrack] = ()) -> None:
        self._limit = limit
        self._tracks: deque[QueuedTrack] = deque(tracks)

    def add(self, track: QueuedTrack, *, front: bool = False) -> int:
        """Add a track and return its 1-based position; raises QueueFull at the limit."""
        if len(self._tracks) >= self._limit:
            raise QueueFull(self._limit)
        if front:
            self._tracks.appendleft(track)
            return 1
        self._tracks.append(track)
        return len(self._tracks)

    def extend(self, tracks: Iterable[QueuedTrack]) -> int:
        """Append tracks until the queue is full; return how many fitted."""
        added = 0
        for track in tracks:
            if len(self._tracks) >= self._limit:
                break
            self._tracks.append(track)
            added += 1
        return added

    def pop(self) -> QueuedTrack | None:
        """Take the next track, or None when empty."""
        return self._tracks.popleft() if self._tracks else None

    def peek(self) -> QueuedTrack | None:
        """The next track without taking it."""
        return self._tracks[0] if self._tracks else None

    def clear(self) -> int:
        """Drop every waiting track and return how many there were."""
        count = len(self._tracks)
        self._tracks.clear()
        return count

    def snapshot(self) -> tuple[QueuedTrack, ...]:
        """The waiting tracks in order."""
        return tuple(self._tracks)

    def __len__(self) -> int:
        return len(self._tracks)
