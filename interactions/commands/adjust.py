"""Player commands with arguments (volume, seek, loop, remove, move, skipto, autoplay, 247, …):
option parsing.

Turns a command's options into a validated `shared.jobs` player command, with the precise
messages users get; commands/playback.py enqueues it as a PlayerCommandJob. A command is
registered only once the worker handles it (shared.jobs.PLAYER_COMMANDS); until then the router
answers it with "not available yet".
"""

from __future__ import annotations

from interactions.context import Interaction
from interactions.options import (
    parse_index,
    parse_loop,
    parse_switch,
    parse_time,
    parse_volume,
)
from interactions.validation import InvalidOption
from shared.jobs import (
    FilterCommand,
    IndexCommand,
    LoopCommand,
    MoveCommand,
    PlainCommand,
    SeekCommand,
    ToggleCommand,
    VolumeCommand,
)

PlayerCommand = (
    VolumeCommand
    | SeekCommand
    | LoopCommand
    | IndexCommand
    | MoveCommand
    | PlainCommand
    | FilterCommand
    | ToggleCommand
)
FILTER_PRESETS = ("none", "bassboost", "nightcore", "vaporwave", "karaoke", "8d")


def player_command(interaction: Interaction, *, queue_length: int | None = None) -> PlayerCommand:
    """The validated command for /volume, /seek, /loop, …; InvalidOption says what to fix.

    queue_length, when known (from the store), refuses positions past the end up front.
    """
    name = interaction.command or ""
    options = interaction.options
    if name == "volume":
        return VolumeCommand(percent=parse_volume(options.get("percent")))
    if name == "seek":
        return SeekCommand(position_s=parse_time(options.get("position"), what="position"))
    if name == "loop":
        return LoopCommand(mode=parse_loop(options.get("mode")))
    if name in ("remove", "skipto"):
        index = parse_index(options.get("position"), length=queue_length)
        return IndexCommand(name=name, index=index)
    if name == "move":
        source = parse_index(options.get("from"), name="from", length=queue_length)
        target = parse_index(options.get("to"), name="to", length=queue_length)
        if source == target:
            raise InvalidOption("That track is already there.")
        return MoveCommand(from_index=source, to_index=target)
    if name in ("shuffle", "clear", "previous"):
        return PlainCommand(name=name)
    if name == "filter":
        preset = options.get("preset")
        if preset not in FILTER_PRESETS:
            raise InvalidOption(f"Pick a filter: {', '.join(FILTER_PRESETS)}.")
        return FilterCommand(preset=preset)
    if name in ("autoplay", "247"):
        label = "Autoplay" if name == "autoplay" else "24/7"
        return ToggleCommand(name=name, enabled=parse_switch(options.get("mode"), name=label))
    raise InvalidOption("I don't know that command. Try /help.")
