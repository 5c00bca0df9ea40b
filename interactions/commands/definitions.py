"""The slash commands, defined once as data: registration, help, routing and permissions read it.

`CommandSpec.payload` is exactly what `PUT /applications/{id}/commands` takes for the command
(Discord's bulk overwrite) minus the fields every command shares. A command that needs a
worker feature (`needs_worker`) is registered only once the worker handles that job
(`shared.jobs.WORKER_COMMANDS`), so users never see a command that cannot work.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from shared.jobs import WORKER_COMMANDS

# Guild installs, used in guilds only: a user-installed app has no bot in the guild to join voice.
GUILD_INSTALL: Final = 0
GUILD_CONTEXT: Final = 0
CHAT_INPUT: Final = 1
SUB_COMMAND: Final = 1
STRING: Final = 3
INTEGER: Final = 4
BOOLEAN: Final = 5
CHANNEL: Final = 7
ROLE: Final = 8
GUILD_TEXT: Final = 0
GUILD_ANNOUNCEMENT: Final = 5

# Placeholder replaced by settings.max_query_length when the payload is built.
_QUERY_MAX_LENGTH = "max_query_length"


class Access(StrEnum):
    """Who may use a command (checked from the member in the payload, docs/commands.md)."""

    EVERYONE = "everyone"
    DJ = "dj"  # the guild's DJ role, or Manage Server; everyone when no DJ role is set
    MANAGER = "manager"  # Manage Server (or Administrator)


@dataclass(frozen=True)
class CommandSpec:
    """One slash command: Discord's definition and our own rules for it."""

    payload: dict[str, Any]
    access: Access = Access.EVERYONE
    # Per subcommand, when it differs from `access`.
    subcommand_access: Mapping[str, Access] = field(default_factory=dict)
    # The worker job name this command needs; None for commands answered by the front door.
    needs_worker: str | None = None

    @property
    def name(self) -> str:
        """The command's name."""
        return str(self.payload["name"])

    @property
    def registered(self) -> bool:
        """Whether the command goes to Discord now (its worker side exists, or it needs none)."""
        return self.needs_worker is None or self.needs_worker in WORKER_COMMANDS

    def access_for(self, subcommand: str | None) -> Access:
        """The access rule of the command, or of one of its subcommands."""
        if subcommand is None:
            return self.access
        return self.subcommand_access.get(subcommand, self.access)


def _option(kind: int, name: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "description": description, **extra}


def _index(name: str, description: str) -> dict[str, Any]:
    return _option(INTEGER, name, description, required=True, min_value=1, max_value=2000)


def _choices(*values: str) -> list[dict[str, str]]:
    return [{"name": value, "value": value} for value in values]


def _query(description: str, **extra: Any) -> dict[str, Any]:
    return _option(
        STRING, "query", description, required=True, **extra, max_length=_QUERY_MAX_LENGTH
    )


def _duration(name: str, description: str, **extra: Any) -> dict[str, Any]:
    return _option(STRING, name, description, **extra, max_length=12)


def _playlist_subcommand(name: str, description: str) -> dict[str, Any]:
    playlist = _option(
        STRING, "name", "Playlist name", required=True, max_length=100, autocomplete=True
    )
    return _option(SUB_COMMAND, name, description, options=[playlist])


def _toggle(name: str, description: str) -> CommandSpec:
    """A DJ command that turns the worker feature of the same name on or off."""
    mode = _option(STRING, "mode", "on or off", required=True, choices=_choices("on", "off"))
    return CommandSpec(
        {"name": name, "description": description, "options": [mode]},
        access=Access.DJ,
        needs_worker=name,
    )


_SETTING_CHOICES = [
    {"name": label, "value": value}
    for label, value in (
        ("DJ role", "dj_role"),
        ("vote-skip share", "vote_skip"),
        ("max queue length", "max_queue"),
        ("max track length", "max_track_length"),
        ("default volume", "volume"),
        ("idle timeout", "idle_timeout"),
        ("announcement channel", "announce_channel"),
        ("loudness normalisation", "normalize"),
    )
]

