"""The player commands of a guild session (/loop, /shuffle, /remove, /move, /clear, /skipto,
/previous, /seek, /volume, /filter), apart from its connection and playback life cycle.

``PlayerCommands`` is a base class of ``GuildSession``: what it uses of the session's other
parts is declared in session_base.py; every command runs under the session's lock like the others.
"""

from __future__ import annotations

from uuid import uuid4

from voice_worker.models import FilterPreset, LoopMode, PlayerSettings, QueuedTrack, SessionState
from voice_worker.reporting import Reply
from voice_worker.session_base import CurrentTrack, SessionBase
from voice_worker.sources.errors import SourceError

__all__ = ["CurrentTrack"]  # re-exported: its home is session_base.py

ACTIVE = frozenset({SessionState.PLAYING, SessionState.PAUSED})
# No voice connection to manage (yet, or any more).
INACTIVE = frozenset({SessionState.CONNECTING, SessionState.LEAVING, SessionState.CLOSED})
NOTHING_PLAYING = "Nothing is playing."
# Tracks /previous can go back to (the store keeps its own, longer history for /history).
HISTORY_KEPT = 50
LOOP_REPLIES: dict[LoopMode, str] = {
    "off": "Loop is off.",
    "track": "Looping the current track.",
    "queue": "Looping the queue.",
}


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def tracks(count: int) -> str:
    """'1 track', '3 tracks'."""
    return f"{count} track" if count == 1 else f"{count} tracks"


