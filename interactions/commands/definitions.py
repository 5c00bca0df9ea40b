"""The slash commands, defined once as data: registration, help and routing all read this.

The payload is exactly what `PUT /applications/{id}/commands` takes (Discord's bulk overwrite).
"""

from __future__ import annotations

import copy
from typing import Any, Final

# Guild installs, used in guilds only: a user-installed app has no bot in the guild to join voice.
GUILD_INSTALL: Final = 0
GUILD_CONTEXT: Final = 0
CHAT_INPUT: Final = 1
STRING: Final = 3
BOOLEAN: Final = 5

# Placeholder replaced by settings.max_query_length when the payload is built.
_QUERY_MAX_LENGTH = "max_query_length"

COMMANDS: Final[tuple[dict[str, Any], ...]] = (
    {
        "name": "play",
        "description": "Play a song or add it to the queue (a search or an http(s) link).",
        "options": [
            {
                "type": STRING,
                "name": "query",
                "description": "What to play: song name, or a link",
                "required": True,
                "autocomplete": True,
                "max_length": _QUERY_MAX_LENGTH,
            },
            {
                "type": BOOLEAN,
                "name": "next",
                "description": "Put it at the front of the queue instead of the end",
                "required": False,
            },
        ],
    },
    {"name": "skip", "description": "Skip the current track."},
    {"name": "stop", "description": "Stop playing and clear the queue."},
    {"name": "pause", "description": "Pause playback."},
    {"name": "resume", "description": "Resume paused playback."},
    {"name": "leave", "description": "Stop and leave the voice channel."},
    {"name": "queue", "description": "Show what's queued in this server."},
    {"name": "nowplaying", "description": "Show the track playing now."},
    {"name": "help", "description": "List the music commands."},
)

COMMAND_NAMES: Final[frozenset[str]] = frozenset(command["name"] for command in COMMANDS)


def bulk_overwrite_payload(*, max_query_length: int) -> list[dict[str, Any]]:
    """The JSON body for Discord's bulk overwrite of the application's commands."""
    payload: list[dict[str, Any]] = []
    for command in COMMANDS:
        item = copy.deepcopy(command)
        for option in item.get("options", []):
            if option.get("max_length") == _QUERY_MAX_LENGTH:
                option["max_length"] = max_query_length
        payload.append(
            {
                "type": CHAT_INPUT,
                **item,
                "integration_types": [GUILD_INSTALL],
                "contexts": [GUILD_CONTEXT],
            }
        )
    return payload


def usage(command: dict[str, Any]) -> str:
    """`/play <query> [next]`-style usage line for the help embed."""
    parts = [f"/{command['name']}"]
    for option in command.get("options", []):
        parts.append(f"<{option['name']}>" if option.get("required") else f"[{option['name']}]")
    return " ".join(parts)