COMMANDS: Final[tuple[CommandSpec, ...]] = (
    CommandSpec(
        {
            "name": "play",
            "description": "Play a song or add it to the queue (a search or an http(s) link).",
            "options": [
                _query("What to play: song name, or a link", autocomplete=True),
                _option(
                    BOOLEAN,
                    "next",
                    "Put it at the front of the queue instead of the end",
                    required=False,
                ),
            ],
        },
        needs_worker="play",
    ),
    CommandSpec(
        {
            "name": "search",
            "description": "Search for a song and pick one of the top results to queue.",
            "options": [_query("Words to search for")],
        },
        needs_worker="search",
    ),
    CommandSpec({"name": "skip", "description": "Skip the current track."}, needs_worker="skip"),
    CommandSpec(
        {"name": "stop", "description": "Stop playing and clear the queue."},
        access=Access.DJ,
        needs_worker="stop",
    ),
    CommandSpec({"name": "pause", "description": "Pause playback."}, needs_worker="pause"),
    CommandSpec(
        {"name": "resume", "description": "Resume paused playback."}, needs_worker="resume"
    ),
    CommandSpec(
        {"name": "leave", "description": "Stop and leave the voice channel."},
        access=Access.DJ,
        needs_worker="leave",
    ),
    CommandSpec(
        {
            "name": "queue",
            "description": "Show what's queued in this server.",
            "options": [
                _option(INTEGER, "page", "Which page (10 tracks each)", min_value=1, max_value=200)
            ],
        }
    ),
    CommandSpec({"name": "nowplaying", "description": "Show the track playing now."}),
    CommandSpec({"name": "history", "description": "Show the tracks played most recently."}),
    CommandSpec(
        {
            "name": "playlist",
            "description": "The server's saved playlists.",
            "options": [
                _option(SUB_COMMAND, "list", "List the saved playlists"),
                _playlist_subcommand("show", "Show the tracks of a playlist"),
                _playlist_subcommand(
                    "save", "Save the queue (with the track playing) as a playlist"
                ),
                _playlist_subcommand("load", "Add a saved playlist's tracks to the queue"),
                _playlist_subcommand("delete", "Delete a playlist (DJ or Manage Server)"),
            ],
        },
        subcommand_access={"delete": Access.DJ},
    ),
    CommandSpec(
        {
            "name": "settings",
            "description": "Show or change the music settings of this server.",
            "options": [
                _option(SUB_COMMAND, "show", "Show the current settings"),
                _option(
                    SUB_COMMAND,
                    "set",
                    "Change settings (Manage Server)",
                    options=[
                        _option(ROLE, "dj_role", "Role allowed to stop, clear and delete"),
                        _option(
                            INTEGER,
                            "vote_skip",
                            "Share of listeners needed to vote-skip, in percent",
                            min_value=1,
                            max_value=100,
                        ),
                        _option(
                            INTEGER,
                            "max_queue",
                            "Most tracks in the queue",
                            min_value=1,
                            max_value=2000,
                        ),
                        _duration("max_track_length", "Longest track allowed, as mm:ss or seconds"),
                        _option(
                            INTEGER, "volume", "Default volume (0-150)", min_value=0, max_value=150
                        ),
                        _duration(
                            "idle_timeout", "Leave after this long idle, as mm:ss or seconds"
                        ),
                        _option(
                            CHANNEL,
                            "announce_channel",
                            "Where to announce new tracks",
                            channel_types=[GUILD_TEXT, GUILD_ANNOUNCEMENT],
                        ),
                        _option(
                            BOOLEAN,
                            "normalize",
                            "Play quiet and loud tracks at a similar loudness",
                        ),
                    ],
                ),
                _option(
                    SUB_COMMAND,
                    "reset",
                    "Put one setting back to its default (Manage Server)",
                    options=[
                        _option(
                            STRING,
                            "setting",
                            "Which setting",
                            required=True,
                            choices=_SETTING_CHOICES,
                        )
                    ],
                ),
            ],
        },
        subcommand_access={"set": Access.MANAGER, "reset": Access.MANAGER},
    ),
    CommandSpec({"name": "help", "description": "List the music commands."}),
    # Defined now, registered once the worker handles them (see CommandSpec.registered).
    CommandSpec(
        {
            "name": "volume",
            "description": "Set the volume.",
            "options": [
                _option(INTEGER, "percent", "0-150", required=True, min_value=0, max_value=150)
            ],
        },
        needs_worker="volume",
    ),
    CommandSpec(
        {
            "name": "seek",
            "description": "Jump to a time in the current track.",
            "options": [_duration("position", "Where to, as mm:ss or seconds", required=True)],
        },
        needs_worker="seek",
    ),
    CommandSpec(
        {
            "name": "loop",
            "description": "Repeat the track, the queue, or nothing.",
            "options": [
                _option(
                    STRING,
                    "mode",
                    "off, track or queue",
                    required=True,
                    choices=_choices("off", "track", "queue"),
                )
            ],
        },
        needs_worker="loop",
    ),
    CommandSpec({"name": "shuffle", "description": "Shuffle the queue."}, needs_worker="shuffle"),
    CommandSpec(
        {
            "name": "remove",
            "description": "Remove a track from the queue.",
            "options": [_index("position", "Its place in /queue (1 = next)")],
        },
        needs_worker="remove",
    ),
    CommandSpec(
        {
            "name": "move",
            "description": "Move a track to another place in the queue.",
            "options": [
                _index("from", "Its place in /queue now"),
                _index("to", "Its new place"),
            ],
        },
        needs_worker="move",
    ),
    CommandSpec(
        {"name": "clear", "description": "Clear the queue (keeps the current track)."},
        access=Access.DJ,
        needs_worker="clear",
    ),
    CommandSpec(
        {
            "name": "skipto",
            "description": "Skip to a track in the queue.",
            "options": [_index("position", "Its place in /queue")],
        },
        needs_worker="skipto",
    ),
    CommandSpec(
        {"name": "previous", "description": "Play the previous track again."},
        needs_worker="previous",
    ),
    CommandSpec(
        {
            "name": "filter",
            "description": "Apply an audio filter.",
            "options": [
                _option(
                    STRING,
                    "preset",
                    "Which filter",
                    required=True,
                    choices=_choices(
                        "none", "bassboost", "nightcore", "vaporwave", "karaoke", "8d"
                    ),
                )
            ],
        },
        needs_worker="filter",
    ),
    _toggle("autoplay", "Play related tracks when the queue runs out."),
    _toggle("247", "Stay in the voice channel even when nothing is playing."),
)

