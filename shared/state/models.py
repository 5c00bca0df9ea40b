"""What the state store keeps: per-guild playback state, leases, heartbeats and playlists.

Every model is frozen: a change is a new value (`model_copy(update=...)` or a helper below), so
a state read from the store can't be edited in place behind the optimistic-concurrency check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.jobs import Snowflake
from shared.state.exceptions import QueueFull

# A redelivered job is recognised by its id in the state it changed (docs/state.md,
# "Idempotency"). SQS FIFO holds back a guild's later jobs while one is in flight, so only the
# last few ids can ever come back; 64 is plenty.
RECENT_JOBS = 64

Url = Annotated[str, Field(max_length=2048)]
EntryId = Annotated[str, Field(min_length=1, max_length=100)]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Frozen(BaseModel):
    # extra="ignore": during a rolling deploy an older worker must still load what a newer one
    # stored (new fields always get defaults; the older worker drops them when it saves).
    model_config = ConfigDict(frozen=True, extra="ignore")


class LoopMode(StrEnum):
    """What happens when a track ends."""

    OFF = "off"
    TRACK = "track"
    QUEUE = "queue"


class QueuedTrack(_Frozen):
    """One entry of a guild's queue (the same song queued twice is two entries)."""

    entry_id: EntryId
    query: str = Field(min_length=1, max_length=2000)
    webpage_url: Url = ""
    title: str = Field(default="", max_length=512)
    duration_s: float | None = Field(default=None, ge=0)
    thumbnail: Url = ""
    requester_id: Snowflake
    requester_name: str = Field(default="", max_length=100)
    uploader: str = Field(default="", max_length=512)
    is_live: bool = False
    added_at: datetime = Field(default_factory=_utcnow)
    source_job_id: str = Field(default="", max_length=40)


class NowPlaying(_Frozen):
    """The track on air and where it was at `position_updated_at`."""

    track: QueuedTrack
    position_s: float = Field(default=0.0, ge=0)
    position_updated_at: datetime = Field(default_factory=_utcnow)
    paused: bool = False

    def position_at(self, now: datetime) -> float:
        """The position now, extrapolated from the last saved one while playing."""
        if self.paused:
            return self.position_s
        elapsed = max(0.0, (now - self.position_updated_at).total_seconds())
        if self.track.duration_s is not None:
            return min(self.position_s + elapsed, self.track.duration_s)
        return self.position_s + elapsed


class PlaybackPosition(_Frozen):
    """The small, frequently written position record of a guild (kept apart from its state)."""

    guild_id: Snowflake
    entry_id: EntryId
    position_s: float = Field(ge=0)
    paused: bool = False
    updated_at: datetime
    lease_token: int = Field(ge=0)


class GuildSettings(_Frozen):
    """Per-guild preferences set by its admins."""

    volume: int = Field(default=100, ge=0, le=150)
    loop: LoopMode = LoopMode.OFF
    autoplay: bool = False
    stay_24_7: bool = False
    dj_role_id: Snowflake | None = None
    vote_skip_ratio: float = Field(default=0.5, gt=0, le=1)
    # None: the deployment's bound (Settings.max_queue_length); a guild may only lower it.
    max_queue_length: int | None = Field(default=None, ge=1)
    max_track_length_s: int | None = Field(default=None, ge=1)
    idle_timeout_s: int = Field(default=300, ge=0, le=86_400)
    announce_channel_id: Snowflake | None = None
    filter_preset: Literal["none", "bassboost", "nightcore", "vaporwave", "karaoke", "8d"] = "none"
    # Off by default: normalising needs decoding and encoding (no Opus passthrough).
    normalize_loudness: bool = False


class MessageRef(_Frozen):
    """A message the bot posted and keeps editing (the guild's now-playing message)."""

    channel_id: Snowflake
    message_id: Snowflake


