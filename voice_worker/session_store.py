"""Where a session's snapshot goes after every change: the worker's seam to persistence.

The in-memory implementation serves tests; ``durable_store.DurableSessionStore`` writes to the
durable StateStore (DynamoDB / SQLite), so the session never learns which backend it talks to.
"""

from __future__ import annotations

from typing import Protocol

from voice_worker.models import GuildSnapshot, PlayerSettings


class SessionStore(Protocol):
    """Save, load and forget a guild's snapshot."""

    async def save(self, snapshot: GuildSnapshot) -> None:
        """Persist the snapshot, replacing the previous one for that guild."""

    async def save_position(self, snapshot: GuildSnapshot) -> None:
        """Record only the playback position of the snapshot's track (frequent, cheap)."""

    async def save_player(self, guild_id: str, player: PlayerSettings) -> None:
        """Persist the guild's player settings (loop, volume, filter), leaving the others."""

    async def load(self, guild_id: str) -> GuildSnapshot | None:
        """The last saved snapshot of a guild, if any."""

    async def delete(self, guild_id: str) -> None:
        """Forget a guild (it left voice on purpose)."""


class InMemorySessionStore:
    """A SessionStore in a dict: survives nothing, costs nothing."""

    def __init__(self) -> None:
        self._snapshots: dict[str, GuildSnapshot] = {}

    async def save(self, snapshot: GuildSnapshot) -> None:
        """Keep the snapshot."""
        self._snapshots[snapshot.guild_id] = snapshot

    async def save_position(self, snapshot: GuildSnapshot) -> None:
        """Keep the snapshot (a position is just a newer snapshot here)."""
        self._snapshots[snapshot.guild_id] = snapshot

    async def save_player(self, guild_id: str, player: PlayerSettings) -> None:
        """Keep the settings in the guild's snapshot."""
        kept = self._snapshots.get(guild_id)
        if kept is not None:
            self._snapshots[guild_id] = kept.model_copy(update={"player": player})

    async def load(self, guild_id: str) -> GuildSnapshot | None:
        """Return the kept snapshot."""
        return self._snapshots.get(guild_id)

    async def delete(self, guild_id: str) -> None:
        """Drop the snapshot."""
        self._snapshots.pop(guild_id, None)
