"""A guild's playback state as plain, serialisable models (what a SessionStore persists)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from shared.state.models import MessageRef
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


LoopMode = Literal["off", "track", "queue"]
FilterPreset = Literal["none", "bassboost", "nightcore", "vaporwave", "karaoke", "8d"]


class PlayerSettings(BaseModel):
    """How the guild's player sounds and repeats (stored with the guild's settings)."""

    model_config = ConfigDict(frozen=True)

    loop: LoopMode = "off"
    volume: int = Field(default=100, ge=0, le=150)
    filter_preset: FilterPreset = "none"
    # Set by the worker's own commands (/autoplay, /247) and saved with save_player.
    autoplay: bool = False
    stay_24_7: bool = False
    # Set through /settings by the front door: read from the store, never written back.
    normalize_loudness: bool = False
    vote_skip_ratio: float = Field(default=0.5, gt=0, le=1)
    dj_role_id: str | None = None
    # The guild's own bounds, as GuildSettings keeps them (None: no bound of its own; idle
    # 0: the deployment's). GuildSession._apply_guild_bounds combines them with the deployment's.
    max_queue_length: int | None = Field(default=None, ge=1)
    max_track_length_s: int | None = Field(default=None, ge=1)
    idle_timeout_s: int = Field(default=300, ge=0)


# PlayerSettings fields the front door owns (/settings): a session refreshes them from the store.
FRONT_DOOR_SETTINGS: frozenset[str] = frozenset(
    {
        "normalize_loudness",
        "vote_skip_ratio",
        "dj_role_id",
        "max_queue_length",
        "max_track_length_s",
        "idle_timeout_s",
    }
)


class GuildSnapshot(BaseModel):
    """Everything needed to resume a guild elsewhere: saved after every change."""

    model_config = ConfigDict(frozen=True)

    guild_id: str
    state: SessionState
    voice_channel_id: str | None = None
    text_channel_id: str | None = None
    now_playing: NowPlaying | None = None
    queue: tuple[QueuedTrack, ...] = ()
    # Read from the store for /previous and the player settings; written by their own paths
    # (history grows as tracks change, settings via SessionStore.save_player).
    history: tuple[QueuedTrack, ...] = ()
    player: PlayerSettings = PlayerSettings()
    # The guild's now-playing message (now_playing.py), and where the guild's settings want
    # it posted (read from the store, never written back by the session).
    now_playing_message: MessageRef | None = None
    announce_channel_id: str | None = None
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

    @property
    def limit(self) -> int:
        """The most tracks this queue holds."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        # Lowered below the tracks waiting: they stay, only new ones are refused.
        self._limit = value

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

    def position_problem(self, position: int) -> str | None:
        """Why a 1-based position names no waiting track (what the user is told), or None."""
        if not self._tracks:
            return "The queue is empty."
        if not 1 <= position <= len(self._tracks):
            count = len(self._tracks)
            return f"There are only {count} tracks in the queue: pick 1 to {count}."
        return None

    def remove(self, position: int) -> QueuedTrack:
        """Take out the track at a 1-based position (checked with ``position_problem``)."""
        track = self._tracks[position - 1]
        del self._tracks[position - 1]
        return track

    def move(self, source: int, target: int) -> QueuedTrack:
        """Move the track at 1-based ``source`` so that it ends up at ``target``."""
        track = self.remove(source)
        self._tracks.insert(target - 1, track)
        return track

    def drop_before(self, position: int) -> tuple[QueuedTrack, ...]:
        """Take out the tracks before a 1-based position (skipping to it)."""
        return tuple(self._tracks.popleft() for _ in range(position - 1))

    def shuffle(self, rng: random.Random) -> None:
        """Put the waiting tracks in a random order."""
        tracks = list(self._tracks)
        rng.shuffle(tracks)
        self._tracks = deque(tracks)

    def snapshot(self) -> tuple[QueuedTrack, ...]:
        """The waiting tracks in order."""
        return tuple(self._tracks)

    def replace(self, tracks: Iterable[QueuedTrack]) -> None:
        """Put back an earlier snapshot (undoing a change the store refused)."""
        self._tracks = deque(tracks)

    def __len__(self) -> int:
        return len(self._tracks)
