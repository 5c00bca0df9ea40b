"""The SessionStore over the durable StateStore: the one adapter between the two models.

A session's ``GuildSnapshot`` (worker-local: TrackRefs, session state) is mapped to the
shared ``GuildState`` (what the interactions side reads for /queue and /nowplaying, and what
another worker resumes from) here and nowhere else. Fields the session does not own (guild
settings, history, applied job ids) are carried over from the stored state, never dropped.

Only the lease holder writes: a save for a guild whose lease this worker no longer holds is
skipped, so an old owner can't overwrite what the new one saved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from shared.state import GuildState, GuildStates, Lease, LoopMode, StaleState
from shared.state import NowPlaying as StoredNowPlaying
from shared.state import QueuedTrack as StoredTrack
from shared.state import QueueFull as StoreQueueFull
from voice_worker.models import (
    GuildSnapshot,
    NowPlaying,
    PlayerSettings,
    QueuedTrack,
    QueueFull,
    SessionState,
)
from voice_worker.sources.models import TrackRef

log = structlog.get_logger(__name__)

LeaseOf = Callable[[str], Lease | None]
_SAVE_ATTEMPTS = 3


def to_stored_track(item: QueuedTrack) -> StoredTrack:
    """A session's queue entry as the state store keeps it."""
    ref = item.ref
    return StoredTrack(
        entry_id=item.entry_id[:100],
        query=ref.webpage_url[:2000] or ref.title[:2000] or "?",
        webpage_url=ref.webpage_url[:2048],
        title=ref.title[:512],
        duration_s=ref.duration_s,
        thumbnail=(ref.thumbnail or "")[:2048],
        requester_id=item.requester_id,
        requester_name=item.requester_name[:100],
        uploader=(ref.uploader or "")[:512],
        is_live=ref.is_live,
        source_job_id=item.job_id[:40],
    )


def from_stored_track(track: StoredTrack) -> QueuedTrack:
    """A stored queue entry as a session plays it (re-resolved from its page URL)."""
    ref = TrackRef(
        title=track.title,
        webpage_url=track.webpage_url or track.query,
        duration_s=track.duration_s,
        uploader=track.uploader or None,
        thumbnail=track.thumbnail or None,
        is_live=track.is_live,
    )
    return QueuedTrack(
        ref=ref,
        requester_id=track.requester_id,
        requester_name=track.requester_name,
        job_id=track.source_job_id or track.entry_id,
        entry_id=track.entry_id,
    )


def apply_snapshot(state: GuildState, snapshot: GuildSnapshot) -> GuildState:
    """The stored state updated with what the session holds now (history grows on a change)."""
    now = snapshot.now_playing
    playing = None
    if now is not None:
        playing = StoredNowPlaying(
            track=to_stored_track(now.track),
            position_s=now.position_s,
            position_updated_at=snapshot.updated_at,
            paused=now.paused,
        )
    # The jobs whose tracks this state holds: a redelivered /play is recognised from them
    # even when its ledger record was never finished (see LedgerJobs.claim).
    for entry in (*(() if now is None else (now.track,)), *snapshot.queue):
        if entry.job_id:
            state = state.record_job(entry.job_id)
    history = state.history
    previous = state.now_playing
    if previous is not None and (
        playing is None or playing.track.entry_id != previous.track.entry_id
    ):
        history = (*history, previous.track)
    return state.model_copy(
        update={
            "voice_channel_id": snapshot.voice_channel_id or state.voice_channel_id,
            "text_channel_id": snapshot.text_channel_id or state.text_channel_id,
            "now_playing": playing,
            "queue": tuple(to_stored_track(item) for item in snapshot.queue),
            "history": history,
            "now_playing_message": snapshot.now_playing_message,
        }
    )


def to_snapshot(state: GuildState) -> GuildSnapshot:
    """What a worker resumes from: the stored state as a session snapshot.

    The position is the last one saved, not extrapolated to now: after a crash the audio
    stopped somewhere after that save, so resuming there replays a little rather than
    skipping what nobody heard.
    """
    playing = state.now_playing
    now = None
    if playing is not None:
        now = NowPlaying(
            track=from_stored_track(playing.track),
            position_s=playing.position_s,
            paused=playing.paused,
        )
    return GuildSnapshot(
        guild_id=state.guild_id,
        state=SessionState.PAUSED if now and now.paused else SessionState.IDLE,
        voice_channel_id=state.voice_channel_id,
        text_channel_id=state.text_channel_id,
        now_playing=now,
        queue=tuple(from_stored_track(track) for track in state.queue),
        history=tuple(from_stored_track(track) for track in state.history),
        player=PlayerSettings(
            loop=state.settings.loop.value,
            volume=state.settings.volume,
            filter_preset=state.settings.filter_preset,
            autoplay=state.settings.autoplay,
            stay_24_7=state.settings.stay_24_7,
            normalize_loudness=state.settings.normalize_loudness,
            vote_skip_ratio=state.settings.vote_skip_ratio,
            dj_role_id=state.settings.dj_role_id,
            max_queue_length=state.settings.max_queue_length,
            max_track_length_s=state.settings.max_track_length_s,
            idle_timeout_s=state.settings.idle_timeout_s,
        ),
        now_playing_message=state.now_playing_message,
        announce_channel_id=state.settings.announce_channel_id,
        updated_at=state.updated_at or datetime.now(UTC),
    )


