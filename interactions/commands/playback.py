"""Commands that need the guild's voice worker: build a job, enqueue it, then defer.

The job is on the queue before Discord gets its answer, so a deferred "thinking…" message
always has a job behind it: if enqueueing fails, the user is told at once instead of watching
a spinner that never ends.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import structlog

from interactions import responses
from interactions.commands import display, playlists
from interactions.commands.adjust import player_command
from interactions.commands.base import Reply, Services
from interactions.commands.enqueue import (
    PLAYER_STARTING,
    QUEUE_DOWN,
    enqueue,
    enqueue_and_wake,
    job_fields,
    job_origin,
)
from interactions.context import Interaction
from interactions.store_access import StoreDown
from interactions.validation import InvalidOption, clean_text, validate_query
from shared.jobs import (
    PLAYER_COMMANDS,
    AnyJob,
    ControlJob,
    LoopCommand,
    PlainCommand,
    PlayerCommandJob,
    PlayJob,
)

log = structlog.get_logger(__name__)

__all__ = ["PLAYER_STARTING", "QUEUE_DOWN"]  # re-exported: their home is enqueue.py

ControlKind = Literal["skip", "stop", "pause", "resume", "leave"]
CONTROL_KINDS: frozenset[str] = frozenset({"skip", "stop", "pause", "resume", "leave"})
COMPONENT_PREFIX = "player:"
UNKNOWN_BUTTON = "That button doesn't do anything any more."
RECENT_SUGGESTIONS = 12
PLAYLIST_SUGGESTIONS = 12


def _control_job(interaction: Interaction, kind: ControlKind) -> ControlJob:
    return ControlJob(**job_origin(interaction), kind=kind)


async def play(services: Services, interaction: Interaction) -> Reply:
    """/play: validate the query, enqueue a PlayJob, wake a worker if none runs, then defer.

    `playlist:<name>` (what autocomplete offers for a saved playlist) loads that playlist.
    """
    started = time.monotonic()
    raw = interaction.options.get("query")
    if isinstance(raw, str) and raw.strip().casefold().startswith(playlists.PLAYLIST_PREFIX):
        name = raw.strip()[len(playlists.PLAYLIST_PREFIX) :]
        return await playlists.load_named(services, interaction, name, started=started)
    try:
        query = validate_query(
            raw,
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    fields = job_fields(interaction)
    fields["query"] = query.text
    fields["play_next"] = interaction.options.get("next") is True
    job = PlayJob.model_validate(fields)  # fully validated, the requester included
    deferred = Reply(responses.deferred_message(), "enqueued")
    return await enqueue_and_wake(services, job, deferred, started=started)


async def control(services: Services, interaction: Interaction) -> Reply:
    """/skip, /stop, /pause, /resume, /leave: enqueue the control for the worker and defer."""
    kind = interaction.command or ""
    if kind not in CONTROL_KINDS:
        return Reply(responses.ephemeral("I don't know that command."), "unknown_command")
    job = _control_job(interaction, kind)  # type: ignore[arg-type]
    return await enqueue(services, job, Reply(responses.deferred_message(), "enqueued"))


async def player(services: Services, interaction: Interaction) -> Reply:
    """/loop, /volume, /skipto, …: check the options, enqueue a PlayerCommandJob and defer."""
    if (interaction.command or "") not in PLAYER_COMMANDS:
        return Reply(responses.ephemeral("I don't know that command."), "unknown_command")
    try:
        command = player_command(interaction)
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    job = PlayerCommandJob(**job_origin(interaction), command=command)
    return await enqueue(services, job, Reply(responses.deferred_message(), "enqueued"))


def _button_job(interaction: Interaction, action: str) -> AnyJob | None:
    """The job a player button stands for (`skip`, `loop:track`, `shuffle`…), or None."""
    kind, _, argument = action.partition(":")
    if kind in CONTROL_KINDS and not argument:
        return _control_job(interaction, kind)  # type: ignore[arg-type]
    if kind == "loop" and argument in ("off", "track", "queue"):
        command = LoopCommand(mode=argument)
        return PlayerCommandJob(**job_origin(interaction), command=command)
    if kind == "shuffle" and not argument:
        shuffle = PlainCommand(name="shuffle")
        return PlayerCommandJob(**job_origin(interaction), command=shuffle)
    return None


async def component(services: Services, interaction: Interaction) -> Reply:
    """A player button (custom_id `player:<control>`, `player:loop:<mode>`, `player:shuffle`).

    Answered with a deferred EPHEMERAL message, not a deferred update: the worker's answer
    ("Paused.", "Nothing is playing.") then goes to the presser alone, and never replaces or
    deletes the shared now-playing message the button sits on (the worker edits that itself).
    """
    custom_id = interaction.custom_id or ""
    job = None
    if custom_id.startswith(COMPONENT_PREFIX):
        job = _button_job(interaction, custom_id.removeprefix(COMPONENT_PREFIX))
    if job is None:
        return Reply(responses.ephemeral(UNKNOWN_BUTTON), "unknown")
    deferred = Reply(responses.deferred_message(ephemeral=True), "enqueued")
    return await enqueue(services, job, deferred)


def _valid_value(services: Services, value: str) -> bool:
    """Whether /play would take ``value`` as its query."""
    try:
        validate_query(
            value,
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption:
        return False
    return True


async def _stored_choices(services: Services, guild_id: str, typed: str) -> list[tuple[str, str]]:
    """Recent tracks of the guild and its saved playlists matching what was typed."""
    assert services.store is not None
    # Both reads at once, each bounded by STORE_TIMEOUT_S (< Discord's 3 s for suggestions).
    state, names = await asyncio.gather(
        services.store.guild(guild_id), services.store.playlist_names(guild_id)
    )
    needle = typed.casefold()
    history = state.history if state is not None else ()
    if needle.startswith(playlists.PLAYLIST_PREFIX):  # typing a playlist: only playlists
        needle, history = needle.removeprefix(playlists.PLAYLIST_PREFIX).strip(), ()
    choices: list[tuple[str, str]] = []
    seen: set[str] = set()
    for track in reversed(history):
        title = display.track_title(track)
        value = track.webpage_url if _valid_value(services, track.webpage_url) else title
        # A value is submitted as is, so one past Discord's limit can't be offered at all.
        too_long = len(value) > responses.MAX_CHOICE_VALUE
        if value in seen or too_long or not _valid_value(services, value):
            continue
        if needle not in title.casefold() and needle not in value.casefold():
            continue
        seen.add(value)
        choices.append((f"Recent: {title} ({display.track_length(track)})", value))
        if len(choices) == RECENT_SUGGESTIONS:
            break
    matching = [name for name in names if needle in name.casefold()]
    values = [f"{playlists.PLAYLIST_PREFIX}{name}" for name in matching]
    offered = [
        (name, value)
        for name, value in zip(matching, values, strict=True)
        if len(value) <= responses.MAX_CHOICE_VALUE
    ]
    for name, value in offered[:PLAYLIST_SUGGESTIONS]:
        choices.append((f"Playlist: {name}", value))
    return choices


async def autocomplete_query(services: Services, interaction: Interaction) -> Reply:
    """Suggestions while typing /play's query; never enqueues.

    What was typed (or "Play link: …" for a link), then the guild's recent tracks and saved
    playlists that match it. When the store is slow or down: just the echo.
    """
    if interaction.focused != "query":
        return Reply(responses.autocomplete([]), "autocomplete")
    raw = interaction.options.get("query")
    typed = clean_text(raw) if isinstance(raw, str) else ""
    choices: list[tuple[str, str]] = []
    try:
        query = validate_query(
            raw,
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption:
        query = None
    if query is not None and not typed.casefold().startswith(playlists.PLAYLIST_PREFIX):
        # A link longer than a choice value may be gets no echo (responses.autocomplete drops
        # it): Discord submits the typed text anyway when the user sends without picking.
        choices.append((f"Play link: {query.text}" if query.is_url else query.text, query.text))
    if services.store is not None and interaction.guild_id is not None:
        try:
            stored = await _stored_choices(services, interaction.guild_id, typed)
        except StoreDown:
            log.info("autocomplete.store_skipped", guild_id=interaction.guild_id)
            stored = []
        echoed = {value for _, value in choices}
        choices += [choice for choice in stored if choice[1] not in echoed]
    return Reply(responses.autocomplete(choices), "autocomplete")


COMMANDS_HANDLED = {
    "play": play,
    **{kind: control for kind in sorted(CONTROL_KINDS)},
    **{name: player for name in sorted(PLAYER_COMMANDS)},
}
AUTOCOMPLETE = {"play": autocomplete_query}
