"""What users see of a guild's player, apart from its playback life cycle: the now-playing
message (now_playing.py) kept in step with the session, and a big playlist's batches with
their progress (playlist_progress.py).

``PlayerDisplay`` is a base class of ``GuildSession`` (like ``PlayerCommands``): what it uses
of the session's other parts is declared in session_base.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.jobs import AnyJob
from voice_worker.models import QueuedTrack, SessionState
from voice_worker.now_playing import playing_body
from voice_worker.player_commands import ACTIVE
from voice_worker.playlist_progress import BATCH, ProgressThrottle, adding_text
from voice_worker.session_base import SessionBase


class PlayerDisplay(SessionBase):
    """The now-playing message and playlist progress over the session's state."""

    # --- the now-playing message ----------------------------------------------------------
    def _refresh_card(self) -> None:
        """Show the track on air on the guild's now-playing message, if anything changed."""
        current, player = self._current, self._player
        if current is None or player is None or self.state not in ACTIVE:
            return
        paused = self.state is SessionState.PAUSED
        upcoming, loop = len(self._queue), self._settings.loop
        channels = [c for c in (self._announce_channel_id, self.text_channel_id) if c]
        key = (current.item.entry_id, self._generation, paused, loop, upcoming, *channels)
        if self._card.shows(key):
            return
        body = playing_body(
            current.item,
            position_s=player.position_s,
            paused=paused,
            upcoming=upcoming,
            loop=loop,
            now=datetime.now(UTC),
        )
        self._card.show(key, channels, body)

    def _card_moved(self) -> None:
        """The message was posted anew or forgotten: keep where it is in the store."""
        self._tasks.spawn(self._save_card())

    async def _save_card(self) -> None:
        async with self._lock:
            if self.state not in (SessionState.LEAVING, SessionState.CLOSED):
                await self._save()

    # --- a big playlist -------------------------------------------------------------------
    async def _add_batches(
        self, items: list[QueuedTrack], *, added: int, total: int, job: AnyJob | None
    ) -> int:
        """Queue a big playlist's remaining entries a batch at a time; how many fitted."""
        throttle = ProgressThrottle()
        fitted = 0
        for first in range(0, len(items), BATCH):
            if job is not None and throttle.due(1 + added + fitted):
                await self._reporter.progress(job, adding_text(1 + added + fitted, total))
            batch = items[first : first + BATCH]
            async with self._lock:
                if self.state not in ACTIVE:
                    break  # stopped meanwhile: the rest is not wanted any more
                count = self._queue.extend(batch)
                fitted += count
                await self._save()
            if count < len(batch):
                break  # the queue is full
        return fitted