class DurableSessionStore:
    """A SessionStore writing through to GuildStates, fenced by this worker's leases."""

    def __init__(self, states: GuildStates, lease_of: LeaseOf | None = None) -> None:
        self._states = states
        self._lease_of = lease_of

    def _writable(self, guild_id: str) -> Lease | bool | None:
        if self._lease_of is None:
            return True
        return self._lease_of(guild_id)

    async def save(self, snapshot: GuildSnapshot) -> None:
        """Write the snapshot into the guild's state (re-read and re-applied on a conflict)."""
        if not self._writable(snapshot.guild_id):
            log.info("state.save_skipped_not_owner", guild_id=snapshot.guild_id)
            return
        for _ in range(_SAVE_ATTEMPTS):
            stored = await self._states.get_guild(snapshot.guild_id)
            state = stored or GuildState(guild_id=snapshot.guild_id)
            try:
                await self._states.save_guild(apply_snapshot(state, snapshot))
                return
            except StaleState:
                continue
            except StoreQueueFull as exc:
                # The guild's bound (/settings) is lower than the queue the session holds: the
                # session undoes its change and the user is told (QueueFull is an answer).
                log.warning(
                    "state.save_queue_full",
                    guild_id=snapshot.guild_id,
                    limit=exc.limit,
                    queued=len(snapshot.queue),
                )
                raise QueueFull(exc.limit) from None
        log.warning("state.save_conflict", guild_id=snapshot.guild_id)

    async def save_position(self, snapshot: GuildSnapshot) -> None:
        """Record the position of the track on air cheaply; raises LeaseLost when not ours."""
        now = snapshot.now_playing
        lease = self._lease_of(snapshot.guild_id) if self._lease_of is not None else None
        if now is None or lease is None:
            return
        await self._states.update_position(
            lease, entry_id=now.track.entry_id, position_s=now.position_s, paused=now.paused
        )

    async def save_player(self, guild_id: str, player: PlayerSettings) -> None:
        """Write loop, volume, filter, autoplay and 24/7 into the guild's settings (re-applied
        on a conflict); the ones /settings changes (FRONT_DOOR_SETTINGS) are left alone."""
        if not self._writable(guild_id):
            log.info("state.save_skipped_not_owner", guild_id=guild_id)
            return
        for _ in range(_SAVE_ATTEMPTS):
            state = await self._states.get_guild(guild_id) or GuildState(guild_id=guild_id)
            settings = state.settings.model_copy(
                update={
                    "loop": LoopMode(player.loop),
                    "volume": player.volume,
                    "filter_preset": player.filter_preset,
                    "autoplay": player.autoplay,
                    "stay_24_7": player.stay_24_7,
                }
            )
            try:
                await self._states.save_guild(state.model_copy(update={"settings": settings}))
                return
            except StaleState:
                continue
        log.warning("state.save_conflict", guild_id=guild_id)

    async def load(self, guild_id: str) -> GuildSnapshot | None:
        """The guild's stored state as a snapshot."""
        state = await self._states.get_guild(guild_id)
        return None if state is None else to_snapshot(state)

    async def delete(self, guild_id: str) -> None:
        """Nothing plays and nothing waits any more, and the bot is in no voice channel
        (settings and history stay, loop goes off: a track repeating forever the next time
        someone plays would surprise them)."""
        if not self._writable(guild_id):
            return
        for _ in range(_SAVE_ATTEMPTS):
            state = await self._states.get_guild(guild_id)
            if state is None:
                return
            cleared = apply_snapshot(
                state, GuildSnapshot(guild_id=guild_id, state=SessionState.CLOSED)
            )
            settings = cleared.settings.model_copy(update={"loop": LoopMode.OFF})
            # No voice channel either: the bot left on purpose (/stop, /leave, idle), so a
            # 24/7 guild is not rejoined by a takeover, unlike after a handover (takeover.py).
            cleared = cleared.model_copy(update={"settings": settings, "voice_channel_id": None})
            try:
                await self._states.save_guild(cleared)
                return
            except StaleState:
                continue
