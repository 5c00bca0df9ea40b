"""/search query: the worker offers the top results in a select menu; a choice plays it.

The command is deferred ephemerally (results are for the one who searched) and a SearchJob
queued; the worker edits that message into a string select (custom_id `search:<job id>`,
option values the results' links, see voice_worker/search.py). Choosing an option is a
component interaction handled here: its value is checked like any link typed into /play (a
client can send any value), a PlayJob is queued, and the message is replaced at once by
"Queued **title**." without the menu; the worker then edits it with what happened.
"""

from __future__ import annotations

import time

import structlog

from interactions import responses
from interactions.commands import display
from interactions.commands.base import Reply, Services
from interactions.commands.enqueue import enqueue_and_wake, job_origin
from interactions.context import Interaction
from interactions.validation import InvalidOption, validate_query
from shared.jobs import PlayJob, SearchJob

log = structlog.get_logger(__name__)

COMPONENT_PREFIX = "search:"
WHAT_TO_SEARCH = "Tell me what to search for: a few words, like a song name."
LINK_GIVEN = "That's a link: use /play to play it. /search takes words."
BAD_CHOICE = "I can't play that choice. Try /search again."
RESULTS_COMING = "Starting a music player for this server: your results come in about a minute."
MUSIC_COMING = "Starting a music player for this server: the music begins in about a minute."


async def search(services: Services, interaction: Interaction) -> Reply:
    """/search: check the words, queue a SearchJob, defer (ephemerally)."""
    raw = interaction.options.get("query")
    if not isinstance(raw, str) or not raw.strip():
        return Reply(responses.ephemeral(WHAT_TO_SEARCH), "invalid_option")
    try:
        query = validate_query(
            raw,
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption as exc:
        return Reply(responses.ephemeral(str(exc)), "invalid_option")
    if query.is_url:
        return Reply(responses.ephemeral(LINK_GIVEN), "invalid_option")
    job = SearchJob(**job_origin(interaction), query=query.text)
    deferred = Reply(responses.deferred_message(ephemeral=True), "enqueued")
    # A search needs a worker as much as /play does: wake one, answering privately.
    return await enqueue_and_wake(
        services,
        job,
        deferred,
        started=time.monotonic(),
        waking=responses.ephemeral(RESULTS_COMING),
    )


async def choose(services: Services, interaction: Interaction) -> Reply:
    """A choice in the results menu: play that link (checked again), replace the menu."""
    started = time.monotonic()
    if len(interaction.values) != 1:
        return Reply(responses.ephemeral(BAD_CHOICE), "invalid_option")
    try:
        query = validate_query(
            interaction.values[0],
            max_length=services.max_query_length,
            allow_private=services.allow_private_sources,
        )
    except InvalidOption:
        query = None
    if query is None or not query.is_url:
        log.info("search.choice_refused", **interaction.log_fields())
        return Reply(responses.ephemeral(BAD_CHOICE), "invalid_option")
    job = PlayJob(**job_origin(interaction), query=query.text)
    label = interaction.value_labels[0] if interaction.value_labels else ""
    title = display.escape(responses.truncate(label or query.text, 100))
    # Type 7: the menu's message becomes the answer; the worker edits it (@original) later.
    queued = Reply(responses.update_content(f"Queued **{title}**.", components=[]), "enqueued")
    waking = responses.update_content(f"Queued **{title}**. {MUSIC_COMING}", components=[])
    return await enqueue_and_wake(services, job, queued, started=started, waking=waking)


COMMANDS_HANDLED = {"search": search}
