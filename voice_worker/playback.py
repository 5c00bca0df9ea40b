"""Playback of a guild session's tracks, apart from its connection life cycle: start a track
(resolve it, check its length, hand it to the player), prefetch the next one, and move on
when one ends (loop it, play the next queued, autoplay, or go idle).

``TrackPlayback`` is a base class of ``GuildSession`` (like ``PlayerCommands``): what it uses
of the session's other parts is declared in session_base.py; everything runs under the
session's lock, which the player thread reaches only through the loop (player.py).
"""

from __future__ import annotations

import time

import discord

from voice_worker.errors import VoiceConnectFailed
from voice_worker.models import QueuedTrack, SessionState
from voice_worker.now_playing import finished_body
from voice_worker.player_commands import ACTIVE
from voice_worker.session_base import CurrentTrack, SessionBase
from voice_worker.sources.errors import SourceError
from voice_worker.sources.models import Track
from voice_worker.track_limits import refusal, too_long


class TrackPlayback(SessionBase):
    """Starting tracks and moving on when one ends, over the session's state."""

    async def _start(
        self,
        item: QueuedTrack,
        track: Track | None,
        *,
        since: float | None,
        start_at_s: float = 0.0,
    ) -> None:
        """Play ``item`` now (lock held); raises SourceError when it can't be resolved."""
        if self._player is None:
            raise VoiceConnectFailed("no voice connection")
        track = await self._sources.stream(track or item.ref)
        # The length may only be known now (a playlist's entry): a new track is checked here
        # too; the one on air restarting (seek, volume, loop) is not.
        limit = self._settings.max_track_length_s
        fresh = self._current is None or self._current.item.entry_id != item.entry_id
        if fresh and limit is not None and too_long(track, limit):
            raise refusal(track, limit)
        self._generation += 1
        if since is not None:
            self._ttfa_from[self._generation] = since
        if track.duration_s is not None and start_at_s >= track.duration_s:
            start_at_s = 0.0  # a position past the end: the saved track can't be trusted
        preset = self._settings.filter_preset
        try:
            await self._player.start(
                track,
                start_at_s=start_at_s,
                generation=self._generation,
                volume=self._settings.volume / 100,
                preset=None if preset == "none" else preset,
                normalize=self._settings.normalize_loudness,
            )
        except discord.ClientException as exc:  # "Not connected to voice": worth a retry
            raise VoiceConnectFailed(str(exc)) from None
        self._current = CurrentTrack(item, track)
        self._machine.state = SessionState.PLAYING
        self._log.info(
            "playback.started", job_id=item.job_id, passthrough=track.is_opus_passthrough
        )
        self._check_listeners()
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        """Resolve the next queued track while the current one plays."""
        upcoming = self._queue.peek()
        if upcoming is not None:
            self._sources.prefetch(upcoming.ref)

    def _halt(self) -> None:
        """Stop the current track without its end starting the next one (lock held)."""
        self._generation += 1
        self._current = None
        if self._player is not None:
            self._player.stop()

    async def _play_from_queue(self, *, notify: bool) -> QueuedTrack | None:
        """Start the next playable queued track, or go idle (lock held)."""
        await self._refresh_settings()  # /settings changes (normalisation) apply per track
        while (item := self._queue.pop()) is not None:
            try:
                await self._start(item, None, since=None)
            except SourceError as exc:
                self._log.info("playback.skipped_unplayable", reason=exc.reason, job_id=item.job_id)
                self._tasks.spawn(
                    self._reporter.notify(
                        self.text_channel_id, f"Skipping **{item.label}**: {exc.user_message}"
                    )
                )
                continue
            # notify (the track changed by itself, not by a command) needs no notice of its
            # own any more: _save() shows every change on the now-playing message.
            await self._save()
            return item
        self._current = None
        if self.state is not SessionState.IDLE:
            self._machine.state = SessionState.IDLE
        self._idle.arm()
        if not self._autoplay_soon():  # else the autoplayed track edits the same message
            self._card.finish(finished_body(self._history[-1] if self._history else None))
        await self._save()
        return None

    def _on_track_end(self, generation: int, error: Exception | None) -> None:
        """Called on the loop when discord.py's player thread finishes a track."""
        if generation != self._generation:
            return  # a skip/stop already moved on
        if error is not None:
            self._log.warning("playback.error", error=type(error).__name__)
        self._tasks.spawn(self._advance(generation))

    def _on_first_packet(self, generation: int) -> None:
        since = self._ttfa_from.pop(generation, None)
        if since is not None:
            ttfa_ms = (time.monotonic() - since) * 1000
            self._log.info("playback.first_audio", ttfa_ms=round(ttfa_ms, 1))
            self._hooks.first_audio(ttfa_ms)

    async def _advance(self, generation: int) -> None:
        async with self._lock:
            if generation != self._generation or self.state not in ACTIVE:
                return
            if self._player is None or not self._player.connected:
                await self._close_locked("voice_lost", keep_snapshot=True)
                self._tasks.spawn(
                    self._reporter.notify(self.text_channel_id, "I lost the voice connection.")
                )
                return
            current = self._current
            if current is not None and self._settings.loop == "track":
                try:
                    await self._start(current.item, None, since=None)
                except SourceError as exc:
                    self._log.info("playback.loop_failed", reason=exc.reason)
                else:
                    await self._save()
                    return
            self._retire()
            await self._play_from_queue(notify=True)
