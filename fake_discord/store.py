"""Messages per channel and registered application commands."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class MessageStore:
    """Messages per channel, in creation order; the dicts are MessageResponse payloads."""

    def __init__(self) -> None:
        self._by_channel: dict[str, dict[str, JSON]] = {}

    def add(self, message: JSON) -> JSON:
        """Store a new message."""
        self._by_channel.setdefault(message["channel_id"], {})[message["id"]] = message
        return message

    def get(self, channel_id: str, message_id: str) -> JSON | None:
        """A message, or None."""
        return self._by_channel.get(channel_id, {}).get(message_id)

    def delete(self, channel_id: str, message_id: str) -> bool:
        """Remove a message; False when there was none."""
        return self._by_channel.get(channel_id, {}).pop(message_id, None) is not None

    def list(self, channel_id: str) -> list[JSON]:
        """Messages of a channel, oldest first."""
        return list(self._by_channel.get(channel_id, {}).values())


class CommandStore:
    """Application commands per scope: None for global, else a guild id."""

    def __init__(self) -> None:
        self._scopes: dict[str | None, dict[str, JSON]] = {}
        self.overwrites = 0

    def overwrite(self, scope: str | None, commands: list[JSON]) -> None:
        """Replace every command of a scope (bulk overwrite)."""
        self._scopes[scope] = {c["name"]: c for c in commands}
        self.overwrites += 1

    def list(self, scope: str | None) -> list[JSON]:
        """Commands of one scope."""
        return list(self._scopes.get(scope, {}).values())

    def find(self, name: str, guild_id: str | None) -> JSON | None:
        """The command an interaction would invoke: guild scope first, then global."""
        for scope in (guild_id, None):
            command = self._scopes.get(scope, {}).get(name)
            if command is not None:
                return command
        return None

    def existing_id(self, scope: str | None, name: str) -> str | None:
        """The id a command keeps across overwrites."""
        command = self._scopes.get(scope, {}).get(name)
        return None if command is None else str(command["id"])
