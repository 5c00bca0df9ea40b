"""Vote-skip, autoplay and 24/7 of a guild session, apart from its playback life cycle.

``GuildFeatures`` is a base class of ``GuildSession`` (like ``PlayerCommands``): what it uses
of the session's other parts is declared in session_base.py; every command runs under the
session's lock.
"""

from __future__ import annotations

from uuid import uuid4

from shared.jobs import Requester
from shared.state import StoreUnavailable
from voice_worker.models import FRONT_DOOR_SETTINGS, QueuedTrack, SessionState
from voice_worker.now_playing import finished_body
from voice_worker.player_commands import ACTIVE, NOTHING_PLAYING
from voice_worker.reporting import Reply
from voice_worker.session_base import SessionBase
from voice_worker.sources.errors import SourceError
from voice_worker.voice import human_listeners
from voice_worker.votes import Verdict

AUTOPLAY_REQUESTER = "autoplay"


class GuildFeatures(SessionBase):
    """Vote-skip, /autoplay and /247 over the session's state."""

    # --- vote-skip ---------------------------------------------------------------------------
    async def vote_skip(self, voter: Requester) -> Reply:
        """/skip or the Skip button: skip at once, or count a vote (votes.py has the rules)."""
        async with self._lock:
            current = self._current
            if current is None or self.state not in ACTIVE:
                return Reply(NOTHING_PLAYING, ephemeral=True)
            await self._refresh_settings()  # the ratio and DJ role may have changed
            voice = self._voice
            listeners = human_listeners(voice.channel, self._bot_id) if voice else frozenset()
            outcome = self._votes.cast(
                voter,
                entry_id=current.item.entry_id,
                track_requester_id=current.item.requester_id,
                listeners=listeners,
                ratio=self._settings.vote_skip_ratio,
                dj_role_id=self._settings.dj_role_id,
            )
            self._log.info(
                "skip.vote",
                verdict=outcome.verdict.value,
                reason=outcome.reason,
                votes=outcome.votes,
                needed=outcome.needed,
                listeners=len(listeners),
            )
            count = f"{outcome.votes}/{outcome.needed}"
            if outcome.verdict is Verdict.SKIP:
                self._votes.reset()
                passed = outcome.reason == "passed"
                return await self._skip_locked(prefix=f"Vote passed ({count}). " if passed else "")
            if outcome.verdict is Verdict.NOT_LISTENING:
                where = f"<#{voice.channel.id}>" if voice else "my voice channel"
                return Reply(f"Join me in {where} to vote to skip.", ephemeral=True)
            if outcome.verdict is Verdict.ALREADY:
                return Reply(f"You already voted to skip this track ({count}).", ephemeral=True)
            return Reply(f"Vote recorded: {count} to skip **{current.item.label}**.")

    async def _refresh_settings(self) -> None:
        """Take the settings /settings changes (FRONT_DOOR_SETTINGS) from the store (lock
        held); when it can't be read, the ones loaded before stay."""
        try:
            stored = await self._store.load(self.guild_id)
        except StoreUnavailable:
            self._log.warning("session.settings_unavailable")
            return
        if stored is not None:
            fresh = {name: getattr(stored.player, name) for name in FRONT_DOOR_SETTINGS}
            self._settings = self._settings.model_copy(update=fresh)
            self._apply_guild_bounds()

    # --- 24/7 --------------------------------------------------------------------------------
    async def set_stay(self, enabled: bool) -> Reply:
        """/247: stay in the voice channel when idle (no idle timeout), or not."""
        async with self._lock:
            await self._change_settings(self._settings.model_copy(update={"stay_24_7": enabled}))
            # Off: the idle count starts from now, not from when the queue ran out.
            self._idle.disarm()
            self._check_listeners()
            if enabled:
                return Reply("24/7 is on: I'll stay in the voice channel, even with nothing on.")
            return Reply("24/7 is off: I'll leave the voice channel when idle.")

    # --- autoplay ----------------------------------------------------------------------------
    async def set_autoplay(self, enabled: bool) -> Reply:
        """/autoplay: play related tracks when the queue runs out, or not."""
        async with self._lock:
            await self._change_settings(self._settings.model_copy(update={"autoplay": enabled}))
            if not enabled:
                return Reply("Autoplay is off.")
            if self.state is SessionState.IDLE and not self._queue:
                self._autoplay_soon()  # the queue ran out already: don't wait for another
            return Reply("Autoplay is on: when the queue runs out, I'll play related tracks.")

    def _autoplay_soon(self) -> bool:
        """The queue ran out (lock held): look for a related track in the background.

        True when a lookup started: the now-playing message then stays as it is, for the
        autoplayed track to edit, and is only finished if autoplay gives up.
        """
        if self._settings.autoplay and self._history:
            self._tasks.spawn(self._autoplay(self._history[-1]))
            return True
        return False

    def _finish_card_if_idle(self) -> None:
        """Autoplay gave up (lock held): the message says the queue finished, unless a
        command started something meanwhile (it shows that instead)."""
        if self.state is SessionState.IDLE and self._current is None:
            self._card.finish(finished_body(self._history[-1] if self._history else None))

    async def _autoplay(self, last: QueuedTrack) -> None:
        # The lookup runs without the lock: a /play or /stop meanwhile wins, see below.
        found = None
        max_length_s = self._settings.max_track_length_s
        try:
            played = [item.ref for item in self._history]
            found = await self._related.find(last.ref, played, max_length_s=max_length_s)
        except SourceError as exc:
            self._log.info("autoplay.lookup_failed", reason=exc.reason)
        async with self._lock:
            if not self._settings.autoplay or self.state is not SessionState.IDLE or self._queue:
                self._finish_card_if_idle()
                return
            if found is None:
                self._log.info("autoplay.nothing_found")
                self._finish_card_if_idle()
                text = f"Autoplay found nothing related to **{last.label}**: the music stops here."
                self._tasks.spawn(self._reporter.notify(self.text_channel_id, text))
                return
            item = QueuedTrack(
                ref=found.as_ref(),
                requester_id=str(self._bot_id),
                requester_name=AUTOPLAY_REQUESTER,
                job_id=f"autoplay-{uuid4().hex[:16]}",
            )
            try:
                await self._start(item, None, since=None)
            except SourceError as exc:
                self._log.info("autoplay.unplayable", reason=exc.reason)
                self._finish_card_if_idle()
                text = f"Autoplay couldn't play **{item.label}**: {exc.user_message}"
                self._tasks.spawn(self._reporter.notify(self.text_channel_id, text))
                return
            await self._save()
        self._log.info("autoplay.started")
        text = f"Autoplay: the queue ran out, so here's **{item.label}** (after **{last.label}**)."
        await self._reporter.notify(self.text_channel_id, text)