class PlayerCommands(SessionBase):
    """Queue editing, loop, seek, volume and filter over the session's state."""

    # --- commands -------------------------------------------------------------------------
    async def set_loop(self, mode: LoopMode) -> Reply:
        """Repeat nothing, the track on air, or the whole queue (remembered for the guild)."""
        async with self._lock:
            await self._change_settings(self._settings.model_copy(update={"loop": mode}))
            return Reply(LOOP_REPLIES[mode])

    async def shuffle(self) -> Reply:
        """Put the waiting tracks in a random order."""
        async with self._lock:
            count = len(self._queue)
            if count < 2:
                return Reply(
                    "There's nothing to shuffle: the queue needs 2 tracks.", ephemeral=True
                )
            self._queue.shuffle(self._rng)
            await self._queue_changed()
            return Reply(f"Shuffled {tracks(count)}.")

    async def remove(self, position: int) -> Reply:
        """Take one waiting track out of the queue."""
        async with self._lock:
            problem = self._queue.position_problem(position)
            if problem is not None:
                return Reply(problem, ephemeral=True)
            removed = self._queue.remove(position)
            await self._queue_changed()
            return Reply(f"Removed **{removed.label}** from the queue.")

    async def move(self, source: int, target: int) -> Reply:
        """Move a waiting track to another place in the queue."""
        async with self._lock:
            problem = self._queue.position_problem(source) or self._queue.position_problem(target)
            if problem is not None:
                return Reply(problem, ephemeral=True)
            if source == target:
                return Reply("That track is already there.", ephemeral=True)
            moved = self._queue.move(source, target)
            await self._queue_changed()
            return Reply(f"Moved **{moved.label}** to position {target}.")

    async def clear(self) -> Reply:
        """Drop every waiting track; the one on air plays on."""
        async with self._lock:
            count = self._queue.clear()
            if count == 0:
                return Reply("The queue is already empty.", ephemeral=True)
            await self._save()
            return Reply(f"Cleared {tracks(count)} from the queue.")

    async def skip_to(self, position: int) -> Reply:
        """Skip the track on air and the ones queued before ``position``."""
        async with self._lock:
            problem = self._queue.position_problem(position)
            if problem is not None:
                return Reply(problem, ephemeral=True)
            dropped = self._queue.drop_before(position)
            self._retire()
            if self._settings.loop == "queue":
                self._queue.extend(dropped)  # a looping queue keeps them, after the others
            self._halt()
            started = await self._play_from_queue(notify=False)
            if started is None:
                return Reply("None of those tracks could be played.", ephemeral=True)
            return Reply(f"Skipped to **{started.label}**.")

    async def previous(self) -> Reply:
        """Play the track before this one again; the one on air comes next."""
        async with self._lock:
            if self._player is None or self.state in INACTIVE:
                return Reply("I'm not in a voice channel here.", ephemeral=True)
            if not self._history:
                return Reply("Nothing was played before this.", ephemeral=True)
            item = self._history.pop()
            if self._current is not None:
                self._queue.add(self._current.item, front=True)
            self._halt()
            again = item.model_copy(update={"entry_id": uuid4().hex})
            try:
                await self._start(again, None, since=None)
            except SourceError:
                await self._play_from_queue(notify=False)
                raise
            await self._save()
            return Reply(f"Playing **{item.label}** again.")

    async def seek(self, position_s: float) -> Reply:
        """Jump to a position of the track on air."""
        async with self._lock:
            current = self._current
            if current is None or self.state not in ACTIVE:
                return Reply(NOTHING_PLAYING, ephemeral=True)
            if current.track.is_live:
                return Reply("I can't seek in a live stream.", ephemeral=True)
            length = current.track.duration_s
            if length is not None and position_s >= length:
                return Reply(f"That's past the end of the track ({clock(length)}).", ephemeral=True)
            await self._restart(current, position_s)
            return Reply(f"Jumped to {clock(position_s)}.")

    async def set_volume(self, percent: int) -> Reply:
        """Change the volume now (restarting the track where it is) and for the guild."""
        async with self._lock:
            changed = percent != self._settings.volume
            await self._change_settings(self._settings.model_copy(update={"volume": percent}))
            current = self._current
            if changed and current is not None and self.state in ACTIVE and self._player:
                await self._restart(current, self._player.position_s)
            return Reply(f"Volume set to {percent} %.")

    async def set_filter(self, preset: FilterPreset) -> Reply:
        """Change the filter now (restarting the track where it is) and for the guild."""
        async with self._lock:
            changed = preset != self._settings.filter_preset
            settings = self._settings.model_copy(update={"filter_preset": preset})
            await self._change_settings(settings)
            current = self._current
            if changed and current is not None and self.state in ACTIVE and self._player:
                await self._restart(current, self._player.position_s)
            return Reply("Filter off." if preset == "none" else f"Filter: {preset}.")

    async def add_tracks(
        self, items: list[QueuedTrack], *, limit: int | None = None
    ) -> tuple[int, QueuedTrack | None, int]:
        """Append tracks (a playlist) as far as there is room; start playing when idle.

        limit: the guild's own queue bound, when lower than the deployment's. Returns how
        many were added, the track started (None when something was playing already), and
        the bound that applied.
        """
        async with self._lock:
            bound = self._queue.limit if limit is None else min(limit, self._queue.limit)
            room = max(0, bound - len(self._queue))
            added = self._queue.extend(items[:room])
            started = None
            if added and self.state not in ACTIVE:
                started = await self._play_from_queue(notify=False)
            else:
                self._prefetch_next()
            await self._save()
            return added, started, bound

    async def _restart(self, current: CurrentTrack, position_s: float) -> None:
        """Play the track on air again from ``position_s`` (new volume, seek) (lock held)."""
        paused = self.state is SessionState.PAUSED
        await self._start(current.item, current.track, since=None, start_at_s=position_s)
        if paused and self._player is not None:
            self._player.pause()
            self._machine.state = SessionState.PAUSED
            self._check_listeners()
        await self._save()

    async def _change_settings(self, settings: PlayerSettings) -> None:
        self._settings = settings
        await self._store.save_player(self.guild_id, settings)
        self._refresh_card()  # the Loop button shows the mode

    async def _queue_changed(self) -> None:
        self._prefetch_next()
        await self._save()

    def _retire(self) -> None:
        """The track on air is done with (ended or skipped): remember it for /previous, and
        put it back at the end of the queue when the queue loops (lock held)."""
        if self._current is None:
            return
        item = self._current.item
        self._history.append(item)
        if self._settings.loop == "queue":
            # A new entry id: the same song queued again is another entry (docs/state.md).
            self._queue.extend([item.model_copy(update={"entry_id": uuid4().hex})])