SPECS: Final[Mapping[str, CommandSpec]] = {spec.name: spec for spec in COMMANDS}
COMMAND_NAMES: Final[frozenset[str]] = frozenset(SPECS)


def registered_commands() -> list[CommandSpec]:
    """The commands that go to Discord now, in definition order."""
    return [spec for spec in COMMANDS if spec.registered]


def bulk_overwrite_payload(*, max_query_length: int) -> list[dict[str, Any]]:
    """The JSON body for Discord's bulk overwrite of the application's commands."""
    payload: list[dict[str, Any]] = []
    for spec in registered_commands():
        item = copy.deepcopy(spec.payload)
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


def _option_usage(options: list[dict[str, Any]]) -> list[str]:
    return [
        f"<{option['name']}>" if option.get("required") else f"[{option['name']}]"
        for option in options
    ]


def usage(command: dict[str, Any]) -> str:
    """`/play <query> [next]`-style usage; subcommands as `/playlist list | show <name>`."""
    options: list[dict[str, Any]] = command.get("options", [])
    subcommands = [option for option in options if option["type"] == SUB_COMMAND]
    if not subcommands:
        return " ".join([f"/{command['name']}", *_option_usage(options)])
    variants = [
        " ".join([sub["name"], *_option_usage(sub.get("options", []))]) for sub in subcommands
    ]
    return f"/{command['name']} " + " | ".join(variants)