class GuildState(_Frozen):
    """All a worker needs to take a guild over: who listens where, what plays, what's next."""

    guild_id: Snowflake
    voice_channel_id: Snowflake | None = None
    text_channel_id: Snowflake | None = None
    now_playing: NowPlaying | None = None
    queue: tuple[QueuedTrack, ...] = ()
    # Oldest first; the store trims it to Settings.history_length on save.
    history: tuple[QueuedTrack, ...] = ()
    settings: GuildSettings = GuildSettings()
    # The one now-playing message the workers edit as tracks change (kept across handovers).
    now_playing_message: MessageRef | None = None
    # Ids of the last jobs whose effect this state contains (see RECENT_JOBS).
    applied_job_ids: tuple[str, ...] = ()
    # 0: never saved. The store bumps it on every save and refuses a save from an older version.
    version: int = Field(default=0, ge=0)
    updated_at: datetime | None = None

    @field_validator("applied_job_ids")
    @classmethod
    def _keep_recent(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return value[-RECENT_JOBS:]

    @property
    def has_work(self) -> bool:
        """Something is playing or queued, or the guild wants the bot to stay."""
        return bool(self.now_playing or self.queue or self.settings.stay_24_7)

    def applied(self, job_id: str) -> bool:
        """Whether this state already contains the effect of that job."""
        return job_id in self.applied_job_ids

    def record_job(self, job_id: str) -> GuildState:
        """The same state, marked as containing the effect of job_id."""
        if self.applied(job_id):
            return self
        return self.model_copy(
            update={"applied_job_ids": (*self.applied_job_ids, job_id)[-RECENT_JOBS:]}
        )

    def queue_limit(self, deployment_limit: int) -> int:
        """The effective queue bound: the deployment's, or the guild's when lower."""
        own = self.settings.max_queue_length
        return deployment_limit if own is None else min(own, deployment_limit)

    def enqueue(
        self, tracks: tuple[QueuedTrack, ...], *, limit: int, front: bool = False
    ) -> GuildState:
        """Add tracks at the end (or the front), raising QueueFull past the bound."""
        bound = self.queue_limit(limit)
        if len(self.queue) + len(tracks) > bound:
            raise QueueFull(bound)
        queue = (*tracks, *self.queue) if front else (*self.queue, *tracks)
        return self.model_copy(update={"queue": queue})

    def with_position(self, position: PlaybackPosition) -> GuildState:
        """Overlay a newer position record on the track it belongs to; ignore it otherwise."""
        playing = self.now_playing
        if (
            playing is None
            or playing.track.entry_id != position.entry_id
            or position.updated_at <= playing.position_updated_at
        ):
            return self
        moved = playing.model_copy(
            update={
                "position_s": position.position_s,
                "position_updated_at": position.updated_at,
                "paused": position.paused,
            }
        )
        return self.model_copy(update={"now_playing": moved})


class Lease(_Frozen):
    """Exclusive ownership of a guild's voice session by one worker until `expires_at`."""

    guild_id: Snowflake
    owner: str = Field(min_length=1, max_length=128)
    expires_at: datetime
    # Fencing token: bumped by every acquire, so a write carrying an older token is refused.
    token: int = Field(ge=1)

    def valid_at(self, now: datetime) -> bool:
        """Whether the lease still holds at that instant."""
        return now < self.expires_at


class WorkerHeartbeat(_Frozen):
    """A worker's periodic 'I am alive' with its load, for routing, scaling and failover."""

    worker_id: str = Field(min_length=1, max_length=128)
    capacity: int = Field(ge=0)
    active_sessions: int = Field(default=0, ge=0)
    guild_ids: tuple[Snowflake, ...] = ()
    started_at: datetime
    expires_at: datetime
    revision: str = Field(default="", max_length=64)
    # The worker's own FIFO queue: jobs of guilds it owns are forwarded there (routing).
    inbox_url: str = Field(default="", max_length=2048)

    def alive_at(self, now: datetime) -> bool:
        """Whether the heartbeat still vouches for the worker at that instant."""
        return now < self.expires_at


class Playlist(_Frozen):
    """A named, saved list of tracks of one guild."""

    guild_id: Snowflake
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    tracks: tuple[QueuedTrack, ...] = ()
    created_by: Snowflake
    updated_at: datetime = Field(default_factory=_utcnow)

    @property
    def key(self) -> str:
        """The name as stored: names differing only in case are the same playlist."""
        return playlist_key(self.name)


def playlist_key(name: str) -> str:
    """Normalise a playlist name for lookup."""
    return name.strip().casefold()
