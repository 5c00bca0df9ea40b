"""The front door's view of the state store, opened lazily.

Importing shared.state pulls in aiobotocore (~0.25 s): PING and /play never need the store,
so it is imported and opened on the first command that does (/queue, /settings, …). Errors
are translated here into StoreDown, so command modules never import shared.state themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from shared.settings import Settings
    from shared.state import GuildSettings, GuildState, Playlist, QueuedTrack, StateStore

log = structlog.get_logger(__name__)

# Settings saves race with the worker's queue saves: re-read and re-apply a few times.
_SAVE_ATTEMPTS = 4


class StoreDown(RuntimeError):
    """The store could not be read or written now; the user is asked to try again."""


class FrontDoorStore:
    """The reads and the few writes the front door makes, over a StateStore opened on first use."""

    def __init__(self, opener: Callable[[], StateStore], *, timeout_s: float = 1.5) -> None:
        self._opener = opener
        # The SDK retries a dead endpoint for seconds; Discord wants its answer within 3.
        self._timeout_s = timeout_s
        self._store: StateStore | None = None
        self._open_lock = asyncio.Lock()

    async def _open(self) -> StateStore:
        if self._store is None:
            async with self._open_lock:
                if self._store is None:
                    # The first open imports shared.state (~0.25 s): off the event loop.
                    self._store = await asyncio.to_thread(self._opener)
        return self._store

    async def _run(self, operation: str, call: Callable[[StateStore], Any]) -> Any:
        from shared.state import StoreUnavailable  # noqa: PLC0415 - lazy, see module doc

        # Opening (an import and a constructor, CPU only) is not counted: on a small Lambda it
        # can take most of a second once, and no retry would make it faster.
        store = await self._open()
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call(store)
        except (StoreUnavailable, TimeoutError) as exc:
            log.warning(
                "interaction.store_unavailable", operation=operation, error=type(exc).__name__
            )
            raise StoreDown(operation) from None

    async def guild(self, guild_id: str) -> GuildState | None:
        """The guild's state with its latest position, or None if it never played."""
        state: GuildState | None = await self._run("get_guild", lambda s: s.get_guild(guild_id))
        return state

    async def guild_settings(self, guild_id: str) -> GuildSettings:
        """The guild's settings (defaults when it has no state yet)."""
        from shared.state import GuildSettings  # noqa: PLC0415

        state = await self.guild(guild_id)
        return state.settings if state is not None else GuildSettings()

    async def update_settings(self, guild_id: str, changes: dict[str, Any]) -> GuildSettings:
        """Apply validated changes to the guild's settings; retried on a concurrent save."""
        from shared.state import GuildSettings, GuildState, StaleState  # noqa: PLC0415

        for _ in range(_SAVE_ATTEMPTS):  # each call is bounded by _run's timeout
            state = await self.guild(guild_id) or GuildState(guild_id=guild_id)
            merged = GuildSettings.model_validate({**state.settings.model_dump(), **changes})
            changed = state.model_copy(update={"settings": merged})
            try:
                await self._run("save_guild", _saver(changed))
            except StaleState:
                await asyncio.sleep(0)
                continue
            return merged
        log.warning("interaction.settings_contended", guild_id=guild_id)
        raise StoreDown("save_guild")

    async def playlist_names(self, guild_id: str) -> list[str]:
        """The guild's saved playlists, sorted."""
        names: list[str] = await self._run("list_playlists", lambda s: s.list_playlists(guild_id))
        return names

    async def playlist(self, guild_id: str, name: str) -> Playlist | None:
        """One playlist by (case-insensitive) name."""
        found: Playlist | None = await self._run(
            "get_playlist", lambda s: s.get_playlist(guild_id, name)
        )
        return found

    async def save_playlist(
        self,
        guild_id: str,
        name: str,
        tracks: tuple[QueuedTrack, ...],
        *,
        created_by: str,
        only_creator: bool = False,
    ) -> bool:
        """Save (or replace) a playlist; at most the store's queue bound of tracks.

        only_creator: only if the name is free or the stored one is created_by's (one
        conditional write); False when it was not saved.
        """
        from shared.state import Playlist  # noqa: PLC0415

        playlist = Playlist(guild_id=guild_id, name=name, tracks=tracks, created_by=created_by)
        saved: bool = await self._run(
            "save_playlist", lambda s: s.save_playlist(playlist, only_creator=only_creator)
        )
        return saved

    async def delete_playlist(self, guild_id: str, name: str) -> bool:
        """Delete a playlist; False if there was none."""
        deleted: bool = await self._run(
            "delete_playlist", lambda s: s.delete_playlist(guild_id, name)
        )
        return deleted

    async def aclose(self) -> None:
        """Close the store if it was ever opened."""
        store, self._store = self._store, None
        if store is not None:
            await store.aclose()


def _saver(state: GuildState) -> Callable[[StateStore], Any]:
    def save(store: StateStore) -> Any:
        return store.save_guild(state, expected_version=state.version)

    return save


def open_front_door_store(settings: Settings) -> FrontDoorStore:
    """The store settings ask for (DynamoDB table or SQLite file), opened on first use.

    Each call is bounded by STORE_TIMEOUT_S.
    """

    def opener() -> StateStore:
        from shared.state import open_state_store  # noqa: PLC0415

        return open_state_store(settings)

    return FrontDoorStore(opener, timeout_s=settings.store_timeout_s)
