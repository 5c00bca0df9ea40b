"""What the parts of a guild session share: the state ``GuildSession`` holds, and the members
one part calls while another supplies them.

``GuildSession`` is put together from base classes, one concern each (player_commands.py,
guild_features.py, playback.py, player_display.py, voice_recovery.py). They all derive from
``SessionBase`` so that each declaration is written once, here, instead of once per part. A stub
below only tells the type checker the member exists, and never hides the real one: a class comes
before its bases in any MRO, so ``SessionBase`` comes after the session and every part, whatever
order the session lists them in. Keep it so: a part derives from ``SessionBase`` and declares
nothing of another part's itself (a stub there could shadow the real member, depending on the
order); what it needs and lacks is added here.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from voice_worker.models import PlayerSettings, QueuedTrack, SessionState, TrackQueue
from voice_worker.now_playing import NowPlayingCard
from voice_worker.player import Player, VoiceClientPlayer
from voice_worker.reporting import Reply, SessionReporter
from voice_worker.session_store import SessionStore
from voice_worker.sources.models import Track
from voice_worker.state import StateMachine
from voice_worker.tasks import BackgroundTasks, IdleTimer
from voice_worker.tracks import TrackSource
from voice_worker.votes import SkipVotes

if TYPE_CHECKING:
    # Type-only: autoplay.py imports player_commands.py (through track_limits.py), which
    # derives from this module; session.py is the module that puts the parts together.
    from voice_worker.autoplay import RelatedTracks
    from voice_worker.session import SessionConfig, SessionHooks


@dataclass
class CurrentTrack:
    """The queue entry on air and the resolved track it plays."""

    item: QueuedTrack
    track: Track


class SessionBase:
    """The session's state and the members its parts call across one another."""

    guild_id: str
    text_channel_id: str
    _bot_id: int
    _lock: asyncio.Lock
    _queue: TrackQueue
    _settings: PlayerSettings
    _history: deque[QueuedTrack]
    _rng: random.Random
    _current: CurrentTrack | None
    _voice: discord.VoiceClient | None
    _player: Player | None
    _generation: int
    _ttfa_from: dict[int, float]
    _sources: TrackSource
    _store: SessionStore
    _reporter: SessionReporter
    _hooks: SessionHooks
    _machine: StateMachine
    _tasks: BackgroundTasks
    _idle: IdleTimer
    _votes: SkipVotes
    _related: RelatedTracks
    _card: NowPlayingCard
    _announce_channel_id: str | None
    _config: SessionConfig
    _log: Any

    # --- supplied by GuildSession ----------------------------------------------------------
    @property
    def state(self) -> SessionState:
        """Where the session is in its life."""
        raise NotImplementedError

    async def _skip_locked(self, *, prefix: str = "") -> Reply:
        raise NotImplementedError

    def _apply_guild_bounds(self) -> None:
        raise NotImplementedError

    def _check_listeners(self) -> None:
        raise NotImplementedError

    async def _close_locked(self, reason: str, *, keep_snapshot: bool, forget: bool = True) -> None:
        raise NotImplementedError

    async def _save(self) -> None:
        raise NotImplementedError

    async def abandon(self) -> None:
        """Stop without leaving voice (the lease is lost)."""
        raise NotImplementedError

    def _new_player(self, voice: discord.VoiceClient) -> VoiceClientPlayer:
        raise NotImplementedError

    # --- supplied by TrackPlayback (playback.py) ---------------------------------------------
    async def _start(
        self,
        item: QueuedTrack,
        track: Track | None,
        *,
        since: float | None,
        start_at_s: float = 0.0,
    ) -> None:
        raise NotImplementedError

    def _halt(self) -> None:
        raise NotImplementedError

    async def _play_from_queue(self, *, notify: bool) -> QueuedTrack | None:
        raise NotImplementedError

    def _prefetch_next(self) -> None:
        raise NotImplementedError

    # --- supplied by PlayerCommands (player_commands.py) -------------------------------------
    async def _change_settings(self, settings: PlayerSettings) -> None:
        raise NotImplementedError

    def _retire(self) -> None:
        raise NotImplementedError

    async def _restart(self, current: CurrentTrack, position_s: float) -> None:
        raise NotImplementedError

    # --- supplied by GuildFeatures (guild_features.py) ---------------------------------------
    async def _refresh_settings(self) -> None:
        raise NotImplementedError

    def _autoplay_soon(self) -> bool:
        raise NotImplementedError

    # --- supplied by PlayerDisplay (player_display.py) ---------------------------------------
    def _refresh_card(self) -> None:
        raise NotImplementedError
