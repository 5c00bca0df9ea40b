"""Commands that need the guild's voice worker: build a job, enqueue it, then defer.

The job is on the queue before Discord gets its answer, so a deferred "thinking…" message
always has a job behind it: if enqueueing fails, the user is told at once instead of watching
a spinner that never ends.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal, TypedDict

import structlog

from interactions import responses
from interactions.commands.adjust import player_command
from interactions.commands.base import Reply, Services
from interactions.context import Interaction
from interactions.validation import InvalidOption, validate_query
from shared.jobs import (
    PLAYER_COMMANDS,
    AnyJob,
    ControlJob,
    PlayerCommandJob,
    PlayJob,
    Requester,
)
from shared.queue.base import QueueUnavailable

log = structlog.get_logger(__name__)

ControlKind = Literal["skip", "stop", "pause", "resume", "leave"]
CONTROL_KINDS: frozenset[str] = frozenset({"skip", "stop", "pause", "resume", "leave"})
COMPONENT_PREFIX = "player:"
QUEUE_DOWN = "Couldn't reach the music player, please try again."
UNKNOWN_BUTTON = "That button doesn't do anything any more."
PLAYER_STARTING = (
    "Starting a music player for this server: the music begins in about a minute. "
    "Your request is queued."
)
# Discord's answer deadline is 3 s after it sent the interaction; waking must end before this
# (counted from when the command began here) or be skipped.
_ANSWER_BY_S = 2.6


async def _enqueue(services: Services, job: AnyJob, deferred: Reply) -> Reply:
    try:
        # asyncio.timeout rather than wait_for: same bound, without a task per send.
        async with asyncio.timeout(services.enqueue_timeout_s):
            await services.queue.send(job)
    except (QueueUnavailable, TimeoutError) as exc:
        log.warning("interaction.enqueue_failed", error=type(exc).__name__, **job.log_fields())
        return Reply(responses.ephemeral(QUEUE_DOWN), "enqueue_failed")
    return deferred


class JobOrigin(TypedDict):
    """The fields every job kind shares, taken from the interaction."""

    job_id: str
    guild_id: str
    channel_id: str
    application_id: str
    interaction_token: str
    requester: Requester


def _job_origin(interaction: Interaction) -> JobOrigin:
    """Where a job comes from and whom to answer: the fields every job kind shares."""
    assert interaction.guild_id is not None and interaction.channel_id is not None
    return JobOrigin(
        job_id=interaction.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        application_id=interaction.application_id,
        interaction_token=interaction.token,
        requester=interaction.requester(),
    )


def _control_job(interaction: Interaction, kind: ControlKind) -> ControlJob:
    return ControlJob(**_job_origin(interaction), kind=kind)


async def play(services: Services, interaction: Interaction) -> Reply:
    """/play: validate the query, enqueue a PlayJob, wake a worker if none runs, then defer."""
    started = time.monotonic()
    try:
        query = validate_query(
            interaction.options.get("query"),
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    job = PlayJob(
        **_job_origin(interaction),
        query=query.text,
        play_next=interaction.options.get("next") is True,
    )
    reply = await _enqueue(services, job, Reply(responses.deferred_message(), "enqueued"))
    if services.waker is None or reply.outcome != "enqueued":
        return reply
    budget_s = min(services.wake_timeout_s, _ANSWER_BY_S - (time.monotonic() - started))
    if budget_s <= 0:
        log.warning("workers.wake_skipped", reason="no_time_left", **job.log_fields())
        return reply
    outcome = await services.waker.after_enqueue(guild_id=job.guild_id, timeout_s=budget_s)
    if outcome.player_starting:
        # A public message instead of "thinking…": the worker edits it (@original) as it
        # would have edited the deferred one, once it has started.
        return Reply(responses.message(PLAYER_STARTING), "enqueued_waking")
    return reply


async def control(services: Services, interaction: Interaction) -> Reply:
    """/skip, /stop, /pause, /resume, /leave: enqueue the control for the worker and defer."""
    kind = interaction.command or ""
    if kind not in CONTROL_KINDS:
        return Reply(responses.ephemeral("I don't know that command."), "unknown_command")
    job = _control_job(interaction, kind)  # type: ignore[arg-type]
    return await _enqueue(services, job, Reply(responses.deferred_message(), "enqueued"))


async def player(services: Services, interaction: Interaction) -> Reply:
    """/loop, /volume, /skipto, …: check the options, enqueue a PlayerCommandJob and defer."""
    if (interaction.command or "") not in PLAYER_COMMANDS:
        return Reply(responses.ephemeral("I don't know that command."), "unknown_command")
    try:
        command = player_command(interaction)
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    job = PlayerCommandJob(**_job_origin(interaction), command=command)
    return await _enqueue(services, job, Reply(responses.deferred_message(), "enqueued"))


async def component(services: Services, interaction: Interaction) -> Reply:
    """A player button (custom_id `player:<control>`): enqueue and acknowledge silently."""
    custom_id = interaction.custom_id or ""
    kind = custom_id.removeprefix(COMPONENT_PREFIX)
    if not custom_id.startswith(COMPONENT_PREFIX) or kind not in CONTROL_KINDS:
        return Reply(responses.ephemeral(UNKNOWN_BUTTON), "unknown")
    job = _control_job(interaction, kind)  # type: ignore[arg-type]
    # Type 6: the button's message stays as it is until the worker edits it.
    return await _enqueue(services, job, Reply(responses.deferred_update(), "enqueued"))


async def autocomplete_query(services: Services, interaction: Interaction) -> Reply:
    """Suggestions while typing /play's query: echo what was typed; never enqueues."""
    if interaction.focused != "query":
        return Reply(responses.autocomplete([]), "autocomplete")
    try:
        query = validate_query(
            interaction.options.get("query"),
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption:
        return Reply(responses.autocomplete([]), "autocomplete")
    name = f"Play link: {query.text}" if query.is_url else query.text
    return Reply(responses.autocomplete([(name, query.text)]), "autocomplete")


COMMANDS_HANDLED = {
    "play": play,
    **{kind: control for kind in sorted(CONTROL_KINDS)},
    **{name: player for name in sorted(PLAYER_COMMANDS)},
}
AUTOCOMPLETE = {"play": autocomplete_query}
