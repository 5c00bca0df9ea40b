"""One guild's player: its voice connection, queue, now-playing track and state machine.

Every change happens under the session's own lock (a command and a track ending never
interleave; one guild's slow resolve or crash never touches another). The player thread
reaches it only through the loop (player.py). Each change saves a snapshot to the SessionStore.

``GuildSession`` here keeps the state and the life cycle (join, play, pause, leave, idle,
hand-over); its base classes hold one concern each: playback.py, player_commands.py,
guild_features.py, player_display.py and voice_recovery.py (session_base.py declares what
they share).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import uuid4

import discord
import structlog

from shared.jobs import AnyJob
from shared.state import StoreUnavailable
from voice_worker.autoplay import RelatedTracks
from voice_worker.errors import FatalConfigError, UserFacingError, VoiceConnectFailed
from voice_worker.guild_features import GuildFeatures
from voice_worker.models import (
    GuildSnapshot,
    NowPlaying,
    PlayerSettings,
    QueuedTrack,
    QueueFull,
    SessionState,
    TrackQueue,
)
from voice_worker.now_playing import STOPPED, NowPlayingCard, finished_body
from voice_worker.pacer import Pacer
from voice_worker.playback import TrackPlayback
from voice_worker.player import Player, VoiceClientPlayer
from voice_worker.player_commands import ACTIVE, HISTORY_KEPT, INACTIVE, PlayerCommands
from voice_worker.player_display import PlayerDisplay
from voice_worker.playlist_progress import BATCH, playlist_reply
from voice_worker.reporting import Reply, SessionReporter
from voice_worker.session_base import CurrentTrack
from voice_worker.session_store import SessionStore
from voice_worker.sources.errors import SourceError
from voice_worker.sources.models import Lookup
from voice_worker.state import StateMachine
from voice_worker.tasks import BackgroundTasks, IdleTimer
from voice_worker.track_limits import left_out_text, refusal, split_fitting
from voice_worker.tracks import TrackSource
from voice_worker.voice import VocalChannel, connect, drop_locally, listeners
from voice_worker.voice_recovery import VoiceRecovery
from voice_worker.votes import SkipVotes

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SessionConfig:
    """Per-session knobs, from settings."""

    idle_disconnect_s: float = 300.0
    voice_connect_timeout_s: float = 20.0
    bitrate_kbps: int = 96
    max_queue_tracks: int = 100
    ffmpeg_path: str = "ffmpeg"
    # PyAV in the worker's process, else an ffmpeg child per stream (voice_worker/player.py).
    audio_in_process: bool = True
    # The worker's one pacing thread for all guilds (None: discord.py's thread per guild).
    pacer: Pacer | None = None


@dataclass
class SessionHooks:
    """What a session tells its owner."""

    closed: Callable[[GuildSession], None]
    fatal: Callable[[FatalConfigError], None]
    first_audio: Callable[[float], None]
    # Whether the session may send opcode 4 (rejoin after a voice drop): the lease holder only.
    may_rejoin: Callable[[str], bool] = lambda _guild_id: True


# The now-playing message's title once the bot left on purpose (stop: STOPPED).
LEFT = "Left the voice channel"


class GuildSession(PlayerDisplay, PlayerCommands, GuildFeatures, TrackPlayback, VoiceRecovery):
    """The player of one guild."""

    def __init__(
        self,
        guild: discord.Guild,
        text_channel_id: str,
        *,
        bot_id: int,
        sources: TrackSource,
        reporter: SessionReporter,
        store: SessionStore,
        config: SessionConfig,
        hooks: SessionHooks,
    ) -> None:
        self.guild = guild
        self.guild_id = str(guild.id)
        self.text_channel_id = text_channel_id
        self._bot_id = bot_id
        self._sources = sources
        self._reporter = reporter
        self._store = store
        self._config = config
        self._hooks = hooks
        self._log = log.bind(guild_id=self.guild_id)
        self._machine = StateMachine(self._log)
        self._queue = TrackQueue(config.max_queue_tracks)
        self._lock = asyncio.Lock()
        self._voice: discord.VoiceClient | None = None
        self._player: Player | None = None
        self._current: CurrentTrack | None = None
        self._generation = 0
        self._ttfa_from: dict[int, float] = {}
        self._idle = IdleTimer(config.idle_disconnect_s, self._idle_expired)
        self._tasks = BackgroundTasks(self._log)
        # The guild's now-playing message, and the channel its settings want it in.
        self._card = NowPlayingCard(
            reporter, spawn=self._tasks.spawn, on_moved=self._card_moved, log=self._log
        )
        self._announce_channel_id: str | None = None
        self._settings = PlayerSettings()
        self._history: deque[QueuedTrack] = deque(maxlen=HISTORY_KEPT)
        self._votes = SkipVotes()
        self._related = RelatedTracks(sources)
        # Shuffling songs, not making secrets: a plain PRNG is right here.
        self._rng = random.Random()  # noqa: S311  # nosec B311

    @property
    def state(self) -> SessionState:
        """Where the session is in its life."""
        return self._machine.state

    @property
    def voice_channel_id(self) -> int | None:
        """The voice channel the bot is in, if connected."""
        return self._voice.channel.id if self._voice is not None else None

    def snapshot(self) -> GuildSnapshot:
        """The session as a plain model (what the SessionStore keeps)."""
        now = None
        if self._current is not None and self._player is not None:
            now = NowPlaying(
                track=self._current.item,
                position_s=round(self._player.position_s, 3),
                paused=self.state is SessionState.PAUSED,
            )
        channel = self.voice_channel_id
        return GuildSnapshot(
            guild_id=self.guild_id,
            state=self.state,
            voice_channel_id=str(channel) if channel else None,
            text_channel_id=self.text_channel_id,
            now_playing=now,
            queue=self._queue.snapshot(),
            history=tuple(self._history),
            player=self._settings,
            now_playing_message=self._card.message,
            announce_channel_id=self._announce_channel_id,
            updated_at=datetime.now(UTC),
        )

    # --- commands (each under the lock) ----------------------------------------------------
    async def join(self, channel: VocalChannel, *, restoring: bool = False) -> None:
        """Be connected to ``channel``: connect, move there, or refuse if busy elsewhere.

        restoring: a takeover; the stored state is what is being resumed, so neither an
        empty snapshot is saved over it nor is it forgotten when the connection fails.
        """
        async with self._lock:
            voice = self._voice
            if voice is not None and voice.is_connected():
                if voice.channel.id == channel.id:
                    return
                if self.state in ACTIVE:
                    raise UserFacingError(
                        "busy_elsewhere",
                        f"I'm playing in <#{voice.channel.id}>: join me there, or /stop first.",
                    )
                await voice.move_to(channel, timeout=self._config.voice_connect_timeout_s)
                return
            if self.state in (SessionState.LEAVING, SessionState.CLOSED):
                raise VoiceConnectFailed("the session closed meanwhile")  # retried afresh
            if self.state is not SessionState.CONNECTING:
                self._machine.state = SessionState.CONNECTING
            try:
                self._voice = await connect(
                    channel,
                    timeout_s=self._config.voice_connect_timeout_s,
                    on_drop=self._on_voice_drop,
                )
            except FatalConfigError as exc:
                self._hooks.fatal(exc)
                await self._close_locked("connect_refused", keep_snapshot=False)
                raise
            except BaseException:
                await self._close_locked(
                    "connect_failed", keep_snapshot=False, forget=not restoring
                )
                raise
            self._player = self._new_player(self._voice)
            self._machine.state = SessionState.IDLE
            self._idle.arm()
            await self._load_stored(restoring=restoring)
            if not restoring:
                await self._save()

    def _new_player(self, voice: discord.VoiceClient) -> VoiceClientPlayer:
        return VoiceClientPlayer(
            voice,
            asyncio.get_running_loop(),
            on_end=self._on_track_end,
            on_first_packet=self._on_first_packet,
            bitrate_kbps=self._config.bitrate_kbps,
            ffmpeg_path=self._config.ffmpeg_path,
            audio_in_process=self._config.audio_in_process,
            pacer=self._config.pacer,
        )

    async def _load_stored(self, *, restoring: bool = False) -> None:
        """Take the guild's player settings and recent history from the store (lock held);
        and the queue a lost voice connection left (VOICE_LOST_NOTICE), unless restoring
        (a takeover resumes the snapshot itself)."""
        try:
            stored = await self._store.load(self.guild_id)
        except StoreUnavailable:
            self._log.warning("session.settings_unavailable")  # plays with the defaults
            return
        if stored is not None:
            self._settings = stored.player
            self._apply_guild_bounds()
            self._history.extend(stored.history)
            self._announce_channel_id = stored.announce_channel_id
            if self._card.message is None:
                self._card.message = stored.now_playing_message
            if not restoring:
                kept = (stored.now_playing.track,) if stored.now_playing else ()
                self._queue.extend([*kept, *stored.queue])

    async def play(
        self,
        item: QueuedTrack,
        lookup: Lookup,
        *,
        play_next: bool,
        since: float,
        job: AnyJob | None = None,
    ) -> Reply:
        """Start the looked-up track now, or queue it (and a playlist's other entries).

        A playlist's entries after the first BATCH are added a batch at a time, with the
        progress shown in the job's deferred reply (playlist_progress.py).
        """
        async with self._lock:
            # /settings (queue bound, max track length) may have changed since the join.
            await self._refresh_settings()
            item, lookup, too_long = self._fitting(item, lookup)
            more = [
                item.model_copy(update={"ref": ref.as_ref(), "entry_id": uuid4().hex})
                for ref in lookup.entries[1:]
            ]
            started = self.state not in ACTIVE
            before = self._queue.snapshot()
            if started:
                await self._start(item, lookup.first_track, since=since)
                position = 0
            else:
                position = self._queue.add(item, front=play_next)  # QueueFull: nothing changed
                self._prefetch_next()
            # The first batch with the track itself: progress then reads 50/200, 100/200…
            added = self._queue.extend(more[: BATCH - 1])
            try:
                await self._save()
            except QueueFull:
                # The store's bound is lower than ours (a /settings change meanwhile): take
                # the new tracks back out, so what plays and what is stored stay the same.
                self._queue.replace(before)
                raise
        if len(more) >= BATCH and added == BATCH - 1:
            rest = more[BATCH - 1 :]
            total = len(more) + 1
            added += await self._add_batches(rest, added=added, total=total, job=job)
        note = left_out_text(too_long, self._settings.max_track_length_s)
        if not more:
            if started:
                return Reply(f"Now playing **{item.label}**.{note}")
            return Reply(f"Queued **{item.label}** (position {position}).{note}")
        text = playlist_reply(
            item.label,
            added=added,
            asked=len(more),
            started=started,
            position=position,
            truncated=lookup.truncated,
        )
        return Reply(text + note)

    def _fitting(self, item: QueuedTrack, lookup: Lookup) -> tuple[QueuedTrack, Lookup, int]:
        """The lookup without the entries longer than the guild allows (lock held), and how
        many those were; UserFacingError when none is short enough."""
        limit = self._settings.max_track_length_s
        entries, dropped = split_fitting(lookup.entries, lookup.entries, limit)
        if not entries:
            assert limit is not None  # nothing is too long without a limit
            raise refusal(lookup.entries[0], limit)
        if dropped == 0:
            return item, lookup, 0
        self._log.info("play.too_long_left_out", count=dropped, max_track_length_s=limit)
        if entries[0] is not lookup.entries[0]:
            item = item.model_copy(update={"ref": entries[0].as_ref()})
        return item, replace(lookup, entries=tuple(entries)), dropped

    def _apply_guild_bounds(self) -> None:
        """The guild's queue bound and idle timeout from its settings (lock held).

        A guild may lower the deployment's queue bound, never raise it; its idle timeout
        applies up to WORKER_IDLE_DISCONNECT_S (0: that upper bound).
        """
        own_queue = self._settings.max_queue_length
        deployment = self._config.max_queue_tracks
        self._queue.limit = deployment if own_queue is None else min(own_queue, deployment)
        operator = self._config.idle_disconnect_s
        own_idle = self._settings.idle_timeout_s
        self._idle.set_delay(min(float(own_idle), operator) if own_idle else operator)

    async def skip(self) -> Reply:
        """Stop the current track and start the next one (no vote: see vote_skip)."""
        async with self._lock:
            return await self._skip_locked()

    async def _skip_locked(self, *, prefix: str = "") -> Reply:
        if self._current is None or self.state not in ACTIVE:
            return Reply("Nothing is playing.", ephemeral=True)
        skipped = self._current.item
        self._retire()
        self._halt()
        started = await self._play_from_queue(notify=False)
        after = f" Now playing **{started.label}**." if started else " The queue is empty."
        return Reply(f"{prefix}Skipped **{skipped.label}**.{after}")

    async def pause(self) -> Reply:
        """Pause the current track."""
        async with self._lock:
            if self.state is SessionState.PAUSED:
                return Reply("Already paused.", ephemeral=True)
            if self.state is not SessionState.PLAYING or self._player is None:
                return Reply("Nothing is playing.", ephemeral=True)
            self._player.pause()
            self._machine.state = SessionState.PAUSED
            self._check_listeners()  # paused counts as idle
            await self._save()
            return Reply("Paused.")

    async def resume(self) -> Reply:
        """Continue a paused track."""
        async with self._lock:
            if self.state is not SessionState.PAUSED or self._player is None:
                return Reply("Nothing is paused.", ephemeral=True)
            self._player.resume()
            self._machine.state = SessionState.PLAYING
            self._check_listeners()
            await self._save()
            return Reply("Resumed.")

    async def stop(self, *, message: str) -> Reply:
        """Clear the queue, stop playing and leave the voice channel."""
        async with self._lock:
            self._queue.clear()
            await self._close_locked("stopped", keep_snapshot=False)
            return Reply(message)

    async def shutdown(self) -> None:
        """Hand over: save the snapshot with its position, then leave voice."""
        async with self._lock:
            await self._close_locked("shutdown", keep_snapshot=True)

    async def restore(self, snapshot: GuildSnapshot, channel: VocalChannel) -> None:
        """Take over a guild another worker played: rejoin, refill the queue, resume the track."""
        await self.join(channel, restoring=True)
        async with self._lock:
            if self.state is not SessionState.IDLE:
                return  # a job got here first and already plays something
            self._queue.extend(snapshot.queue)
            now = snapshot.now_playing
            if now is not None:
                try:
                    await self._start(now.track, None, since=None, start_at_s=now.position_s)
                except SourceError as exc:
                    self._log.info("playback.resume_failed", reason=exc.reason)
                    await self._play_from_queue(notify=False)
                    return
                self._log.info("playback.resumed", position_s=round(now.position_s, 3))
                if now.paused and self._player is not None:
                    self._player.pause()
                    self._machine.state = SessionState.PAUSED
                    self._check_listeners()
                await self._save()
            elif snapshot.queue:
                await self._play_from_queue(notify=False)
            else:  # an idle 24/7 guild: back in its channel, waiting (no autoplay search)
                self._check_listeners()
                await self._save()
                self._log.info("session.rejoined_24_7")

    async def abandon(self) -> None:
        """The lease is lost: stop playing and drop the connection without leaving voice.

        Leaving would send opcode 4 with no channel, which kicks the new owner out of the
        channel it just joined; the voice state is already theirs. Nothing is saved: the
        state is the new owner's to write.
        """
        async with self._lock:
            if self.state in (SessionState.LEAVING, SessionState.CLOSED):
                return
            self._machine.state = SessionState.LEAVING
            self._idle.disarm()
            self._halt()
            voice, self._voice = self._voice, None
            if voice is not None:
                await drop_locally(voice)
            self._machine.state = SessionState.CLOSED
            self._log.warning("session.abandoned", reason="lease_lost")
            self._hooks.closed(self)

    async def leave_if_unused(self) -> None:
        """Leave again when a join turned out to be for nothing (e.g. the link was dead)."""
        async with self._lock:
            if self.state in (SessionState.IDLE, SessionState.CONNECTING) and not self._queue:
                await self._close_locked("unused", keep_snapshot=False)

    # --- idleness and leaving --------------------------------------------------------------
    def _check_listeners(self) -> None:
        """Idle when nothing plays or nobody listens; otherwise not."""
        voice = self._voice
        alone = voice is not None and listeners(voice.channel, self._bot_id) == 0
        if self._settings.stay_24_7 or (self.state is SessionState.PLAYING and not alone):
            self._idle.disarm()
        else:
            self._idle.arm()

    def _idle_expired(self) -> None:
        self._tasks.spawn(self._leave_idle())

    async def _leave_idle(self) -> None:
        async with self._lock:
            if self.state in INACTIVE or self._settings.stay_24_7:
                return
            voice = self._voice
            alone = voice is None or listeners(voice.channel, self._bot_id) == 0
            if self.state is SessionState.PLAYING and not alone:
                return
            await self._close_locked("idle", keep_snapshot=False)
        minutes = max(1, round(self._idle.delay_s / 60))
        await self._reporter.notify(
            self.text_channel_id, f"Left the voice channel after {minutes} min of inactivity."
        )

    async def _close_locked(self, reason: str, *, keep_snapshot: bool, forget: bool = True) -> None:
        """Leave voice and end the session (lock held); forget=False leaves the store alone."""
        if self.state in (SessionState.LEAVING, SessionState.CLOSED):
            return
        if keep_snapshot:
            await self._save()
        else:  # on purpose (stop, leave, idle): the player's buttons would do nothing now
            last = self._current.item if self._current else None
            self._card.finish(finished_body(last, title=STOPPED if reason == "stopped" else LEFT))
        self._machine.state = SessionState.LEAVING
        self._idle.disarm()
        self._halt()
        voice, self._voice = self._voice, None
        if voice is not None:
            # disconnect() waits for Discord to confirm we left; after a kick that confirmation
            # already came (and went), so don't wait long for it then.
            timeout_s = 10.0 if voice.is_connected() else 2.0
            try:
                await asyncio.wait_for(voice.disconnect(force=True), timeout=timeout_s)
            except (TimeoutError, discord.ClientException, OSError) as exc:
                self._log.warning("session.disconnect_failed", error=type(exc).__name__)
        if not keep_snapshot and forget:
            await self._store.delete(self.guild_id)
        self._machine.state = SessionState.CLOSED
        self._log.info("session.closed", reason=reason)
        self._hooks.closed(self)

    async def _save(self) -> None:
        await self._store.save(self.snapshot())
        self._refresh_card()

    async def wait_background(self) -> None:
        """Wait for this session's background tasks (shutdown, tests)."""
        await self._tasks.wait()
